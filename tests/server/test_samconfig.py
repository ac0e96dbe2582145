"""samconfig.toml read the way the SAM CLI reads it: which stack each config environment deploys, and with what.

One stack deployed by two environments with different parameters flips back and forth with whichever ran last; a
plain `sam deploy` (the [default] environment) could put production into audit mode."""

from __future__ import annotations

from collections import defaultdict

from retail_support import REPO_ROOT
from samcli.lib.config.samconfig import SamConfig

CONFIG = SamConfig(str(REPO_ROOT), "samconfig.toml")


def deploy_parameters(environment: str) -> dict:
    """What `sam deploy --config-env ENVIRONMENT` reads (global parameters merged with deploy's, as SAM does)."""
    return CONFIG.get_all(["deploy"], "parameters", env=environment)


def overrides(parameters: dict) -> dict[str, str]:
    pairs = parameters.get("parameter_overrides", "")
    if isinstance(pairs, list):
        pairs = " ".join(pairs)
    return dict(pair.split("=", 1) for pair in pairs.split())


def deploying_environments() -> list[str]:
    return [env for env in CONFIG.get_stage_configuration_names() if "stack_name" in deploy_parameters(env)]


def test_no_two_environments_deploy_one_stack_differently() -> None:
    by_stack: dict[tuple[str, str], list[str]] = defaultdict(list)
    for environment in deploying_environments():
        parameters = deploy_parameters(environment)
        by_stack[parameters.get("region", "ap-southeast-1"), parameters["stack_name"]].append(environment)
    for (region, stack), environments in by_stack.items():
        first = deploy_parameters(environments[0])
        for other in environments[1:]:
            second = deploy_parameters(other)
            assert overrides(second) == overrides(first), (
                f"[{environments[0]}] and [{other}] both deploy stack {stack} ({region}) with different parameters"
            )
            assert second["template_file"] == first["template_file"], f"{stack}: two templates"


def test_a_plain_sam_deploy_targets_the_dev_stack_never_production() -> None:
    default, dev, prod = (deploy_parameters(env) for env in ("default", "dev", "prod"))
    assert default["stack_name"] == dev["stack_name"] != prod["stack_name"]
    assert overrides(default) == overrides(dev)
    assert overrides(default)["EnforceMode"] == "audit" and overrides(prod)["EnforceMode"] == "enforce"
