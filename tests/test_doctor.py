"""`isoaudit doctor` on the emulator: every check passes on a complete setup, and each setup broken in one
way fails that check alone, naming the fix. The emulator refuses what AWS refuses here (a missing role, a
trust policy or ExternalId that does not match, a missing KMS key, an action the policy lacks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from isoaudit import cli
from isoaudit.aws.session import AwsSession
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.config import AuditConfig, load_config
from isoaudit.doctor import Check, render, run_checks
from isoaudit.emulator.mail import verify_sender
from isoaudit.emulator.organization import (
    ORGANIZATION_ACCESS_ROLE,
    BuiltOrganization,
    build_organization,
    management_session,
)
from tests.test_weekly_audit import spec

SENDER = "isoaudit@acme.example"


@dataclass(frozen=True)
class Setup:
    organization: BuiltOrganization
    aws: AwsSession
    overrides: dict[str, Any]

    def config(self, **changes: Any) -> AuditConfig:
        return load_config(None, **{**self.overrides, **changes})

    def member(self, key: str) -> AwsSession:
        account_id = self.organization.account_ids[key]
        return assume_role(
            aws=self.aws,
            role_arn=role_arn(account_id=account_id, role_name=ORGANIZATION_ACCESS_ROLE),
            session_name="doctor-test",
        )


@pytest.fixture(scope="module")
def setup(emulator) -> Setup:
    emulator.reset()
    organization = build_organization(endpoint_url=emulator.url, spec=spec())
    aws = management_session(endpoint_url=emulator.url)
    verify_sender(endpoint_url=emulator.url, sender=SENDER)
    overrides = {
        "bucket": organization.bucket,
        "endpoint_url": emulator.url,
        "role_name": organization.spec.audit_role_name,
        "kms_key_id": aws.client("kms").create_key(Description="lake")["KeyMetadata"]["Arn"],
        "sns_topic_arn": aws.client("sns").create_topic(Name="isoaudit-alerts")["TopicArn"],
        "email": {"sender": SENDER, "finops": ["finops@acme.example"]},
        # The account without the audit role has its own test below.
        "exclude_accounts": [organization.account_ids["no-role"]],
    }
    return Setup(organization=organization, aws=aws, overrides=overrides)


def failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]


def only_failure(checks: list[Check]) -> Check:
    (failed,) = failures(checks)
    return failed


def test_every_check_passes_on_a_complete_setup(setup: Setup) -> None:
    checks = run_checks(setup.config(), every_account=True)
    assert failures(checks) == []
    names = [check.name for check in checks]
    assert names[:2] == ["caller identity", "Organizations read access"]
    # management, prod-a and dev-b: every account but the excluded one.
    assert sum(name.startswith("audit role in ") for name in names) == 3
    assert names[-5:] == [
        f"bucket {setup.organization.bucket}",
        "Glue database isoaudit",
        "Athena workgroup primary",
        "SNS topic isoaudit-alerts",
        f"SES sender {SENDER}",
    ]
    by_name = {check.name: check for check in checks}
    assert "as the management account" in by_name["Organizations read access"].detail
    assert "SSE-KMS" in by_name[f"bucket {setup.organization.bucket}"].detail
    assert "first run creates it" in by_name["Glue database isoaudit"].detail


def test_the_command_prints_a_mark_per_check_and_exits_0_only_when_all_pass(
    setup: Setup, tmp_path, capsys
) -> None:
    config_file = tmp_path / "isoaudit.toml"
    overrides = {key: value for key, value in setup.overrides.items() if key != "endpoint_url"}
    config_file.write_text(_toml(overrides))
    argv = ["doctor", "--config", str(config_file), "--endpoint-url", setup.overrides["endpoint_url"]]
    assert cli.main([*argv, "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("✓") == 10 and "✗" not in out
    assert "10 of 10 checks passed: ready to run" in out

    assert cli.main([*argv, "--bucket", "no-such-lake"]) == cli.EXIT_ENVIRONMENT
    out = capsys.readouterr().out
    assert "✗ bucket no-such-lake: probe object not written: PutObject: NoSuchBucket" in out
    assert "    fix: create the bucket (aws s3 mb s3://no-such-lake)" in out


def _toml(values: dict[str, Any]) -> str:
    email = values.pop("email")
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[email]", f"sender = {json.dumps(email['sender'])}", f"finops = {json.dumps(email['finops'])}"]
    return "\n".join(lines) + "\n"


def test_without_read_access_to_the_organization(setup: Setup, emulator) -> None:
    with denied(emulator, ("organizations", "DescribeOrganization")):
        failed = only_failure(run_checks(setup.config()))
    assert failed.name == "Organizations read access"
    assert "AccessDenied" in failed.detail
    assert "management account" in failed.fix and "delegated administrator" in failed.fix


def test_an_account_without_the_audit_role(setup: Setup) -> None:
    config = setup.config(exclude_accounts=[])
    failed = only_failure(run_checks(config, every_account=True))
    assert failed.name == f"audit role in ml-sandbox ({setup.organization.account_ids['no-role']})"
    assert failed.detail == "role IsoAuditReadOnly does not exist in this account"
    assert "deploy infra/audit-role.yaml" in failed.fix


def test_a_role_that_trusts_another_account(setup: Setup) -> None:
    with trust(setup, principal="arn:aws:iam::999999999999:root"):
        failed = only_failure(run_checks(setup.config(), every_account=True))
    assert failed.name.startswith("audit role in ml-dev-b")
    assert "does not trust account 123456789012" in failed.detail
    assert "AuditingAccountId=123456789012" in failed.fix


def test_a_role_that_requires_an_external_id(setup: Setup) -> None:
    with trust(setup, principal="arn:aws:iam::123456789012:root", external_id="acme-7f3a"):
        missing = only_failure(run_checks(setup.config(), every_account=True))
        wrong = [c for c in run_checks(setup.config(external_id="acme-0000"), every_account=True) if not c.ok]
        right = run_checks(setup.config(external_id="acme-7f3a"), every_account=True)
    assert missing.detail.endswith("requires an ExternalId and none is configured")
    assert "set external_id" in missing.fix
    # The roles that require none accept a request that carries one, as on AWS.
    assert [check.detail for check in wrong] == [
        "the role exists and trusts this account, but requires an ExternalId and the configured one differs"
    ]
    assert failures(right) == []
    assert "acme-7f3a" not in render(missing) + render(wrong[0])  # never printed


def test_a_missing_bucket(setup: Setup) -> None:
    bucket, athena = failures(run_checks(setup.config(bucket="no-such-lake")))
    assert bucket.name == "bucket no-such-lake"
    assert "NoSuchBucket" in bucket.detail
    # Athena's results go to the lake's bucket too.
    assert athena.detail.startswith(
        "output location s3://no-such-lake/isoaudit-athena-results/ not reachable"
    )


def test_a_kms_key_that_does_not_exist(setup: Setup) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    failed = only_failure(run_checks(setup.config(kms_key_id=key)))
    assert "KMS.NotFoundException" in failed.detail
    assert failed.fix.startswith("check kms_key_id")


def test_a_bucket_the_identity_may_not_write(setup: Setup, emulator) -> None:
    with denied(emulator, ("s3", "PUT")):
        failed = only_failure(run_checks(setup.config()))
    assert "AccessDenied" in failed.detail
    assert (
        "infra/auditor-policy.yaml" in failed.fix and f"LakeBucket={setup.organization.bucket}" in failed.fix
    )


def test_a_glue_catalog_the_identity_may_not_read(setup: Setup, emulator) -> None:
    with denied(emulator, ("glue", "GetDatabase")):
        failed = only_failure(run_checks(setup.config()))
    assert failed.name == "Glue database isoaudit"
    assert "AccessDeniedException" in failed.detail and "GlueDatabase=isoaudit" in failed.fix


def test_a_missing_athena_workgroup(setup: Setup) -> None:
    failed = only_failure(run_checks(setup.config(athena_workgroup="analytics")))
    assert failed.name == "Athena workgroup analytics"
    assert failed.fix.startswith("create it (aws athena create-work-group --name analytics)")


def test_an_athena_workgroup_whose_output_location_is_gone(setup: Setup) -> None:
    setup.aws.client("athena").create_work_group(
        Name="enforced",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://deleted-results-bucket/athena/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    failed = only_failure(run_checks(setup.config(athena_workgroup="enforced")))
    assert failed.detail.startswith("output location s3://deleted-results-bucket/athena/ not reachable")


def test_a_missing_sns_topic(setup: Setup) -> None:
    failed = only_failure(run_checks(setup.config(sns_topic_arn="arn:aws:sns:us-east-1:123456789012:gone")))
    assert failed.name == "SNS topic gone"
    assert failed.fix == "create the topic or fix sns_topic_arn"


def test_a_topic_of_another_account_that_does_not_accept_this_one(setup: Setup) -> None:
    other = setup.member("prod-a").client("sns").create_topic(Name="security-alerts")["TopicArn"]
    failed = only_failure(run_checks(setup.config(sns_topic_arn=other)))
    assert "its access policy does not let account 123456789012 publish" in failed.detail
    assert "arn:aws:iam::123456789012:root" in failed.fix


def test_an_unverified_ses_sender(setup: Setup) -> None:
    email = {"sender": "reports@unverified.example", "finops": ["finops@acme.example"]}
    failed = only_failure(run_checks(setup.config(email=email)))
    assert failed.name == "SES sender reports@unverified.example"
    assert failed.fix.startswith("aws ses verify-email-identity --email-address reports@unverified.example")


def test_aws_text_is_printed_inert() -> None:
    line = render(Check("audit role in \x1b[31mred", False, "bell\x07", "fix\x1b]8;;"))
    assert "\x1b" not in line and "\x07" not in line


@contextmanager
def denied(emulator, *operations: tuple[str, str]) -> Iterator[None]:
    emulator.faults.denied = frozenset(operations)
    try:
        yield
    finally:
        emulator.faults.denied = frozenset()


@contextmanager
def trust(setup: Setup, *, principal: str, external_id: str | None = None) -> Iterator[None]:
    """dev-b's audit role trusts `principal` (and requires `external_id`) inside the block."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    iam = setup.member("dev-b").client("iam")
    role = setup.organization.spec.audit_role_name
    original = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    iam.update_assume_role_policy(
        RoleName=role, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    try:
        yield
    finally:
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(original))
