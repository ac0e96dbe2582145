"""`ecr-governance emulator`: serve the embedded AWS emulator (moto) for --local runs."""

from __future__ import annotations

import argparse
import time

from ecr_governance_cli.emulator import start_emulator
from ecr_governance_cli.target import AwsTarget


def register(subparsers: argparse._SubParsersAction) -> None:
    emulator = subparsers.add_parser("emulator", help="serve the embedded AWS emulator (moto) until Ctrl-C")
    emulator.add_argument("--port", type=int, default=5000)
    emulator.set_defaults(func=run)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    emulator = start_emulator(args.port)
    print(f"emulator listening on {emulator.endpoint_url} (use --local or --endpoint-url); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        emulator.stop()
