"""Cold-start import time of each Lambda handler in template.yaml, against `import boto3` alone.

Each sample is a fresh interpreter (the same python3.13 as the venv) that times, with perf_counter, only the import
statement: interpreter start-up is excluded. The handler is imported with PYTHONPATH=<CodeUri>, the environment the
template gives the function (defaults), AWS_REGION=ap-southeast-1 and dummy credentials, so its module-level
composition root (settings parsed, lifecycle policy validated, boto3 clients built) runs as on a cold start. Subjects
are interleaved, 15 runs each; the median is reported.

Baseline: `import boto3` in the same conditions. Target: handler / baseline <= 1.5. The `-X importtime` profile of
each handler import follows (top-level packages and modules by self time) to show what to cut when above target.

Two settings are measured: (1) the development venv, PYTHONPATH=<CodeUri> - there `import boto3` also loads awscrt
and cryptography, which the aws-sam-cli dev dependency installs; (2) the package `sam build` produces, imported with
`python -S` (no site-packages) and PYTHONPATH=<built function dir> - what Lambda loads. (2) is skipped with a note
when `sam build` is unavailable or fails; pass --venv-only to skip it.
Nothing here asserts on time. Run: `make bench` (or .venv/bin/python bench/bench_cold_start.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ecr_governance_cli.template_env import deployed_example, function_spec, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "ap-southeast-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
RUNS = 15
TARGET_RATIO = 1.5
BASELINE = "import boto3"
SAM = Path(sys.executable).parent / "sam"
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
        **extra,
    }


@dataclass(frozen=True)
class Subject:
    statement: str
    env: dict[str, str]
    cwd: Path
    flags: tuple[str, ...] = ()  # interpreter flags, e.g. -S for the built package


def timed(subject: Subject) -> float:
    result = subprocess.run(
        [sys.executable, *subject.flags, "-c", TIMER.format(statement=subject.statement)],
        env=subject.env,
        cwd=subject.cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"`{subject.statement}` failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def importtime_profile(subject: Subject, top: int = 10) -> None:
    result = subprocess.run(
        [sys.executable, *subject.flags, "-X", "importtime", "-c", subject.statement],
        env=subject.env,
        cwd=subject.cwd,
        capture_output=True,
        text=True,
        check=False,
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
    total = sum(by_package.values()) or 1
    print(f"    -X importtime of `{subject.statement}`: {total / 1000:.1f} ms of imports (self time summed)")
    print("    top-level packages by self time:")
    for package, self_us in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        print(f"      {package:<34}{self_us / 1000:>8.1f} ms  {100 * self_us / total:>5.1f}%")
    print("    modules by self time (a handler's self time includes its module-level code, e.g. boto3.client()):")
    for self_us, cumulative_us, name in sorted(rows, reverse=True)[:top]:
        print(f"      {name:<50}{self_us / 1000:>8.1f} ms self {cumulative_us / 1000:>8.1f} ms cumulative")


def handler_subjects(template: dict, code_dir_of: dict[str, Path], flags: tuple[str, ...]) -> dict[str, Subject]:
    subjects = {}
    for logical_id, code_dir in code_dir_of.items():
        spec = function_spec(template, logical_id, pseudo=PSEUDO)
        deployed = {
            name: deployed_example(template, logical_id, name, REGION, PSEUDO["AWS::AccountId"])
            for name in spec.unresolved
        }
        module = spec.handler.rpartition(".")[0]
        env = environment({**spec.environment, **deployed}, str(code_dir))
        subjects[f"{logical_id}: import {module}"] = Subject(f"import {module}", env, code_dir, flags)
    return subjects


def measure(
    title: str, subjects: dict[str, Subject], baseline_name: str, functions: list[str], runs: int = RUNS
) -> None:
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for subject in subjects.values():  # warm the filesystem cache and .pyc files once
        timed(subject)
    for _ in range(runs):
        for name, subject in subjects.items():
            samples[name].append(timed(subject))
    baseline = statistics.median(samples[baseline_name])
    print(f"\n== {title}: {runs} interleaved fresh-interpreter runs each")
    print(f"  {'subject':<62}{'median':>10}{'min':>10}{'ratio':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<62}{median * 1000:>8.1f}ms{min(values) * 1000:>8.1f}ms{median / baseline:>8.2f}")
    for logical_id in functions:
        name = next(n for n in subjects if n.startswith(f"{logical_id}:"))
        ratio = statistics.median(samples[name]) / baseline
        verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
        print(f"\n  {logical_id}: handler import / `{BASELINE}` = {ratio:.2f} ({verdict} target <= {TARGET_RATIO})")
        # Printed every time: the ratio is noisy on a loaded machine, the profile shows where the time goes.
        importtime_profile(subjects[name])


def sam_build(build_root: Path) -> Path | None:
    if not SAM.exists():
        print(f"\n(no {SAM}: the built-package measurement is skipped)")
        return None
    env = {**os.environ, "PATH": f"{SAM.parent}{os.pathsep}{os.environ.get('PATH', '')}", "SAM_CLI_TELEMETRY": "0"}
    command = [str(SAM), "build", "--template", str(TEMPLATE), "--build-dir", str(build_root / "build")]
    command += ["--cache-dir", str(build_root / "cache")]
    # Run outside the project: SAM writes build.toml and dependency caches under the working directory.
    result = subprocess.run(command, cwd=build_root, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"\n(sam build failed, the built-package measurement is skipped)\n{result.stdout[-2000:]}")
        return None
    return build_root / "build"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv-only", action="store_true", help="skip the sam-build package measurement")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"fresh-interpreter runs per subject (default {RUNS})")
    args = parser.parse_args()
    template = load_template(TEMPLATE)
    functions = sorted(k for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function")
    print(f"python {sys.version.split()[0]} ({sys.executable})")

    baseline_name = f"baseline: {BASELINE}"
    baseline_env = environment({}, str(PROJECT_ROOT / "functions"))
    code_dirs = {
        logical_id: (TEMPLATE.parent / function_spec(template, logical_id, pseudo=PSEUDO).code_uri).resolve()
        for logical_id in functions
    }
    venv_subjects = {
        baseline_name: Subject(BASELINE, baseline_env, PROJECT_ROOT),
        # Context, not a target: what building one ECR client costs on top of importing boto3.
        "context: import boto3; boto3.client('ecr')": Subject(
            "import boto3; boto3.client('ecr')", baseline_env, PROJECT_ROOT
        ),
        **handler_subjects(template, code_dirs, ()),
    }
    measure("development venv (PYTHONPATH=CodeUri)", venv_subjects, baseline_name, functions, args.runs)

    if args.venv_only:
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as build_root:
        build_dir = sam_build(Path(build_root))
        if build_dir is None:
            return 0
        built_dirs = {logical_id: build_dir / logical_id for logical_id in functions}
        first_dir = built_dirs[functions[0]]
        built_env = environment({}, str(first_dir))
        built_subjects = {
            baseline_name: Subject(BASELINE, built_env, first_dir, ("-S",)),
            **handler_subjects(template, built_dirs, ("-S",)),
        }
        title = "sam build package, python -S (as Lambda loads it)"
        measure(title, built_subjects, baseline_name, functions, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
