"""STS: assume the read-only audit role in a member account."""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session

from isoaudit.aws.session import AwsSession

_SHARED_LOADER = botocore.loaders.create_loader()


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
    credentials = aws.client("sts").assume_role(**request)["Credentials"]
    core = botocore.session.Session()
    # Service models are large JSON files: parse them once per process, not once per member account.
    core.register_component("data_loader", _SHARED_LOADER)
    member = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=aws.region,
        botocore_session=core,
    )
    return AwsSession(member, endpoint_url=aws.endpoint_url, counter=aws.counter)


def role_arn(*, account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"
