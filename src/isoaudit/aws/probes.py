"""The reads `isoaudit doctor` makes to check a run's prerequisites, and nothing else."""

from __future__ import annotations

from typing import Any

from isoaudit.aws.session import AwsSession
from isoaudit.aws.sns import topic_region


def caller_identity(*, aws: AwsSession) -> dict[str, str]:
    answer = aws.client("sts").get_caller_identity()
    return {"account": answer["Account"], "arn": answer["Arn"]}


def role(*, aws: AwsSession, role_name: str) -> dict[str, Any]:
    """The role (with its trust policy as a dict), read in the session's account."""
    return aws.client("iam").get_role(RoleName=role_name)["Role"]


def glue_database(*, aws: AwsSession, name: str) -> dict[str, Any]:
    return aws.client("glue").get_database(Name=name)["Database"]


def athena_workgroup(*, aws: AwsSession, name: str) -> dict[str, Any] | None:
    """The workgroup; None when there is none of that name (AWS raises InvalidRequestException instead;
    moto answers an empty document)."""
    return aws.client("athena").get_work_group(WorkGroup=name).get("WorkGroup")


def bucket_exists(*, aws: AwsSession, bucket: str) -> None:
    """Raises when the bucket is missing or not readable (HeadBucket, allowed by s3:ListBucket)."""
    aws.client("s3").head_bucket(Bucket=bucket)


def topic_attributes(*, aws: AwsSession, topic_arn: str) -> dict[str, str]:
    client = aws.client("sns", region=topic_region(topic_arn))
    return client.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
