"""S3 objects of the report archive: the workbook, the run's JSON summary and the sent-email markers, under
`<prefix>/reports/<ISO week>/` in the lake's bucket (SSE-KMS when a key is configured)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig

NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def week_prefix(config: AuditConfig, week: str) -> str:
    return f"{config.prefix.strip('/')}/reports/{week}"


def uri(config: AuditConfig, key: str) -> str:
    return f"s3://{config.bucket}/{key}"


def put(*, aws: AwsSession, config: AuditConfig, key: str, body: bytes, content_type: str) -> None:
    """Write (or replace) one object; SSE-KMS with the configured key, as every lake write."""
    extra = {}
    if config.kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_id}
    aws.client("s3").put_object(Bucket=config.bucket, Key=key, Body=body, ContentType=content_type, **extra)


def get(*, aws: AwsSession, config: AuditConfig, key: str) -> bytes | None:
    """The object's bytes, or None when there is no such object."""
    try:
        return aws.client("s3").get_object(Bucket=config.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            return None
        raise


def delete(*, aws: AwsSession, config: AuditConfig, key: str) -> None:
    aws.client("s3").delete_object(Bucket=config.bucket, Key=key)
