"""Request bodies the API refuses, as real clients meet them: the image's uvicorn command on loopback, called with
urllib (it writes the whole body before reading, and says `Connection: close`), httpx (keep-alive) and raw sockets
(a client that waits for `100 Continue`, one that stalls mid-body)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest
from retail_support import RunningServer, free_port, image_command_and_env, item, start_uvicorn, subprocess_env

BODY_TIMEOUT_SECONDS = 1  # the server's BODY_TIMEOUT_SECONDS here (default 30), so a stall is seen quickly
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    port = free_port()
    command, image_env = image_command_and_env(port)
    env = subprocess_env(**image_env, BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT_SECONDS))
    running = start_uvicorn(command, env, port)
    yield running
    running.stop()


def urllib_post(server: RunningServer, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    """POST the way urllib does it; the status and JSON body of the answer, whatever its status."""
    request = urllib.request.Request(
        f"{server.base_url}/v1/predict", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.headers["content-type"] == "application/json"
        return error.code, json.loads(error.read())


def raw_exchange(server: RunningServer, request: bytes, wait: float = 10.0) -> tuple[bytes, float]:
    """Send bytes on a fresh connection, read until the server closes it; what came back and how long it took."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(request)
        started = time.monotonic()
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received, time.monotonic() - started


def only_problem(answer: dict) -> dict:
    [problem] = answer["detail"]
    assert set(problem) == {"field", "reason", "type"}, "the shape of the 422s"
    return problem


def test_a_10_mb_body_is_a_413_urllib_can_read(server: RunningServer) -> None:
    status, answer = urllib_post(server, b" " * (10 * 1000 * 1000))
    assert status == 413
    problem = only_problem(answer)
    assert problem["field"] == "body" and problem["type"] == "body_too_large"
    assert problem["reason"] == "the body is 10000000 bytes; the limit is 1048576 bytes (MAX_BODY_BYTES)"


def test_a_100000_item_batch_is_a_413_urllib_can_read(server: RunningServer) -> None:
    status, answer = urllib_post(server, json.dumps({"items": [item()] * 100_000}).encode())
    assert status == 413 and only_problem(answer)["type"] == "body_too_large"


def test_a_1001_item_batch_is_a_413_naming_the_items(server: RunningServer) -> None:
    status, answer = urllib_post(server, json.dumps({"items": [item()] * 1001}).encode())
    assert status == 413 and only_problem(answer)["field"] == "items"


def test_a_large_text_body_is_a_415_urllib_can_read(server: RunningServer) -> None:
    status, answer = urllib_post(server, b"a line of text\n" * 60_000, content_type="text/plain")
    assert status == 415 and only_problem(answer)["field"] == "content-type"


def test_a_keep_alive_client_carries_on_after_a_413(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        refused = http.post("/v1/predict", content=b" " * (3 * MIB), headers={"content-type": "application/json"})
        accepted = http.post("/v1/predict", json=item())
    assert refused.status_code == 413 and "connection" not in refused.headers  # the body was read: stays open
    assert accepted.status_code == 200


def test_a_client_waiting_for_100_continue_gets_413_before_sending_the_body(server: RunningServer) -> None:
    """curl sends `Expect: 100-continue` for large bodies: nothing need be read, and the connection is closed."""
    head = (
        "POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * MIB}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    answer, seconds = raw_exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"\r\nconnection: close\r\n" in answer.lower()
    assert b"100 Continue" not in answer and seconds < BODY_TIMEOUT_SECONDS


def test_a_body_beyond_the_discard_limit_is_answered_at_once_and_the_connection_closed(server: RunningServer) -> None:
    """Past 16 MiB the rest is not read: the answer goes out and the connection is closed."""
    head = (
        "POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {64 * MIB}\r\n\r\n"
    ).encode()
    answer, seconds = raw_exchange(server, head + b" " * 1000)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"\r\nconnection: close\r\n" in answer.lower()
    assert seconds < BODY_TIMEOUT_SECONDS


def test_an_upload_stalled_mid_body_is_dropped_after_body_timeout_seconds(server: RunningServer) -> None:
    head = b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    answer, seconds = raw_exchange(server, head + b'{"store_id": "S0')
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert b"\r\nconnection: close\r\n" in rest.lower()
    problem = only_problem(json.loads(rest.partition(b"\r\n\r\n")[2]))
    assert problem["type"] == "body_timeout" and "BODY_TIMEOUT_SECONDS" in problem["reason"]
    assert BODY_TIMEOUT_SECONDS * 0.9 <= seconds < BODY_TIMEOUT_SECONDS + 2


def test_a_client_gone_mid_body_is_logged_without_a_traceback(server: RunningServer) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    head = b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 200\r\n"
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(head + b"X-Request-ID: gone-mid-body\r\n\r\n" + b'{"store_id": "S0')
        time.sleep(0.2)
    assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200  # the server carries on
    output = server.stop()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    [gone] = [line for line in lines if line.get("request_id") == "gone-mid-body"]
    assert gone["status"] == 400
    assert not [line for line in lines if line["level"] == "ERROR"], "no 500, no traceback"
