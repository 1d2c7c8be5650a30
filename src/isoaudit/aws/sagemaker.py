"""SageMaker: the jobs of one account-region, in as few calls as AWS allows.

`Search` returns up to 100 whole training job records (tags included) per call; `List*` is the ground
truth of what exists; `Describe*` + `ListTags` (two calls a job) is kept for what neither gives whole.
"""

from __future__ import annotations

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


def search_training_jobs(
    *, aws: AwsSession, region: str, modified_after: datetime | None = None
) -> list[dict[str, Any]]:
    """Whole training job records, tags included, 100 per call; only those changed after `modified_after`."""
    client = aws.client("sagemaker", region=region)
    request: dict[str, Any] = {"Resource": TRAINING.search_resource, "MaxResults": PAGE_SIZE}
    if modified_after is not None:
        request["SearchExpression"] = {
            "Filters": [
                {"Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": modified_after.isoformat()}
            ]
        }
    records = []
    while True:
        page = client.search(**request)
        records.extend(result[TRAINING.search_resource] for result in page.get("Results", []))
        if not page.get("NextToken"):
            return records
        request["NextToken"] = page["NextToken"]


def list_jobs(
    *, aws: AwsSession, region: str, kind: JobKind, modified_after: datetime | None = None
) -> list[dict[str, Any]]:
    """Summaries (name, ARN, status, times) of the jobs of `kind`, 100 per call."""
    client = aws.client("sagemaker", region=region)
    request: dict[str, Any] = {"MaxResults": PAGE_SIZE}
    if modified_after is not None:
        request["LastModifiedTimeAfter"] = modified_after
    summaries = []
    while True:
        page = getattr(client, kind.list_operation)(**request)
        summaries.extend(page.get(kind.summaries_key, []))
        if not page.get("NextToken"):
            return summaries
        request["NextToken"] = page["NextToken"]


def describe_jobs(*, aws: AwsSession, region: str, kind: JobKind, names: list[str]) -> list[dict[str, Any]]:
    """Whole records of the named jobs, with their tags: two calls a job, for what Search cannot give."""
    client = aws.client("sagemaker", region=region)
    return [_describe(client, kind, name) for name in names]


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
