"""Preventive coverage from AWS: the service control policies in effect, read through Organizations, and
judged per member account by `isoaudit.metrics.preventive`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from isoaudit.aws import organizations
from isoaudit.aws.organizations import Account, ServiceControlPolicy
from isoaudit.aws.session import AwsSession
from isoaudit.metrics.preventive import preventive_coverage
from isoaudit.records import accounts_frame

# The deployable guardrails: packaged as isoaudit/infra in a wheel, at the project's root in a checkout
# (src/isoaudit/guardrails.py -> <project>/infra).
_PACKAGED = Path(__file__).resolve().parent / "infra"
INFRA = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "infra"
SCP_PATH = INFRA / "deny-training-without-isolation.json"
GUARDRAILS = {
    "role": (INFRA / "audit-role.yaml", "CloudFormation: the read-only audit role, for a StackSet"),
    "auditor": (INFRA / "auditor-policy.yaml", "CloudFormation: the policy of whoever runs isoaudit"),
    "scp": (SCP_PATH, "Service control policy: no SageMaker job or model without network isolation"),
    "detect": (
        INFRA / "detect-non-isolated-jobs.yaml",
        "CloudFormation, for a StackSet in every region: forwards each non-isolated job created, in minutes",
    ),
    "detect-central": (
        INFRA / "detect-central.yaml",
        "CloudFormation, auditing account: the detections' event bus and its SNS alert (optional SQS queue)",
    ),
    "sdk-defaults": (
        INFRA / "sagemaker-sdk-defaults.yaml",
        "SageMaker Python SDK administrator defaults: network isolation on unless code says otherwise",
    ),
}


def read_preventive_coverage(*, aws: AwsSession, accounts: Sequence[Account]) -> pd.DataFrame:
    """One row per ACTIVE member account of `accounts` (the management account left out): account_id,
    account_name, covered, policies. AWS errors propagate: the caller decides what an unread SCP means."""
    policies = organizations.list_service_control_policies(aws=aws)
    return preventive_coverage(
        accounts_frame(accounts),
        policies=attachments_frame(policies),
        targets=targets_frame(accounts),
        management_account_id=organizations.management_account_id(aws=aws),
    )


def attachments_frame(policies: Sequence[ServiceControlPolicy]) -> pd.DataFrame:
    """One row per (policy, target) it is attached to: target_id, policy_id, policy_name, content."""
    rows = [
        {
            "target_id": target_id,
            "policy_id": policy.policy_id,
            "policy_name": policy.name,
            "content": policy.content,
        }
        for policy in policies
        for target_id in policy.target_ids
    ]
    return pd.DataFrame(rows, columns=["target_id", "policy_id", "policy_name", "content"], dtype=object)


def targets_frame(accounts: Sequence[Account]) -> pd.DataFrame:
    """Where SCPs reach each account from: the root, every OU down to it, and the account itself."""
    rows = [
        {"account_id": account.account_id, "target_id": target_id}
        for account in accounts
        for target_id in (*account.ou_ids, account.account_id)
    ]
    return pd.DataFrame(rows, columns=["account_id", "target_id"], dtype=object)
