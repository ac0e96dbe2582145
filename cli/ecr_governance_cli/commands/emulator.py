"""`ecr-governance emulator [--port N] [--seed]`: serve the embedded AWS emulator (moto) for --local runs.

It listens where `--local` looks (ECR_GOVERNANCE_LOCAL_ENDPOINT's port, 5000 by default) unless --port says
otherwise, and seeds its sample registry in the region --local uses (`--region` picks another). It runs until
Ctrl-C (exit 130, as every command) or a termination signal (`kill`: exit 0).
"""

from __future__ import annotations

import argparse
import signal
import threading

from ecr_governance.enforce.settings import load_standard_lifecycle_policy

from ecr_governance_cli.emulator import EMULATOR_HOST, emulator_client, start_emulator
from ecr_governance_cli.exits import Exit
from ecr_governance_cli.output import add_output_options, emit
from ecr_governance_cli.parsing import whole_number
from ecr_governance_cli.sample_registry import seed_everything
from ecr_governance_cli.target import LOCAL_REGION, AwsTarget, local_port

port_number = whole_number(1, 65535, "a TCP port")


def register(subparsers: argparse._SubParsersAction) -> None:
    emulator = subparsers.add_parser(
        "emulator",
        help="serve the embedded AWS emulator (moto) on 127.0.0.1 until Ctrl-C",
        description=__doc__.split("\n\n", 1)[1],
    )
    emulator.add_argument(
        "--port",
        type=port_number,
        default=local_port(),
        help=f"TCP port to listen on (default {local_port()}: where --local looks)",
    )
    emulator.add_argument(
        "--host",
        default=EMULATOR_HOST,
        metavar="ADDRESS",
        help=f"address to listen on (default {EMULATOR_HOST}; 0.0.0.0 lets containers - sam local invoke - reach it, "
        "and anyone else who can reach this machine)",
    )
    emulator.add_argument(
        "--seed",
        action="store_true",
        help="start with the sample registry, so every example in the docs and every file in events/ does real work",
    )
    add_output_options(emulator, "one line saying where it listens, once it does")
    emulator.set_defaults(func=run)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    emulator = start_emulator(args.port, args.host)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # `kill`: a requested stop, not a failure
    try:
        region = target.region or LOCAL_REGION
        if args.seed:
            seed_everything(emulator_client(emulator, "ecr", region), load_standard_lifecycle_policy(""), region)
        document = {"endpointUrl": emulator.endpoint_url, "region": region, "seeded": args.seed}
        seeded = f" with the sample registry in {region}" if args.seed else ""
        line = f"emulator listening on {emulator.endpoint_url}{seeded} (use --local or --endpoint-url); Ctrl-C stops it"
        emit(args, document, lambda: line)
        print(end="", flush=True)
        while not stopped.wait(3600):
            pass
        return Exit.OK
    finally:
        emulator.stop()
