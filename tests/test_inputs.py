"""Bad input exits 2 and a broken environment exits 3, each with one line naming the field or resource and
what to do, before anything is written; never a traceback for a user's mistake. Table-driven: one row per
case found by hostile testing (issue 11).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import botocore.client
import pytest

from isoaudit import audit
from isoaudit.cli import EXIT_CONFIG, main
from isoaudit.config import load_config
from isoaudit.emulator import AccountSpec, BrokenAnswer, JobSpec, OrganizationSpec, build_organization

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
EXIT_ENVIRONMENT = 3  # isoaudit.cli.EXIT_ENVIRONMENT (a literal, so that this module imports on older code)


@dataclass(frozen=True)
class BadInput:
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    toml: bytes | None = None
    expected: str = ""


BAD_INPUTS = {
    "toml syntax error": BadInput(toml=b'bucket = "b-ok\n', expected="not valid TOML: "),
    "toml not utf-8": BadInput(toml=b'bucket = "b-ok"\nrole_name = "\xff\xfe"\n', expected="not UTF-8 text"),
    "team mapping not json": BadInput(
        env={"ISOAUDIT_TEAM_MAPPING": "notjson"}, expected="ISOAUDIT_TEAM_MAPPING: expected a JSON object"
    ),
    "endpoint not a url": BadInput(
        argv=["--endpoint-url", "not a url"], expected="endpoint_url: 'not a url'"
    ),
    "week banana": BadInput(argv=["--week", "banana"], expected="--week: 'banana' is not an ISO week"),
    "week 99": BadInput(argv=["--week", "2026-W99"], expected="--week: '2026-W99' is not an ISO week"),
    "week 00": BadInput(argv=["--week", "2026-W00"], expected="--week: '2026-W00' is not an ISO week"),
    "misspelt variable": BadInput(
        env={"ISOAUDIT_BUKCET": "x"}, expected="ISOAUDIT_BUKCET: unknown environment variable (did you mean"
    ),
    "role name with a space": BadInput(
        argv=["--role-name", "Iso Audit"], expected="role_name: expected an IAM"
    ),
    "prefix escaping the lake": BadInput(
        env={"ISOAUDIT_PREFIX": "../../x y"}, expected="prefix: expected an S3"
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_exits_2_on_one_line_before_any_aws_call(case, monkeypatch, capsys, tmp_path) -> None:
    bad = BAD_INPUTS[case]
    calls = []
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda *args: calls.append(args))
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    argv = ["run", "--out", str(tmp_path / "reports"), *bad.argv]
    if bad.toml is not None:
        (tmp_path / "isoaudit.toml").write_bytes(bad.toml)
        argv += ["--config", str(tmp_path / "isoaudit.toml")]
    else:
        argv += ["--bucket", "b-ok"]

    code = main(argv)

    err = capsys.readouterr().err
    assert code == EXIT_CONFIG
    assert len(err.strip().splitlines()) == 1, err
    assert bad.expected in err
    assert calls == []
    assert not (tmp_path / "reports").exists()


def test_list_variables_take_the_comma_form_too(monkeypatch) -> None:
    monkeypatch.setenv("ISOAUDIT_REGIONS", "us-east-1, eu-west-1")
    monkeypatch.setenv("ISOAUDIT_EXCLUDE_ACCOUNTS", '["123456789012"]')
    config = load_config(bucket="b-ok")
    assert config.regions == ["us-east-1", "eu-west-1"]
    assert config.exclude_accounts == ["123456789012"]


@pytest.fixture
def organization(emulator):
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(AccountSpec("alpha", "alpha", "/Workloads/Production"),),
        jobs=(JobSpec("alpha", "us-east-1", "alpha-job", NOW - timedelta(days=3), False),),
        bucket="isoaudit-inputs-lake",
        regions=("us-east-1",),
    )
    yield build_organization(endpoint_url=emulator.url, spec=spec)
    emulator.faults.broken = ()


def _no_credentials(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    return []


def _organizations_denied(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    body = json.dumps({"__type": "AccessDeniedException", "Message": "You don't have permissions"})
    emulator.faults.broken = (
        BrokenAnswer(
            "organizations",
            "DescribeOrganization",
            status="400 Bad Request",
            content_type="application/x-amz-json-1.1",
            body=body,
        ),
    )
    return []


def _not_in_an_organization(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    body = json.dumps(
        {
            "__type": "AWSOrganizationsNotInUseException",
            "Message": "Your account is not a member of an organization.",
        }
    )
    emulator.faults.broken = (
        BrokenAnswer(
            "organizations",
            "DescribeOrganization",
            status="400 Bad Request",
            content_type="application/x-amz-json-1.1",
            body=body,
        ),
    )
    return []


def _bucket_missing(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    return ["--bucket", "isoaudit-no-such-bucket"]


def _glue_table_elsewhere(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    glue = audit.management_session(_config(organization, emulator)).client("glue")
    glue.create_database(DatabaseInput={"Name": "isoaudit"})
    glue.create_table(
        DatabaseName="isoaudit",
        TableInput={
            "Name": "jobs",
            "StorageDescriptor": {"Location": "s3://isoaudit-old-lake/isoaudit/jobs/"},
        },
    )
    return []


def _lake_file_not_parquet(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    s3 = audit.management_session(_config(organization, emulator)).client("s3")
    s3.put_object(Bucket=organization.bucket, Key=CORRUPT_KEY, Body=b"<html>not parquet</html>")
    return []


def _reports_dir_is_a_file(monkeypatch, tmp_path, organization, emulator) -> list[str]:
    (tmp_path / "reports").write_text("a file where the reports folder should be")
    return []


CORRUPT_KEY = "isoaudit/jobs/creation_month=2026-11/part-0.parquet"
BROKEN_ENVIRONMENTS = {
    "no credentials": (_no_credentials, "no AWS credentials found: set AWS_PROFILE"),
    "organizations denied": (_organizations_denied, "AWS Organizations refused DescribeOrganization"),
    "not in an organization": (_not_in_an_organization, "not in an AWS Organization: run isoaudit with"),
    "bucket missing": (_bucket_missing, "bucket isoaudit-no-such-bucket does not exist: create it"),
    "glue table elsewhere": (
        _glue_table_elsewhere,
        "Glue table isoaudit.jobs is registered at s3://isoaudit-old-lake/isoaudit/jobs, not "
        "s3://isoaudit-inputs-lake/isoaudit/jobs: set `database`",
    ),
    "lake file not parquet": (
        _lake_file_not_parquet,
        f"lake file s3://isoaudit-inputs-lake/{CORRUPT_KEY} is not Parquet, and every read of its table "
        "would fail: run `isoaudit lake check --repair`",
    ),
    "reports_dir is a file": (_reports_dir_is_a_file, "is a file, not a folder: set reports_dir (or --out)"),
}


def _config(organization, emulator):
    return load_config(bucket=organization.bucket, endpoint_url=emulator.url)


def _keys(organization, emulator) -> list[str]:
    s3 = audit.management_session(_config(organization, emulator)).client("s3")
    return [item["Key"] for item in s3.list_objects_v2(Bucket=organization.bucket).get("Contents", [])]


@pytest.mark.parametrize("case", list(BROKEN_ENVIRONMENTS), ids=list(BROKEN_ENVIRONMENTS))
def test_a_broken_environment_exits_3_on_one_line_before_anything_is_written(
    case, emulator, organization, monkeypatch, capsys, tmp_path
) -> None:
    setup, expected = BROKEN_ENVIRONMENTS[case]
    extra = setup(monkeypatch, tmp_path, organization, emulator)
    before = _keys(organization, emulator) if case != "no credentials" else []
    argv = ["run", "--bucket", organization.bucket, "--endpoint-url", emulator.url]
    argv += ["--role-name", organization.spec.audit_role_name, "--out", str(tmp_path / "reports"), *extra]

    code = main(argv)

    err = capsys.readouterr().err
    assert code == EXIT_ENVIRONMENT, err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    if case != "reports_dir is a file":
        assert not (tmp_path / "reports").exists()
    if case != "no credentials":
        assert _keys(organization, emulator) == before


def test_lake_check_names_the_file_and_repair_moves_it_aside(
    emulator, organization, capsys, tmp_path
) -> None:
    from isoaudit.aws import lake_check

    config = _config(organization, emulator)
    _lake_file_not_parquet(None, tmp_path, organization, emulator)
    argv = ["lake", "check", "--bucket", organization.bucket, "--endpoint-url", emulator.url]

    assert main(argv) == EXIT_ENVIRONMENT
    captured = capsys.readouterr()
    assert f"not Parquet: s3://{organization.bucket}/{CORRUPT_KEY}" in captured.out
    assert captured.err.strip().splitlines() == [
        "isoaudit: 1 lake file(s) not Parquet: run `isoaudit lake check --repair` to move them aside"
    ]
    assert main([*argv, "--repair"]) == 0
    target = lake_check.quarantine_uri(config=config, uri=f"s3://{organization.bucket}/{CORRUPT_KEY}")
    assert f"moved s3://{organization.bucket}/{CORRUPT_KEY} to {target}" in capsys.readouterr().out
    keys = _keys(organization, emulator)
    assert CORRUPT_KEY not in keys
    assert target.removeprefix(f"s3://{organization.bucket}/") in keys  # kept, never dropped
    assert main(argv) == 0
    assert "is Parquet" in capsys.readouterr().out
