"""Preventive coverage from AWS: the service control policies in effect, read through Organizations, and
judged per member account by `isoaudit.metrics.preventive`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from isoaudit.aws import organizations
from isoaudit.aws.organizations import Account, ServiceControlPolicy
from isoaudit.aws.session import AwsSession
from isoaudit.metrics.preventive import preventive_coverage
from isoaudit.records import accounts_frame


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
