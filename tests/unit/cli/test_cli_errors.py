"""Every CLI mistake a user can make is one clear line on stderr and a non-zero exit, never a traceback."""

import boto3
from botocore.stub import Stubber
from ecr_governance_cli import target as cli_target
from ecr_governance_cli.main import main
from ecr_governance_cli.target import AwsTarget
from registry_builders import EVENTS_DIR


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, expected):
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecr-governance: error: ")
    assert expected in lines[0]


def test_no_credentials(monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run(capsys, "audit")
    assert_one_line_error(code, err, "no AWS credentials found")


def test_unknown_profile(capsys):
    code, _, err = run(capsys, "--profile", "nobody", "audit")
    assert_one_line_error(code, err, "AWS profile not found: nobody")


def test_no_region(monkeypatch, capsys):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, err = run(capsys, "audit")
    assert_one_line_error(code, err, "no AWS region configured")


def test_access_denied(monkeypatch, capsys):
    client = boto3.client("ecr", region_name="ap-southeast-1")
    stubber = Stubber(client)
    stubber.add_client_error("get_registry_scanning_configuration", "AccessDeniedException", "denied")
    stubber.add_client_error("describe_repositories", "AccessDeniedException", "denied")
    stubber.activate()
    monkeypatch.setattr(AwsTarget, "client", lambda self, service: client)
    code, _, err = run(capsys, "audit")
    # Registry scanning unread is recorded and the audit goes on; without the repository list there is no audit.
    assert_one_line_error(code, err, "access denied: DescribeRepositories needs IAM permission ecr:Describe")


def test_bad_setting_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("TAG_MUTABILITY", "MUTABLE")
    code, _, err = run(capsys, "audit")
    assert_one_line_error(code, err, "TAG_MUTABILITY='MUTABLE' is not valid")


def test_unreadable_and_invalid_event_files(tmp_path, capsys):
    code, _, err = run(capsys, "invoke", "EnforceRepositoryFunction", "--event", str(tmp_path / "missing.json"))
    assert_one_line_error(code, err, "cannot read event file")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, _, err = run(capsys, "invoke", "EnforceRepositoryFunction", "--event", str(broken))
    assert_one_line_error(code, err, "is not valid JSON")


def test_unknown_function(capsys):
    event = str(EVENTS_DIR / "enforce" / "scheduled-reconcile.json")
    code, _, err = run(capsys, "invoke", "Nope", "--event", event)
    assert_one_line_error(code, err, "no function 'Nope'")


def test_usage_errors_exit_2_in_one_line(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "invalid choice: 'frobnicate'" in err


def test_local_uses_the_emulator_endpoint_and_dummy_credentials():
    target = AwsTarget(local=True, _checked=True)  # as if the emulator answered
    assert target.effective_endpoint == cli_target.LOCAL_ENDPOINT
    env = target.environment()
    assert env["AWS_ENDPOINT_URL"] == cli_target.LOCAL_ENDPOINT
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert AwsTarget(local=True, endpoint_url="http://127.0.0.1:9").effective_endpoint == "http://127.0.0.1:9"
