"""Where a client's calls go, read without boto3 (so the CLI can tell before it loads boto3): the endpoint a client of
a service will use, and whether it is this machine - the embedded emulator on loopback, or, seen from a container,
the host that runs it (`host.containers.internal` under podman, `host.docker.internal` under Docker): there a
refused connection is an answer, not a reason to retry."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "::1", "host.containers.internal", "host.docker.internal"})


def is_local_endpoint(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.startswith("127.")


def configured_endpoint(service: str, endpoint_url: str | None = None) -> str | None:
    """The endpoint a client of `service` will use: the argument, else botocore's environment variables."""
    service_variable = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return endpoint_url or os.environ.get(service_variable) or os.environ.get("AWS_ENDPOINT_URL") or None
