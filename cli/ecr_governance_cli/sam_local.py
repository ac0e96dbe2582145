"""What the real `sam local invoke` reads to run this project's functions against the embedded emulator:
an --env-vars file and a samconfig file, written by `make sam-local` (scripts/sam_local.sh) into .local/sam-local/.

    python -m ecr_governance_cli.sam_local DIR ARCHITECTURE IMAGE [ENDPOINT]

The --env-vars file points every function at the emulator (AWS_ENDPOINT_URL, which the template declares empty) and
gives each variable the template sets from the stack's own resources a value: SAM local would pass it unresolved, as
the resource's logical id. Those resources are not deployed, so their variables are empty (a feature off: alerts are
logged, the sweep planner returns the messages it would send), except the enforcing function's own role, whose
events it must recognise (events/enforce/own-remediation.json). The samconfig file carries the options every invoke
here needs, so an invoke is `sam local invoke FUNCTION -e EVENT --config-file .local/sam-local/samconfig.toml`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ecr_governance_cli.target import LOCAL_ENDPOINT, LOCAL_REGION
from ecr_governance_cli.template_env import function_ids, function_spec, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT_ROOT / "template.yaml"
# What the deployed stack resolves !GetAtt EnforceRepositoryFunctionRole.Arn to (the role own-remediation.json names).
DEPLOYED_ROLE = "arn:aws:iam::123456789012:role/ecr-governance-EnforceRepositoryFunctionRole"


def env_vars(endpoint: str) -> dict[str, dict[str, str]]:
    """The --env-vars document: the endpoint for every function, each resource variable's local value."""
    template = load_template(TEMPLATE)
    document: dict[str, dict[str, str]] = {"Parameters": {"AWS_ENDPOINT_URL": endpoint}}
    for logical_id in function_ids(template):
        unresolved = function_spec(template, logical_id).unresolved
        if unresolved:
            document[logical_id] = {
                name: DEPLOYED_ROLE if name == "GOVERNANCE_ROLE_ARN" else "" for name in sorted(unresolved)
            }
    return document


def samconfig(directory: Path, architecture: str, image: str) -> str:
    """sam's options for this machine: the build into DIRECTORY/build, and the invoke from it through the stand-in
    Lambda image, on the host network (where the emulator listens), in the emulator's region."""
    overrides = f"Architecture={architecture} RegistryApi=core"  # the emulator serves ECR's core API only
    return f"""# Written by `make sam-local` (scripts/sam_local.sh); regenerated on every run.
version = 0.1

[default.build.parameters]
template_file = "{TEMPLATE}"
build_dir = "{directory / "build"}"
cached = true
cache_dir = "{directory / "cache"}"
parameter_overrides = "{overrides}"

[default.local_invoke.parameters]
template_file = "{directory / "build" / "template.yaml"}"
env_vars = "{directory / "env.json"}"
parameter_overrides = "{overrides}"
invoke_image = ["{image}"]
skip_pull_image = true
docker_network = "host"
region = "{LOCAL_REGION}"
"""


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    directory, architecture, image = Path(argv[0]).resolve(), argv[1], argv[2]
    endpoint = argv[3] if len(argv) == 4 else LOCAL_ENDPOINT
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "env.json").write_text(json.dumps(env_vars(endpoint), indent=2) + "\n")
    (directory / "samconfig.toml").write_text(samconfig(directory, architecture, image))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
