"""Preventive coverage: which member accounts a service control policy stops from creating training jobs
without network isolation.

Input (collected from AWS Organizations by the caller):

- `policies`: one row per SCP attachment: target_id (root, OU or account id), policy_id, policy_name,
  content (the policy document, JSON text as DescribePolicy returns it).
- `targets`: one row per (account_id, target_id) for every target whose SCPs are in effect for the
  account: the root, each OU on the path down to the account, and the account itself. From
  organizations.Account: [(a.account_id, t) for t in (*a.ou_ids, a.account_id)].

Rule (only Deny statements matter; the implicit deny of an allow-list SCP is not a guardrail we can name).
A Deny statement counts when its actions cover sagemaker:CreateTrainingJob (listed, wildcarded such as
"sagemaker:*", "sagemaker:CreateTraining*" or "*", or not excluded by NotAction), its resources cover every
training job ("*" or e.g. "arn:aws:sagemaker:*:*:training-job/*"), and its condition is one of:

- none at all (training jobs are denied outright);
- BoolIfExists {"sagemaker:NetworkIsolation": "false"}: denies false and absent;
- Bool {"sagemaker:NetworkIsolation": "false"}: denies false only, so it counts only together with a
- Null {"sagemaker:NetworkIsolation": "true"} statement (absent), both in effect for the account, in the
  same policy or not.

A statement with any further condition (for example an exemption for a role) does not count: the guardrail
then has a hole that this report cannot size. Only ACTIVE member accounts are listed; the management
account (never subject to SCPs) is left out when its id is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from isoaudit.job_kinds import TRAINING

# The guardrail measured is the one on creating training jobs (the kind most runs are; the templates in
# infra/ deny every kind's creation alike).
ACTION = TRAINING.scp_action.lower()
ISOLATION_KEY = "sagemaker:networkisolation"
# Training job ARNs that a covering Resource pattern must match (any region, account and name).
_SAMPLE_ARNS = (
    f"arn:aws:sagemaker:us-east-1:111122223333:{TRAINING.arn_type}/job-a",
    f"arn:aws:sagemaker:eu-west-3:444455556666:{TRAINING.arn_type}/another-training-job-2026",
)
PREVENTIVE_COLUMNS = ("account_id", "account_name", "covered", "policies")


@dataclass(frozen=True)
class PolicyEffect:
    """What a policy denies for training jobs created without network isolation."""

    denies_false_and_absent: bool = False
    denies_false: bool = False
    denies_absent: bool = False


def policy_effect(content: str) -> PolicyEffect:
    """Read one SCP document; unreadable documents deny nothing."""
    try:
        document = json.loads(content)
    except (TypeError, ValueError):
        return PolicyEffect()
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found = [
        _statement_effect(statement)
        for statement in statements
        if isinstance(statement, dict) and _denies_training_jobs(statement)
    ]
    return PolicyEffect(
        denies_false_and_absent="both" in found,
        denies_false="false" in found,
        denies_absent="absent" in found,
    )


def preventive_coverage(
    accounts: pd.DataFrame,
    *,
    policies: pd.DataFrame,
    targets: pd.DataFrame,
    management_account_id: str | None = None,
) -> pd.DataFrame:
    """One row per ACTIVE member account: account_id, account_name, covered (bool) and policies (the
    names, comma-separated, of the SCPs in effect that deny at least part of the case)."""
    members = accounts.loc[
        (accounts["account_status"] == "ACTIVE") & (accounts["account_id"] != management_account_id),
        ["account_id", "account_name"],
    ].drop_duplicates("account_id")
    effects = {content: policy_effect(content) for content in policies["content"].unique()}
    in_effect = targets[["account_id", "target_id"]].merge(
        policies[["target_id", "policy_name", "content"]], on="target_id"
    )
    found = [effects[content] for content in in_effect["content"]]
    flags = pd.DataFrame(
        {
            "both": [effect.denies_false_and_absent for effect in found],
            "false": [effect.denies_false for effect in found],
            "absent": [effect.denies_absent for effect in found],
        },
        index=in_effect.index,
        dtype=bool,
    )
    per_account = flags.groupby(in_effect["account_id"]).any()
    named = in_effect.loc[flags.any(axis=1)].groupby("account_id")["policy_name"].agg(_names)
    rows = members.set_index("account_id")
    rows = rows.join(per_account).join(named.rename("policies"))
    state = rows[["both", "false", "absent"]].fillna(False).astype(bool)
    covered = state["both"] | (state["false"] & state["absent"])
    result = rows.assign(covered=covered, policies=rows["policies"].fillna("")).reset_index()
    return result[list(PREVENTIVE_COLUMNS)].sort_values("account_id", ignore_index=True)


def preventive_rate(preventive: pd.DataFrame) -> float:
    """Covered accounts / member accounts, in % (NaN without accounts)."""
    return float(100 * preventive["covered"].mean()) if len(preventive) else np.nan


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(set(names)))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    """IAM wildcards: * any run of characters, ? one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def _matches(patterns: Any, value: str, *, case_sensitive: bool = False) -> bool:
    return any(
        isinstance(pattern, str) and _glob(pattern, case_sensitive=case_sensitive).fullmatch(value)
        for pattern in _as_list(patterns)
    )


def _covers_all_training_jobs(patterns: Any) -> bool:
    return all(_matches(patterns, arn, case_sensitive=True) for arn in _SAMPLE_ARNS)


def _denies_training_jobs(statement: dict[str, Any]) -> bool:
    if str(statement.get("Effect", "")).lower() != "deny":
        return False
    if "NotAction" in statement:
        acts = not _matches(statement["NotAction"], ACTION)
    else:
        acts = _matches(statement.get("Action", []), ACTION)
    if "NotResource" in statement:
        resources = not any(
            _matches(statement["NotResource"], arn, case_sensitive=True) for arn in _SAMPLE_ARNS
        )
    else:
        resources = _covers_all_training_jobs(statement.get("Resource", "*"))
    return acts and resources


def _statement_effect(statement: dict[str, Any]) -> str | None:
    """'both' (false and absent denied), 'false', 'absent' or None for a Deny on training jobs."""
    condition = statement.get("Condition") or {}
    if not isinstance(condition, dict):
        return None
    if not condition:
        return "both"
    tests = [
        (operator, str(key).lower(), {str(value).lower() for value in _as_list(values)})
        for operator, block in condition.items()
        if isinstance(block, dict)
        for key, values in block.items()
    ]
    if len(tests) != 1 or tests[0][1] != ISOLATION_KEY:
        return None
    operator, _, values = tests[0]
    if operator == "BoolIfExists" and "false" in values:
        return "both"
    if operator == "Bool" and "false" in values:
        return "false"
    if operator == "Null" and "true" in values:
        return "absent"
    return None
