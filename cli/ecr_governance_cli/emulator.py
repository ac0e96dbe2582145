"""The embedded AWS emulator: moto in server mode on 127.0.0.1, for the demo, the tests and `--local`.

moto is a development dependency (it is not bundled into the Lambda functions), hence the late import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ecr_governance.aws.clients import make_client, make_session
from ecr_governance.errors import GovernanceError

EMULATOR_HOST = "127.0.0.1"
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class Emulator:
    server: Any
    endpoint_url: str

    def stop(self) -> None:
        self.server.stop()


def start_emulator(port: int = 0, host: str = EMULATOR_HOST) -> Emulator:
    """Start moto's threaded server; port 0 picks a free port. `host` is the address it listens on: loopback unless
    containers must reach it (0.0.0.0: then anyone who can reach this machine can)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        raise GovernanceError(
            "the embedded emulator needs moto[server]: run `make venv` or pip install moto[server]"
        ) from error
    # One access-log line per API call would drown the demo's output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if port:
        _refuse_a_busy_port(host, port)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    try:
        server.start()
    except OSError as error:
        raise GovernanceError(f"cannot start the emulator on {host}:{port}: {error.strerror}") from error
    _, bound_port = server.get_host_and_port()
    reachable = EMULATOR_HOST if host == "0.0.0.0" else host  # noqa: S104 - every address includes loopback
    return Emulator(server=server, endpoint_url=f"http://{reachable}:{bound_port}")


def _refuse_a_busy_port(host: str, port: int) -> None:
    """moto's server thread would print "Address already in use" and leave the caller waiting forever: check first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: only a listener is "busy"
        try:
            probe.bind((host, port))
        except OSError as error:
            raise GovernanceError(
                f"cannot start the emulator on {host}:{port}: {error.strerror} "
                "(another emulator running? pass --port, or stop it)"
            ) from error


def emulator_client(emulator: Emulator, service: str, region: str = "ap-southeast-1") -> Any:
    """A client of the emulator with its fixed credentials."""
    session = make_session(region=region, static_credentials=("testing", "testing"))
    return make_client(service, session=session, endpoint_url=emulator.endpoint_url, local=True)


@contextlib.contextmanager
def emulator_environment(endpoint_url: str, region: str = "ap-southeast-1") -> Iterator[None]:
    """Point every boto3 client created inside the block at the emulator (AWS_ENDPOINT_URL), and say it serves
    ECR's core API only (REGISTRY_API), then restore."""
    wanted = {
        **EMULATOR_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "REGISTRY_API": "core",  # enforcement's setting: the emulator serves ECR's core API only
    }
    saved = {name: os.environ.get(name) for name in [*wanted, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
