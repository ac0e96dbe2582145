"""`ecr-governance lifecycle validate|preview` (being built: see issue 3)."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    pass
