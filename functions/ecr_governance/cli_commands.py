"""`ecr-governance audit|enforce|invoke|emulator`."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    pass
