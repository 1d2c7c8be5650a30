"""Before a run writes anything: is the environment as it needs? Each problem is one BrokenEnvironment line
naming the resource and what to do (the command exits 3), found in seconds instead of after the lake was
half updated.

Two steps: `check` before the run lock is taken (the reports folder, credentials, the Organization; the
lock's own write then finds a missing bucket), and `survey_lake` under the lock, before the first write:
the Glue tables, and the lake's files not known to be Parquet. It returns the run's view of the lake
(isoaudit.aws.lake_view), which the run's reads and writes use instead of listing again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from isoaudit.aws import lake, lake_check, lake_view
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, BrokenEnvironment, describe_failure

T = TypeVar("T")
POLICY_HINT = "give the identity infra/auditor-policy.yaml"


def check(*, aws: AwsSession, config: AuditConfig) -> None:
    """Reports folder, credentials, Organization: BrokenEnvironment."""
    reports = config.reports_dir
    if reports.exists() and not reports.is_dir():
        raise BrokenEnvironment(f"reports_dir {reports} is a file, not a folder: set reports_dir (or --out)")
    if aws.boto3_session.get_credentials() is None:
        raise BrokenEnvironment(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "run where a role is attached (the management or delegated administrator account's)"
        )
    _organization(aws)


def survey_lake(*, aws: AwsSession, config: AuditConfig) -> LakeView:
    """Under the run lock: the lake's files and state, the Glue tables, and the files not known to be
    Parquet (new since the last run, or replaced) read: BrokenEnvironment; else the run's view of the lake.
    An unchanged lake costs one listing, one read of the state and one Glue call."""
    view = _asking("S3", lambda: lake_view.survey(aws=aws, config=config))
    view.glue_tables = _glue_tables(aws, config)
    unchecked = view.unchecked()
    keys = [found.key for found in unchecked]
    bad = _asking("S3", lambda: lake_check.not_parquet_among(aws=aws, bucket=config.bucket, keys=keys))
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise BrokenEnvironment(
            f"lake file {bad[0]}{more} is not Parquet, and every read of its table would fail: run "
            "`isoaudit lake check --repair` (same --config/--bucket) to move it aside"
        )
    view.known_parquet(unchecked)
    return view


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


def _glue_tables(aws: AwsSession, config: AuditConfig) -> frozenset[str]:
    """The tables of the database (one GetTables call a hundred tables). A table registered by another lake
    (e.g. before `bucket` changed) would get this lake's files while Athena reads the other's."""
    glue = aws.client("glue")
    try:
        found = [
            table
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=config.database)
            for table in page["TableList"]
        ]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":  # no database yet
            return frozenset()
        raise BrokenEnvironment(f"Glue database {config.database}: {describe_failure(exc)}") from None
    except BotoCoreError as exc:
        raise BrokenEnvironment(describe_failure(exc, context="cannot reach Glue")) from None
    for table in found:
        if table["Name"] not in lake.LAYOUTS:
            continue  # the views, and tables of others
        location = table.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
        expected = lake.table_uri(config, table["Name"]).rstrip("/")
        if location and location != expected:
            raise BrokenEnvironment(
                f"Glue table {config.database}.{table['Name']} is registered at {location}, not {expected}: "
                f"set `database` to another Glue database, or drop the table (aws glue delete-table "
                f"--database-name {config.database} --name {table['Name']}) for isoaudit to register it again"
            )
    return frozenset(table["Name"] for table in found)


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
