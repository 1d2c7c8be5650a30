"""Before a run writes anything: is the environment as it needs? Each problem is one BrokenEnvironment line
naming the resource and what to do (the command exits 3), found in seconds instead of after the lake was
half updated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from isoaudit.aws import lake, lake_check
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, BrokenEnvironment, describe_failure

T = TypeVar("T")
POLICY_HINT = "give the identity infra/auditor-policy.yaml"


def check(*, aws: AwsSession, config: AuditConfig) -> None:
    """Reports folder, credentials, Organization, bucket, Glue tables, lake files: BrokenEnvironment."""
    reports = config.reports_dir
    if reports.exists() and not reports.is_dir():
        raise BrokenEnvironment(f"reports_dir {reports} is a file, not a folder: set reports_dir (or --out)")
    if aws.boto3_session.get_credentials() is None:
        raise BrokenEnvironment(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "run where a role is attached (the management or delegated administrator account's)"
        )
    _organization(aws)
    _bucket(aws, config)
    _glue_tables(aws, config)
    bad = _asking("S3", lambda: lake_check.not_parquet(aws=aws, config=config))
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise BrokenEnvironment(
            f"lake file {bad[0]}{more} is not Parquet, and every read of its table would fail: run "
            "`isoaudit lake check --repair` (same --config/--bucket) to move it aside"
        )


def _organization(aws: AwsSession) -> None:
    code = _error_code(lambda: aws.client("organizations").describe_organization())
    if code == "AWSOrganizationsNotInUseException":
        raise BrokenEnvironment(
            "these credentials' account is not in an AWS Organization: run isoaudit with the management "
            "(or delegated administrator) account's credentials"
        )
    if code:
        raise BrokenEnvironment(
            f"AWS Organizations refused DescribeOrganization ({code}): run from the management or a "
            f"delegated administrator account and {POLICY_HINT}"
        )


def _bucket(aws: AwsSession, config: AuditConfig) -> None:
    code = _error_code(lambda: aws.client("s3").head_bucket(Bucket=config.bucket))
    if code in {"404", "NoSuchBucket", "NotFound"}:
        raise BrokenEnvironment(
            f"bucket {config.bucket} does not exist: create it (aws s3 mb s3://{config.bucket}) or set "
            "`bucket`"
        )
    if code:
        raise BrokenEnvironment(f"bucket {config.bucket} cannot be read ({code}): {POLICY_HINT}")


def _glue_tables(aws: AwsSession, config: AuditConfig) -> None:
    """A table registered by another lake (e.g. before `bucket` changed) would get this lake's partitions
    while Athena reads the other's files."""
    glue = aws.client("glue")
    for table in lake.LAYOUTS:
        try:
            found = glue.get_table(DatabaseName=config.database, Name=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                continue
            raise BrokenEnvironment(
                f"Glue table {config.database}.{table}: {describe_failure(exc)}"
            ) from None
        except BotoCoreError as exc:
            raise BrokenEnvironment(describe_failure(exc, context="cannot reach Glue")) from None
        location = found.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
        expected = lake.table_uri(config, table).rstrip("/")
        if location and location != expected:
            raise BrokenEnvironment(
                f"Glue table {config.database}.{table} is registered at {location}, not {expected}: set "
                f"`database` to another Glue database, or drop the table (aws glue delete-table "
                f"--database-name {config.database} --name {table}) for isoaudit to register it again"
            )


def _error_code(call: Callable[[], object]) -> str:
    """The AWS error code of `call` ("" when it succeeded); BrokenEnvironment when AWS is out of reach."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code") or "Error")
    except NoCredentialsError:
        raise BrokenEnvironment("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID") from None
    except EndpointConnectionError as exc:
        raise BrokenEnvironment(
            f"cannot reach AWS at {exc.kwargs.get('endpoint_url')}: check endpoint_url"
        ) from None
    except AUDIT_ERRORS as exc:
        raise BrokenEnvironment(describe_failure(exc, context="AWS answered unexpectedly")) from None
    return ""


def _asking(service: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except AUDIT_ERRORS as exc:
        raise BrokenEnvironment(describe_failure(exc, context=f"{service}: {POLICY_HINT}")) from None
