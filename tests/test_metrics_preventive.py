"""Preventive coverage: SCP documents in effect on an account, its OUs and the root."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from isoaudit.metrics.preventive import PolicyEffect, policy_effect, preventive_coverage, preventive_rate

ISOLATION = "sagemaker:NetworkIsolation"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny(
    action: Any = "sagemaker:CreateTrainingJob", condition: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    statement = {"Effect": "Deny", "Action": action, "Resource": "*", **extra}
    if condition is not None:
        statement["Condition"] = condition
    return statement


BOOL_IF_EXISTS = {"BoolIfExists": {ISOLATION: "false"}}
BOOL = {"Bool": {ISOLATION: "false"}}
NULL = {"Null": {ISOLATION: "true"}}
FULL_AWS_ACCESS = document({"Effect": "Allow", "Action": "*", "Resource": "*"})
BOTH = PolicyEffect(denies_false_and_absent=True)


@pytest.mark.parametrize(
    ("content", "effect"),
    [
        (
            document(deny(["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob"], BOOL_IF_EXISTS)),
            BOTH,
        ),
        (document(deny("sagemaker:*", BOOL_IF_EXISTS)), BOTH),
        (document(deny("sagemaker:CreateTraining*", BOOL_IF_EXISTS)), BOTH),
        (document(deny("*", BOOL_IF_EXISTS)), BOTH),
        (document(deny("SageMaker:createtrainingjob", BOOL_IF_EXISTS)), BOTH),  # actions ignore case
        # A JSON boolean, and a Statement that is an object rather than a list.
        (
            json.dumps(
                {"Statement": deny(condition={"BoolIfExists": {"SageMaker:NetworkIsolation": False}})}
            ),
            BOTH,
        ),
        (document(deny()), BOTH),  # no condition: training jobs are denied outright
        (document(deny(condition=BOOL)), PolicyEffect(denies_false=True)),
        (document(deny(condition=NULL)), PolicyEffect(denies_absent=True)),
        (
            document(deny(condition=BOOL), deny(condition=NULL)),
            PolicyEffect(denies_false=True, denies_absent=True),
        ),
        # Denies everything but S3: training jobs included.
        (
            document(
                {
                    "Effect": "Deny",
                    "NotAction": ["s3:*", "iam:*"],
                    "Resource": "*",
                    "Condition": BOOL_IF_EXISTS,
                }
            ),
            BOTH,
        ),
        (document(deny(condition=BOOL_IF_EXISTS, Resource="arn:aws:sagemaker:*:*:training-job/*")), BOTH),
    ],
)
def test_policies_that_deny(content: str, effect: PolicyEffect) -> None:
    assert policy_effect(content) == effect


@pytest.mark.parametrize(
    "content",
    [
        FULL_AWS_ACCESS,  # allow statements never count
        document(
            {
                "Effect": "Allow",
                "Action": "sagemaker:CreateTrainingJob",
                "Resource": "*",
                "Condition": BOOL_IF_EXISTS,
            }
        ),
        document(deny("sagemaker:CreateProcessingJob", BOOL_IF_EXISTS)),
        document(deny("sagemaker:CreateT?ainingJobs", BOOL_IF_EXISTS)),
        document(
            {"Effect": "Deny", "NotAction": "sagemaker:*", "Resource": "*", "Condition": BOOL_IF_EXISTS}
        ),
        document(deny(condition={"BoolIfExists": {ISOLATION: "true"}})),  # denies isolated jobs instead
        document(deny(condition={"Null": {ISOLATION: "false"}})),
        # An exemption leaves a hole of unknown size: not counted.
        document(
            deny(
                condition={**BOOL_IF_EXISTS, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}}
            )
        ),
        # Both tests in one statement are ANDed: a request cannot be false and absent at once.
        document(deny(condition={**BOOL, **NULL})),
        document(deny(condition=BOOL_IF_EXISTS, Resource="arn:aws:sagemaker:us-east-1:*:training-job/*")),
        document({"Effect": "Deny", "Action": "*", "NotResource": "*", "Condition": BOOL_IF_EXISTS}),
        "{not json",
        json.dumps(["not", "a", "policy"]),
    ],
)
def test_policies_that_do_not_deny(content: str) -> None:
    assert policy_effect(content) == PolicyEffect()


def test_preventive_coverage_per_account() -> None:
    accounts = pd.DataFrame(
        [
            ("111111111111", "prod", "ACTIVE"),
            ("222222222222", "dev", "ACTIVE"),
            ("333333333333", "dev-2", "ACTIVE"),
            ("444444444444", "legacy", "ACTIVE"),
            ("555555555555", "closed", "SUSPENDED"),
            ("999999999999", "management", "ACTIVE"),
        ],
        columns=["account_id", "account_name", "account_status"],
    ).assign(ou_path="/", tags_json="{}")
    policies = pd.DataFrame(
        [
            ("r-root", "p-full", "FullAWSAccess", FULL_AWS_ACCESS),
            ("ou-prod", "p-strict", "deny-open-training", document(deny("sagemaker:*", BOOL_IF_EXISTS))),
            ("ou-dev", "p-bool", "deny-isolation-false", document(deny(condition=BOOL))),
            ("222222222222", "p-null", "deny-isolation-absent", document(deny(condition=NULL))),
            (
                "ou-legacy",
                "p-exempt",
                "deny-except-admin",
                document(
                    deny(
                        condition={
                            **BOOL_IF_EXISTS,
                            "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"},
                        }
                    )
                ),
            ),
        ],
        columns=["target_id", "policy_id", "policy_name", "content"],
    )
    chains = {
        "111111111111": ["r-root", "ou-prod"],
        "222222222222": ["r-root", "ou-dev"],
        "333333333333": ["r-root", "ou-dev"],
        "444444444444": ["r-root", "ou-legacy"],
        "999999999999": ["r-root"],
    }
    targets = pd.DataFrame(
        [(account, target) for account, ous in chains.items() for target in (*ous, account)],
        columns=["account_id", "target_id"],
    )
    result = preventive_coverage(
        accounts, policies=policies, targets=targets, management_account_id="999999999999"
    )
    assert result.to_dict("records") == [
        {
            "account_id": "111111111111",
            "account_name": "prod",
            "covered": True,
            "policies": "deny-open-training",
        },
        # Bool false on the OU and Null true on the account: together they cover.
        {
            "account_id": "222222222222",
            "account_name": "dev",
            "covered": True,
            "policies": "deny-isolation-absent, deny-isolation-false",
        },
        # Bool alone lets through a request that omits the parameter.
        {
            "account_id": "333333333333",
            "account_name": "dev-2",
            "covered": False,
            "policies": "deny-isolation-false",
        },
        {"account_id": "444444444444", "account_name": "legacy", "covered": False, "policies": ""},
    ]
    assert preventive_rate(result) == 50.0


def test_no_policies_at_all() -> None:
    accounts = pd.DataFrame(
        {"account_id": ["111111111111"], "account_name": ["a"], "account_status": ["ACTIVE"]}
    )
    policies = pd.DataFrame(columns=["target_id", "policy_id", "policy_name", "content"])
    targets = pd.DataFrame({"account_id": ["111111111111"], "target_id": ["r-root"]})
    result = preventive_coverage(accounts, policies=policies, targets=targets)
    assert result[["covered", "policies"]].to_dict("records") == [{"covered": False, "policies": ""}]
    assert preventive_rate(result) == 0.0
