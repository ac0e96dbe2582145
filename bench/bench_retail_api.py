"""Throughput and tail latency of POST /v1/predict, against a bare FastAPI endpoint that returns a constant.

Both apps run the same way in the same run: uvicorn, one worker, loopback, no access log. The load is bounded
(a fixed duration per scenario with `wrk` when it is installed, else a fixed request count from keep-alive httpx
clients in threads). The scenarios run in interleaved rounds, so each round's ratio compares runs made moments apart;
printed per scenario: the median round's requests per second and p50/p99 latency, and the ratio to the bare
endpoint's rps as the median of the per-round ratios with their spread (min-max) (target for batch 1: >= 0.8).
A measurement, not a test: nothing here fails on a number.

    python bench/bench_retail_api.py [--driver auto|wrk|httpx] [--rounds 9] [--seconds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_DIR = REPO_ROOT / "server"
BIN = Path(sys.executable).parent
TARGET_RATIO = 0.8

ITEM = {"store_id": "S001", "product_id": "P0001", "date": "2026-01-09", "price": 2.79, "promotion": False}
CONSTANT = {
    "model_name": "constant",
    "model_version": "0",
    "predictions": [{"store_id": "S001", "product_id": "P0001", "date": "2026-01-09", "predicted_units": 11.5}],
}

# The baseline: the least a FastAPI endpoint can do for this route (no body parsing, a constant answer).
bare_app = FastAPI()


@bare_app.post("/v1/predict")
async def bare_predict() -> dict:
    return CONSTANT


# Attribution: the same constant, but FastAPI parses and validates the body into the API's own item model first.
typed_app = FastAPI()


class TypedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: str
    product_id: str
    date: dt.date
    price: float = Field(gt=0)
    promotion: bool


@typed_app.post("/v1/predict")
async def typed_predict(item: TypedItem) -> dict:
    return CONSTANT


@dataclass(frozen=True)
class Scenario:
    name: str
    app: str
    body: dict
    log_level: str = "INFO"


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, app: str, log_level: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        command += ["--workers", "1", "--log-level", "warning"]
        if app.startswith("bench_retail_api:"):
            command += ["--app-dir", str(Path(__file__).resolve().parent)]
        env = dict(os.environ, LOG_LEVEL=log_level, PYTHONDONTWRITEBYTECODE="1")
        # The API's one JSON line per request is written (to /dev/null): logging is part of the cost measured.
        self.process = subprocess.Popen(command, cwd=SERVER_DIR, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.post(f"{self.url}/v1/predict", json=ITEM, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{app} did not start within 20s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_wrk(url: str, body: dict, seconds: float, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [[{json.dumps(body)}]]\n"
        )
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script.name,
                f"{url}/v1/predict",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return Result(rps=rps, p50_ms=latency("50%"), p99_ms=latency("99%"), requests=requests, errors=errors)


def run_httpx(url: str, body: dict, seconds: float, connections: int) -> Result:
    """Fixed request count per client thread (sized from a short probe so a run lasts about `seconds`)."""
    payload = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=url) as probe:
        started = time.perf_counter()
        for _ in range(50):
            probe.post("/v1/predict", content=payload, headers=headers)
        per_request = (time.perf_counter() - started) / 50
    per_client = max(50, int(seconds / per_request / connections))
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def client(index: int) -> None:
        with httpx.Client(base_url=url) as http:
            for _ in range(per_client):
                started = time.perf_counter()
                status = http.post("/v1/predict", content=payload, headers=headers).status_code
                latencies[index].append((time.perf_counter() - started) * 1000)
                errors[index] += status != 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = sorted(value for values in latencies for value in values)
    return Result(
        rps=len(every) / elapsed,
        p50_ms=statistics.median(every),
        p99_ms=every[min(len(every) - 1, int(len(every) * 0.99))],
        requests=len(every),
        errors=sum(errors),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--driver", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--seconds", type=float, default=3.0, help="per scenario and round (default: 3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections (default: 8)")
    parser.add_argument(
        "--rounds", type=int, default=9, help="interleaved rounds; medians and min-max are reported (default: 9)"
    )
    args = parser.parse_args()
    driver_name = "wrk" if args.driver == "wrk" or (args.driver == "auto" and shutil.which("wrk")) else "httpx"
    driver = run_wrk if driver_name == "wrk" else run_httpx

    scenarios = [
        Scenario("bare FastAPI, constant", "bench_retail_api:bare_app", ITEM),
        Scenario("retail API, batch 1", "app.main:app", ITEM),
        Scenario("retail API, batch 100", "app.main:app", {"items": [ITEM] * 100}),
        # Attribution, not targets: a bare endpoint that validates a typed body (the framework's share of the cost),
        # and the API with its per-request access log line switched off (the log line's share).
        Scenario("  bare + typed body", "bench_retail_api:typed_app", ITEM),
        Scenario("  batch 1, LOG_LEVEL=WARNING", "app.main:app", ITEM, "WARNING"),
    ]
    servers = {key: Server(*key) for key in {(scenario.app, scenario.log_level) for scenario in scenarios}}
    results: dict[str, list[Result]] = {scenario.name: [] for scenario in scenarios}
    try:
        for scenario in scenarios:  # warm-up
            driver(servers[scenario.app, scenario.log_level].url, scenario.body, 1, args.connections)
        for _ in range(args.rounds):
            for scenario in scenarios:
                results[scenario.name].append(
                    driver(servers[scenario.app, scenario.log_level].url, scenario.body, args.seconds, args.connections)
                )
    finally:
        for server in servers.values():
            server.stop()

    def median_of(name: str) -> Result:
        runs = sorted(results[name], key=lambda result: result.rps)
        return runs[len(runs) // 2]

    def ratios(name: str) -> list[float]:
        """This scenario's rps over the bare endpoint's, round by round (runs made moments apart)."""
        bare_runs = results[scenarios[0].name]
        return [ours.rps / bare.rps for ours, bare in zip(results[name], bare_runs, strict=True)]

    print(
        f"driver {driver_name}, {args.connections} connections, uvicorn 1 worker on loopback, "
        f"{args.rounds} rounds x {args.seconds:g}s per scenario, interleaved; cpus {os.cpu_count()}"
    )
    print(
        f"{'scenario':<30}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'items/s':>10}{'errors':>8}"
        f"{'rps ratio':>11}{'min-max':>12}"
    )
    for scenario in scenarios:
        result = median_of(scenario.name)
        items = len(scenario.body.get("items", [scenario.body]))
        per_round = ratios(scenario.name)
        print(
            f"{scenario.name:<30}{result.rps:>9.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.rps * items:>10.0f}{result.errors:>8}{statistics.median(per_round):>11.2f}"
            f"{f'{min(per_round):.2f}-{max(per_round):.2f}':>12}"
        )
    print("(rps, latency: the median round; rps ratio: median of the per-round ratios to the bare endpoint)")
    batch_one = ratios(scenarios[1].name)
    print("batch 1 / bare rps, per round: " + ", ".join(f"{ratio:.2f}" for ratio in batch_one))
    median_ratio = statistics.median(batch_one)
    verdict = "meets" if median_ratio >= TARGET_RATIO else "misses"
    print(
        f"batch 1 runs at {median_ratio:.2f} of the bare endpoint's rps (median of {args.rounds} rounds, "
        f"{min(batch_one):.2f}-{max(batch_one):.2f}): {verdict} the {TARGET_RATIO} target"
    )
    if driver_name == "httpx":
        print(
            "note: Python clients saturate before a one-worker server does, so these ratios read high; "
            "install wrk (apt-get install wrk) for server-bound figures"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
