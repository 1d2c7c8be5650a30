"""SageMaker: every job of one kind in one account-region, in as few calls as AWS allows.

`Search` returns up to 100 whole records (tags included) per call; `List*` is the ground truth of what
exists. Jobs listed but not returned by Search are described one by one, so nothing is missed either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from isoaudit.aws.session import AwsSession

PAGE_SIZE = 100


@dataclass(frozen=True)
class JobKind:
    name: str
    list_operation: str
    summaries_key: str
    name_key: str
    arn_key: str
    describe_operation: str
    search_resource: str | None


TRAINING = JobKind(
    name="training",
    list_operation="list_training_jobs",
    summaries_key="TrainingJobSummaries",
    name_key="TrainingJobName",
    arn_key="TrainingJobArn",
    describe_operation="describe_training_job",
    search_resource="TrainingJob",
)
TUNING = JobKind(
    name="tuning",
    list_operation="list_hyper_parameter_tuning_jobs",
    summaries_key="HyperParameterTuningJobSummaries",
    name_key="HyperParameterTuningJobName",
    arn_key="HyperParameterTuningJobArn",
    describe_operation="describe_hyper_parameter_tuning_job",
    search_resource=None,
)
PROCESSING = JobKind(
    name="processing",
    list_operation="list_processing_jobs",
    summaries_key="ProcessingJobSummaries",
    name_key="ProcessingJobName",
    arn_key="ProcessingJobArn",
    describe_operation="describe_processing_job",
    search_resource=None,
)
JOB_KINDS = (TRAINING, TUNING, PROCESSING)


def fetch_jobs(
    *, aws: AwsSession, region: str, kind: JobKind, modified_after: datetime | None = None
) -> list[dict[str, Any]]:
    """Whole records (with `Tags`) of every job of `kind` changed after `modified_after` (all if None)."""
    client = aws.client("sagemaker", region=region)
    records: dict[str, dict[str, Any]] = {}
    if kind.search_resource:
        for record in _search(client, kind, modified_after):
            records[record[kind.arn_key]] = record
    for summary in _list(client, kind, modified_after):
        if summary[kind.arn_key] not in records:
            records[summary[kind.arn_key]] = _describe(client, kind, summary[kind.name_key])
    return list(records.values())


def _search(client: BaseClient, kind: JobKind, modified_after: datetime | None) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"Resource": kind.search_resource, "MaxResults": PAGE_SIZE}
    if modified_after is not None:
        request["SearchExpression"] = {
            "Filters": [
                {"Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": modified_after.isoformat()}
            ]
        }
    while True:
        page = client.search(**request)
        for result in page.get("Results", []):
            yield result[kind.search_resource]
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _list(client: BaseClient, kind: JobKind, modified_after: datetime | None) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"MaxResults": PAGE_SIZE}
    if modified_after is not None:
        request["LastModifiedTimeAfter"] = modified_after
    while True:
        page = getattr(client, kind.list_operation)(**request)
        yield from page.get(kind.summaries_key, [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _describe(client: BaseClient, kind: JobKind, name: str) -> dict[str, Any]:
    record = getattr(client, kind.describe_operation)(**{kind.name_key: name})
    record.pop("ResponseMetadata", None)
    tags: list[dict[str, str]] = []
    request: dict[str, Any] = {"ResourceArn": record[kind.arn_key]}
    while True:
        page = client.list_tags(**request)
        tags.extend(page.get("Tags", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    record["Tags"] = tags
    return record
