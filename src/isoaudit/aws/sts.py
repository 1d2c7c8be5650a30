"""STS: assume the read-only audit role in a member account."""

from __future__ import annotations

from dataclasses import replace

from isoaudit.aws.session import AwsSession, TemporaryCredentials
from isoaudit.errors import expect


def assume_role(
    *,
    aws: AwsSession,
    role_arn: str,
    session_name: str,
    external_id: str | None = None,
    duration_seconds: int = 3600,
) -> AwsSession:
    """A session in the member account; its credentials live in memory only."""
    request = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration_seconds}
    if external_id:
        request["ExternalId"] = external_id
    credentials = expect(aws.client("sts").assume_role(**request), "Credentials", operation="STS AssumeRole")[
        "Credentials"
    ]
    # The member session shares the auditor's boto3 session (its parsed service models and endpoint data,
    # costly to build per account) and differs only in the credentials its clients sign with.
    return replace(
        aws,
        credentials=TemporaryCredentials(
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
        ),
    )


def role_arn(*, account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"
