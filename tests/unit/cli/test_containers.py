"""The pure parts of the container plumbing (ecr_governance_cli.containers): which package index and CA bundle a
build inherits from this machine's pip, and the local variant of a SAM template. The parts that run podman are
exercised by `make image-test` (tests/server, marker `container`)."""

from __future__ import annotations

from pathlib import Path

from ecr_governance_cli import containers
from samcli.yamlhelper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_pip_index_takes_the_environment_first(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    listed = "global.index-url='https://mirror.example/simple'\nglobal.cert='/nonexistent.pem'\n"
    pip = containers.pip_index({"PIP_INDEX_URL": "https://env.example/simple", "PIP_CERT": str(ca)}, listed)
    assert pip == containers.PipIndex("https://env.example/simple", ca)
    assert pip.build_args() == {"PIP_INDEX_URL": "https://env.example/simple"}
    assert pip.secret_options() == ["--secret", f"id=pip-ca,src={ca}"]


def test_pip_index_reads_pip_config_later_files_winning(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    listed = (
        f"global.cert='{ca}'\nglobal.index-url='https://global.example/simple'\n"
        "global.extra-index-url='file:///opt/pypi/simple'\ninstall.index-url='https://user.example/simple'\n"
    )
    assert containers.pip_index({}, listed) == containers.PipIndex("https://user.example/simple", ca)


def test_pip_index_leaves_out_what_a_build_cannot_use() -> None:
    """A file:// index is not inside the build; a CA bundle that does not exist is no CA bundle."""
    listed = "global.index-url='file:///opt/pypi/simple'\nglobal.cert='/nonexistent/ca.pem'\n"
    pip = containers.pip_index({}, listed)
    assert pip == containers.PipIndex() and pip.build_args() == {} and pip.secret_options() == []


def test_local_template_of_the_retail_api_builds_here(tmp_path: Path) -> None:
    local = containers.local_template(
        REPO_ROOT / "server" / "template.yaml", tmp_path, "x86_64", {"PYTHON_IMAGE": "localhost/python:3.13"}
    )
    function = yaml_parse(local.read_text())["Resources"]["RetailApiFunction"]
    assert function["Properties"]["Architectures"] == ["x86_64"]
    assert function["Metadata"]["DockerContext"] == str(REPO_ROOT / "server")
    assert function["Metadata"]["DockerBuildArgs"] == {"PYTHON_IMAGE": "localhost/python:3.13"}
    original = yaml_parse((REPO_ROOT / "server" / "template.yaml").read_text())
    assert original["Resources"]["RetailApiFunction"]["Properties"]["Architectures"] == ["arm64"], "deployed as is"


def test_local_template_of_the_governance_stack_overrides_its_globals(tmp_path: Path) -> None:
    """Zip functions whose architecture and code come from Globals: both follow the copy."""
    spec = yaml_parse(containers.local_template(REPO_ROOT / "template.yaml", tmp_path, "x86_64").read_text())
    assert spec["Globals"]["Function"]["Architectures"] == ["x86_64"]
    assert spec["Globals"]["Function"]["CodeUri"] == str(REPO_ROOT / "functions")
    functions = [r for r in spec["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["Architectures"] == ["x86_64"] for f in functions)
