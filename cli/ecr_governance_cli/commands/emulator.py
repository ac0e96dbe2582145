"""`ecr-governance emulator [--port N] [--seed]`: serve the embedded AWS emulator (moto) for --local runs."""

from __future__ import annotations

import argparse
import time

from ecr_governance.enforce.settings import load_standard_lifecycle_policy

from ecr_governance_cli.emulator import emulator_client, start_emulator
from ecr_governance_cli.sample_registry import seed_everything
from ecr_governance_cli.target import AwsTarget


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return port


def register(subparsers: argparse._SubParsersAction) -> None:
    emulator = subparsers.add_parser(
        "emulator",
        help="serve the embedded AWS emulator (moto) on 127.0.0.1 until Ctrl-C",
        description="Serve the embedded AWS emulator (moto in server mode) on 127.0.0.1, for --local.",
    )
    emulator.add_argument("--port", type=port_number, default=5000, help="TCP port to listen on (default 5000)")
    emulator.add_argument(
        "--seed",
        action="store_true",
        help="start with the demo's sample registry, so `--local audit` and every file in events/ show real work",
    )
    emulator.set_defaults(func=run)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    emulator = start_emulator(args.port)
    try:
        if args.seed:
            seed_everything(emulator_client(emulator, "ecr"), load_standard_lifecycle_policy(""))
        seeded = " with the sample registry" if args.seed else ""
        print(
            f"emulator listening on {emulator.endpoint_url}{seeded} (use --local or --endpoint-url); Ctrl-C stops it",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        emulator.stop()
