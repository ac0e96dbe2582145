"""Cold-start import time of each Lambda handler in template.yaml, against `import boto3` alone.

Each sample is a fresh interpreter (the same python3.13 as the venv) that times, with perf_counter, only the import
statement: interpreter start-up is excluded. The handler is imported with PYTHONPATH=<CodeUri>, the environment the
template gives the function (defaults), AWS_REGION=ap-southeast-1 and dummy credentials, so its module-level
composition root (settings parsed, lifecycle policy validated, boto3 clients built) runs as on a cold start. Subjects
are interleaved, 15 runs each; the median is reported.

Baseline: `import boto3` in the same conditions. Target: handler / baseline <= 1.5. The `-X importtime` profile of
each handler import follows (top-level packages and modules by self time) to show what to cut when above target.
Nothing here asserts on time. Run: `make bench` (or .venv/bin/python bench/bench_cold_start.py).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from ecr_governance.template_env import function_spec, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "ap-southeast-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
RUNS = 15
TARGET_RATIO = 1.5
BASELINE = "import boto3"
TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def environment(extra: dict[str, str], pythonpath: str) -> dict[str, str]:
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_")) and name != "PYTHONPATH"
    }
    return {
        **base,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": pythonpath,
        "PYTHONDONTWRITEBYTECODE": "",
        **extra,
    }


def timed(statement: str, env: dict[str, str], cwd: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", TIMER.format(statement=statement)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"`{statement}` failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def importtime_profile(statement: str, env: dict[str, str], cwd: Path, top: int = 12) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], env=env, cwd=cwd, capture_output=True, text=True
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((int(self_us), int(cumulative_us), name.strip()))
    by_package: dict[str, int] = defaultdict(int)
    for self_us, _, name in rows:
        by_package[name.split(".")[0]] += self_us
    total = sum(by_package.values())
    print(f"    -X importtime of `{statement}`: {total / 1000:.1f} ms of imports (self time summed)")
    print("    top-level packages by self time:")
    for package, self_us in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        print(f"      {package:<34}{self_us / 1000:>8.1f} ms  {100 * self_us / total:>5.1f}%")
    print("    modules by self time (a handler's self time includes its module-level code, e.g. boto3.client()):")
    for self_us, cumulative_us, name in sorted(rows, reverse=True)[:top]:
        print(f"      {name:<50}{self_us / 1000:>8.1f} ms self {cumulative_us / 1000:>8.1f} ms cumulative")


def main() -> int:
    template = load_template(TEMPLATE)
    functions = sorted(k for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function")
    subjects: dict[str, tuple[str, dict[str, str], Path]] = {}
    baseline_env = environment({}, str(PROJECT_ROOT / "functions"))
    subjects[f"baseline: {BASELINE}"] = (BASELINE, baseline_env, PROJECT_ROOT)
    # Context, not a target: what building one ECR client costs on top of importing boto3.
    subjects["context: import boto3; boto3.client('ecr')"] = (
        "import boto3; boto3.client('ecr')",
        baseline_env,
        PROJECT_ROOT,
    )
    for logical_id in functions:
        spec = function_spec(template, logical_id, pseudo=PSEUDO)
        code_dir = (TEMPLATE.parent / spec.code_uri).resolve()
        deployed = {name: f"arn:aws:iam::123456789012:role/{logical_id}Role" for name in spec.unresolved}
        module = spec.handler.rpartition(".")[0]
        env = environment({**spec.environment, **deployed}, str(code_dir))
        subjects[f"{logical_id}: import {module}"] = (f"import {module}", env, code_dir)

    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for statement, env, cwd in subjects.values():  # warm the filesystem cache and .pyc files once
        timed(statement, env, cwd)
    for _ in range(RUNS):
        for name, (statement, env, cwd) in subjects.items():
            samples[name].append(timed(statement, env, cwd))

    baseline_name = f"baseline: {BASELINE}"
    baseline = statistics.median(samples[baseline_name])
    print(f"python {sys.version.split()[0]} ({sys.executable}); {RUNS} interleaved fresh-interpreter runs each")
    print(f"  {'subject':<62}{'median':>10}{'min':>10}{'ratio':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<62}{median * 1000:>8.1f}ms{min(values) * 1000:>8.1f}ms{median / baseline:>8.2f}")
    for logical_id in functions:
        name = next(n for n in subjects if n.startswith(f"{logical_id}:"))
        ratio = statistics.median(samples[name]) / baseline
        verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
        print(f"\n{logical_id}: handler import / `{BASELINE}` = {ratio:.2f} ({verdict} target <= {TARGET_RATIO})")
        # Printed every time: the ratio is noisy on a loaded machine, the profile shows where the time goes.
        statement, env, cwd = subjects[name]
        importtime_profile(statement, env, cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
