"""`isoaudit doctor`: every prerequisite of a run, checked one by one before the first run, each with its fix.

Only reads, except one probe object written to and deleted from the bucket (the only proof that a write,
and its KMS encryption, is allowed). The SNS check reads the topic and its access policy without
publishing: that proves the topic exists, is reachable and lets the caller's account publish; the
caller's own sns:Publish permission is not provable without publishing (or IAM's policy simulator) and is
granted by infra/auditor-policy.yaml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from isoaudit.aws import organizations, probes, reports, ses
from isoaudit.aws.organizations import Account
from isoaudit.aws.session import AwsSession, default_session
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, describe_failure

# Accounts whose audit role is tried without --all: enough to catch a role never deployed by the StackSet.
SAMPLE_ACCOUNTS = 3
# Created by AWS Organizations in every account it creates; used only to tell why the audit role was
# refused, when the caller may assume it.
ORGANIZATION_ACCESS_ROLE = "OrganizationAccountAccessRole"
POLICY_FIX = "attach infra/auditor-policy.yaml (see infra/README.md) to the identity that runs isoaudit"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def render(check: Check) -> str:
    """✓ or ✗, the check and what was found; the fix on the next line. Text from AWS is shown inert."""
    line = f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}"
    if not check.ok and check.fix:
        line = f"{line}\n    fix: {check.fix}"
    return "\n".join(_CONTROL.sub("?", part) for part in line.split("\n"))


def run_checks(
    config: AuditConfig, *, every_account: bool = False, aws: AwsSession | None = None
) -> list[Check]:
    """Every check, in order; `aws` is the identity that runs isoaudit (default: the standard chain)."""
    aws = aws or default_session(region=config.home_region, endpoint_url=config.endpoint_url)
    identity, caller = _attempt(lambda: probes.caller_identity(aws=aws))
    if caller is None:
        return [Check("caller identity", False, identity, "set AWS credentials (AWS_PROFILE, or a role)")]
    checks = [Check("caller identity", True, caller["arn"])]
    organization, accounts = _organization(aws, caller_account=caller["account"])
    checks.append(organization)
    active = [
        account
        for account in accounts
        if account.status == "ACTIVE" and account.account_id not in config.exclude_accounts
    ]
    for account in active if every_account else active[:SAMPLE_ACCOUNTS]:
        checks.append(_audit_role(aws, config, account, caller_account=caller["account"]))
    checks += [_bucket(aws, config), _glue(aws, config), _athena(aws, config)]
    if config.sns_topic_arn:
        checks.append(_topic(aws, config.sns_topic_arn, caller_account=caller["account"]))
    if config.email is not None:
        checks.append(_sender(aws, config.email.sender))
    return checks


def _attempt(call: Callable[[], T]) -> tuple[str, T | None]:
    """The call's result, or why it failed (one line, credential-free) and None."""
    try:
        return "", call()
    except AUDIT_ERRORS as exc:
        return describe_failure(exc), None


def _code(reason: str) -> str:
    """The error code inside a describe_failure line (`Operation: Code: message`)."""
    parts = reason.split(": ")
    return parts[1] if len(parts) > 2 else parts[0]


def _organization(aws: AwsSession, *, caller_account: str) -> tuple[Check, list[Account]]:
    name = "Organizations read access"
    reason, management = _attempt(lambda: organizations.management_account_id(aws=aws))
    if management is not None:
        reason, accounts = _attempt(lambda: organizations.list_accounts(aws=aws))
        if accounts is not None:
            role = "the management account" if management == caller_account else "a delegated administrator"
            return Check(name, True, f"{len(accounts)} accounts read, as {role}"), accounts
    fix = (
        "run with the management account's credentials, or from a delegated administrator of "
        f"Organizations (infra/README.md); {POLICY_FIX}"
    )
    if "AWSOrganizationsNotInUse" in reason:
        fix = "this account belongs to no Organization: run from the Organization's management account"
    return Check(name, False, reason, fix), []


def _audit_role(aws: AwsSession, config: AuditConfig, account: Account, *, caller_account: str) -> Check:
    name = f"audit role in {account.name} ({account.account_id})"
    arn = role_arn(account_id=account.account_id, role_name=config.role_name)
    reason, _ = _attempt(
        lambda: assume_role(
            aws=aws,
            role_arn=arn,
            session_name="isoaudit-doctor",
            external_id=config.external_id,
            duration_seconds=900,
        )
    )
    if not reason:
        return Check(name, True, f"assumed {arn}")
    # STS answers a missing role and a refusing trust policy alike; the role itself says which it is.
    _, admin = _attempt(
        lambda: assume_role(
            aws=aws,
            role_arn=role_arn(account_id=account.account_id, role_name=ORGANIZATION_ACCESS_ROLE),
            session_name="isoaudit-doctor",
            duration_seconds=900,
        )
    )
    if admin is None:
        return Check(
            name,
            False,
            f"{reason} (STS does not say whether the role is missing or its trust policy refuses; "
            f"{ORGANIZATION_ACCESS_ROLE} could not be assumed to look)",
            f"deploy infra/audit-role.yaml to this account (README step 1) with AuditingAccountId="
            f"{caller_account}, and set external_id to the role's ExternalId if it has one",
        )
    lookup, role = _attempt(lambda: probes.role(aws=admin, role_name=config.role_name))
    if role is None:
        if _code(lookup) == "NoSuchEntity":
            return Check(
                name,
                False,
                f"role {config.role_name} does not exist in this account",
                "deploy infra/audit-role.yaml to this account: the StackSet of README step 1 (or a plain "
                "stack in the management account, which a StackSet does not reach)",
            )
        return Check(name, False, f"{reason}; the role could not be read: {lookup}", POLICY_FIX)
    return _trust_mismatch(name, config, role, caller_account=caller_account, reason=reason)


def _trust_mismatch(
    name: str, config: AuditConfig, role: dict[str, Any], *, caller_account: str, reason: str
) -> Check:
    """Why an existing role refused the caller, from its trust policy."""
    trust = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(trust, str):
        trust = json.loads(trust)
    statements = trust.get("Statement", [])
    allows = statements if isinstance(statements, list) else [statements]
    principals = {
        principal
        for statement in allows
        if statement.get("Effect") == "Allow"
        for principal in _as_list((statement.get("Principal") or {}).get("AWS"))
    }
    trusted = {"*", caller_account, f"arn:aws:iam::{caller_account}:root"} & principals
    external_ids = [
        statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId") for statement in allows
    ]
    if not trusted:
        return Check(
            name,
            False,
            f"the role exists, but its trust policy does not trust account {caller_account}",
            f"redeploy infra/audit-role.yaml with AuditingAccountId={caller_account}",
        )
    if any(external_ids):
        given = "none is configured" if not config.external_id else "the configured one differs"
        return Check(
            name,
            False,
            f"the role exists and trusts this account, but requires an ExternalId and {given}",
            "set external_id (or ISOAUDIT_EXTERNAL_ID, or --external-id) to the ExternalId the role was "
            "deployed with",
        )
    return Check(name, False, f"the role exists and trusts this account, yet: {reason}", POLICY_FIX)


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _bucket(aws: AwsSession, config: AuditConfig) -> Check:
    name = f"bucket {config.bucket}"
    key = f"{reports.week_prefix(config, 'doctor')}/probe.txt"
    reason, _ = _attempt(
        lambda: reports.put(
            aws=aws, config=config, key=key, body=b"isoaudit doctor", content_type="text/plain"
        )
    )
    if reason:
        code = _code(reason)
        if code == "NoSuchBucket":
            fix = f"create the bucket (aws s3 mb s3://{config.bucket}) or set `bucket` to an existing one"
        elif config.kms_key_id and ("KMS" in reason or "kms" in reason):
            fix = (
                "check kms_key_id: the key must exist in the bucket's region and allow this identity "
                "kms:GenerateDataKey through S3 (infra/auditor-policy.yaml, KmsKeyArn)"
            )
        else:
            fix = f"{POLICY_FIX} (LakeBucket={config.bucket}, LakePrefix={config.prefix})"
        return Check(name, False, f"probe object not written: {reason}", fix)
    reason, _ = _attempt(lambda: reports.delete(aws=aws, config=config, key=key))
    if reason:
        return Check(name, False, f"probe object written but not deleted: {reason}", POLICY_FIX)
    encrypted = f", SSE-KMS with {config.kms_key_id}" if config.kms_key_id else ""
    return Check(name, True, f"probe object written and deleted under {config.prefix}/{encrypted}")


def _glue(aws: AwsSession, config: AuditConfig) -> Check:
    name = f"Glue database {config.database}"
    reason, _ = _attempt(lambda: probes.glue_database(aws=aws, name=config.database))
    if not reason:
        return Check(name, True, "exists")
    if _code(reason) == "EntityNotFoundException":
        return Check(name, True, "not created yet: the first run creates it")
    return Check(name, False, reason, f"{POLICY_FIX} (GlueDatabase={config.database})")


def _athena(aws: AwsSession, config: AuditConfig) -> Check:
    name = f"Athena workgroup {config.athena_workgroup}"
    reason, workgroup = _attempt(lambda: probes.athena_workgroup(aws=aws, name=config.athena_workgroup))
    if workgroup is None:
        fix = f"{POLICY_FIX} (AthenaWorkgroup={config.athena_workgroup})"
        if not reason or _code(reason) == "InvalidRequestException":
            reason = reason or "no such workgroup"
            fix = (
                f"create it (aws athena create-work-group --name {config.athena_workgroup}) or set "
                "athena_workgroup to an existing one"
            )
        return Check(name, False, reason, fix)
    if workgroup.get("State") == "DISABLED":
        return Check(
            name,
            False,
            "disabled",
            f"aws athena update-work-group --work-group {config.athena_workgroup} --state ENABLED",
        )
    settings = workgroup.get("Configuration", {})
    enforced = settings.get("EnforceWorkGroupConfiguration") and settings.get("ResultConfiguration", {}).get(
        "OutputLocation"
    )
    output = enforced or config.athena_output
    reason, _ = _attempt(lambda: probes.bucket_exists(aws=aws, bucket=output.split("/")[2]))
    if reason:
        return Check(
            name,
            False,
            f"output location {output} not reachable: {reason}",
            "point the workgroup's output location to an existing bucket isoaudit may write",
        )
    whose = "the workgroup's (enforced)" if enforced else "isoaudit's"
    return Check(name, True, f"enabled; query results go to {output} ({whose})")


def _topic(aws: AwsSession, topic_arn: str, *, caller_account: str) -> Check:
    name = f"SNS topic {topic_arn.rsplit(':', 1)[-1]}"
    reason, attributes = _attempt(lambda: probes.topic_attributes(aws=aws, topic_arn=topic_arn))
    if attributes is None:
        fix = "create the topic or fix sns_topic_arn" if _code(reason) == "NotFound" else POLICY_FIX
        return Check(name, False, reason, fix)
    owner = attributes.get("Owner", "")
    if owner != caller_account and not _policy_lets_publish(attributes.get("Policy"), caller_account):
        return Check(
            name,
            False,
            f"the topic belongs to account {owner} and its access policy does not let account "
            f"{caller_account} publish",
            f"add to the topic's access policy: Allow sns:Publish to arn:aws:iam::{caller_account}:root",
        )
    return Check(name, True, "exists and accepts this account's messages (nothing published)")


# Condition keys whose value is an account id: the only conditions the topic check evaluates.
ACCOUNT_CONDITION_KEYS = {"aws:sourceowner", "aws:sourceaccount", "aws:principalaccount"}


def _policy_lets_publish(policy: str | None, account: str) -> bool:
    """Whether a topic's access policy lets `account` publish. A statement with another condition than an
    account test is not counted: what it allows cannot be told from here."""
    statements = json.loads(policy or "{}").get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        principals = ["*"] if principal == "*" else _as_list(principal.get("AWS"))
        actions = {action.lower() for action in _as_list(statement.get("Action"))}
        conditions = statement.get("Condition", {})
        tests = {key.lower(): _as_list(value) for key, value in conditions.get("StringEquals", {}).items()}
        if (
            statement.get("Effect") == "Allow"
            and actions & {"sns:publish", "sns:*", "*"}
            and {"*", account, f"arn:aws:iam::{account}:root"} & set(principals)
            and set(conditions) <= {"StringEquals"}
            and set(tests) <= ACCOUNT_CONDITION_KEYS
            and all(account in values for values in tests.values())
        ):
            return True
    return False


def _sender(aws: AwsSession, sender: str) -> Check:
    name = f"SES sender {sender}"
    reason, status = _attempt(lambda: ses.verification_status(aws=aws, sender=sender))
    if status is None:
        return Check(name, False, reason, POLICY_FIX)
    if status != "Success":
        return Check(
            name,
            False,
            f"not a verified SES identity in {aws.region} (status {status})",
            f"aws ses verify-email-identity --email-address {sender} (then follow the link SES sends), "
            "or verify its domain",
        )
    return Check(name, True, f"verified in {aws.region}")
