"""The SageMaker job kinds isoaudit audits, each declared once as data (as Cloud Custodian declares a
resource type): its API names, how it is read, how its records become JOBS rows, its console page, the
SCP action that governs its creation and the IAM actions reading it takes.

collect reads every kind in KINDS as its `reading` says; records maps each record with its `fields`;
report and alerts link to `console_page`; the infra test checks the audit role allows `iam_actions`.
Pure data and functions of records: no AWS client is built here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import quote


class Reading(Enum):
    """How the jobs of a kind are read in an account-region (isoaudit.collect)."""

    # Search returns whole records (tags included) changed since the watermark; a full listing also lists
    # every job (the ground truth) and describes those Search missed (its index lags).
    SEARCH = "search"
    # No Search: listed (changes since the watermark; every job on a full listing), the new or changed
    # described.
    LIST_THEN_DESCRIBE = "list then describe"
    # Search, every job on a full or first listing (which proves they still exist); an incremental read
    # searches what changed only when a child read names one (`child_key`) or the history holds one still
    # running. One that a child's record names but neither Search nor the history has is described.
    THROUGH_CHILDREN = "through its children"


@dataclass(frozen=True)
class JobKind:
    name: str  # the job_kind column
    list_operation: str
    summaries_key: str
    name_key: str
    arn_key: str
    describe_operation: str
    search_resource: str | None  # None: the kind has no Search
    reading: Reading
    # The kind's JOBS fields from one whole record (compute fields left out are NO_COMPUTE's).
    fields: Callable[[dict[str, Any]], dict[str, Any]]
    console_page: str  # the SageMaker console's page for a job of the kind
    scp_action: str  # the IAM action creating a job of the kind, which an SCP can deny without isolation
    iam_actions: tuple[str, ...]  # what reading the kind calls in a member account
    arn_type: str  # resource type in the ARN: arn:aws:sagemaker:<region>:<account>:<arn_type>/<name>
    launcher: bool = False  # launches jobs of another kind (its runs), is never counted as a run itself
    child_key: str | None = None  # THROUGH_CHILDREN: the field of a child's record holding this kind's ARN


def _dig(record: dict[str, Any], *path: str) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _joined(values: Iterable[str] | None) -> str:
    return ",".join(sorted(values or []))


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _instances(resources: dict[str, Any]) -> dict[str, Any]:
    """Instance type, count, per-type counts and volume of a ResourceConfig or a processing ClusterConfig.
    A heterogeneous cluster (`InstanceGroups`) is summed per type: each type has its own price."""
    groups: dict[str, int] = {}
    for group in resources.get("InstanceGroups") or [
        {"InstanceType": resources.get("InstanceType"), "InstanceCount": resources.get("InstanceCount")}
    ]:
        kind, count = group.get("InstanceType"), _whole(group.get("InstanceCount"))
        if isinstance(kind, str) and kind and count:
            groups[kind] = groups.get(kind, 0) + count
    return {
        "instance_type": ",".join(sorted(groups)),
        "instance_count": sum(groups.values()) if groups else None,
        "instance_groups_json": json.dumps(groups, sort_keys=True),
        "volume_size_gb": _whole(resources.get("VolumeSizeInGB")),
    }


def _training_compute(record: dict[str, Any]) -> dict[str, Any]:
    """What a training job used, as its record gives it: no call beyond the Search or Describe."""
    return {
        **_instances(record.get("ResourceConfig") or {}),
        "managed_spot": bool(record.get("EnableManagedSpotTraining", False)),
        "training_seconds": _whole(record.get("TrainingTimeInSeconds")),
        "billable_seconds": _whole(record.get("BillableTimeInSeconds")),
        "warm_pool_seconds": _whole(_dig(record, "WarmPoolStatus", "ResourceRetainedBillableTimeInSeconds")),
    }


def _processing_compute(record: dict[str, Any]) -> dict[str, Any]:
    """A processing job is billed from its start to its end (AWS reports no billable time for it)."""
    started, ended = record.get("ProcessingStartTime"), record.get("ProcessingEndTime")
    billable = None
    if isinstance(started, datetime) and isinstance(ended, datetime):
        billable = max(int((ended - started).total_seconds()), 0)
    return {
        **_instances(_dig(record, "ProcessingResources", "ClusterConfig") or {}),
        "managed_spot": False,
        "training_seconds": None,
        "billable_seconds": billable,
        "warm_pool_seconds": None,
    }


# The compute fields of a kind whose records say nothing of compute (its `fields` may leave them out).
NO_COMPUTE: dict[str, Any] = {
    **_instances({}),
    "managed_spot": False,
    "training_seconds": None,
    "billable_seconds": None,
    "warm_pool_seconds": None,
}


def _training_like(record: dict[str, Any]) -> dict[str, Any]:
    """Fields shared by a training job and a tuning job's training job definition."""
    vpc = record.get("VpcConfig") or {}
    return {
        **_training_compute(record),
        "network_isolation": bool(record.get("EnableNetworkIsolation", False)),
        "vpc_subnet_ids": _joined(vpc.get("Subnets")),
        "vpc_security_group_ids": _joined(vpc.get("SecurityGroupIds")),
        "inter_container_encryption": bool(record.get("EnableInterContainerTrafficEncryption", False)),
        "volume_kms_key_id": _dig(record, "ResourceConfig", "VolumeKmsKeyId") or "",
        "output_kms_key_id": _dig(record, "OutputDataConfig", "KmsKeyId") or "",
        "image_uri": _dig(record, "AlgorithmSpecification", "TrainingImage") or "",
        "role_arn": record.get("RoleArn") or "",
    }


def _training(record: dict[str, Any]) -> dict[str, Any]:
    tuning_arn = record.get("TuningJobArn") or ""
    return {
        **_training_like(record),
        "status": record.get("TrainingJobStatus"),
        "start_time": record.get("TrainingStartTime"),
        "end_time": record.get("TrainingEndTime"),
        "tuning_job_name": tuning_arn.rsplit("/", 1)[-1] if tuning_arn else "",
    }


def _tuning(record: dict[str, Any]) -> dict[str, Any]:
    definition = record.get("TrainingJobDefinition") or {}
    return {
        **_training_like(definition),
        # A tuning job is a launcher: its training jobs carry the time billed.
        "training_seconds": None,
        "billable_seconds": None,
        "warm_pool_seconds": None,
        "status": record.get("HyperParameterTuningJobStatus"),
        "start_time": record.get("CreationTime"),
        "end_time": record.get("HyperParameterTuningEndTime"),
        "tuning_job_name": record.get("HyperParameterTuningJobName") or "",
    }


def _processing(record: dict[str, Any]) -> dict[str, Any]:
    network = record.get("NetworkConfig") or {}
    vpc = network.get("VpcConfig") or {}
    return {
        **_processing_compute(record),
        "network_isolation": bool(network.get("EnableNetworkIsolation", False)),
        "vpc_subnet_ids": _joined(vpc.get("Subnets")),
        "vpc_security_group_ids": _joined(vpc.get("SecurityGroupIds")),
        "inter_container_encryption": bool(network.get("EnableInterContainerTrafficEncryption", False)),
        "volume_kms_key_id": _dig(record, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId") or "",
        "output_kms_key_id": _dig(record, "ProcessingOutputConfig", "KmsKeyId") or "",
        "image_uri": _dig(record, "AppSpecification", "ImageUri") or "",
        "role_arn": record.get("RoleArn") or "",
        "status": record.get("ProcessingJobStatus"),
        "start_time": record.get("ProcessingStartTime"),
        "end_time": record.get("ProcessingEndTime"),
        "tuning_job_name": "",
    }


TRAINING = JobKind(
    name="training",
    list_operation="list_training_jobs",
    summaries_key="TrainingJobSummaries",
    name_key="TrainingJobName",
    arn_key="TrainingJobArn",
    describe_operation="describe_training_job",
    search_resource="TrainingJob",
    reading=Reading.SEARCH,
    fields=_training,
    console_page="jobs",
    scp_action="sagemaker:CreateTrainingJob",
    iam_actions=("sagemaker:Search", "sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob",
                 "sagemaker:ListTags"),
    arn_type="training-job",
)  # fmt: skip
TUNING = JobKind(
    name="tuning",
    list_operation="list_hyper_parameter_tuning_jobs",
    summaries_key="HyperParameterTuningJobSummaries",
    name_key="HyperParameterTuningJobName",
    arn_key="HyperParameterTuningJobArn",
    describe_operation="describe_hyper_parameter_tuning_job",
    search_resource="HyperParameterTuningJob",
    reading=Reading.THROUGH_CHILDREN,
    fields=_tuning,
    console_page="hyper-tuning-jobs",
    scp_action="sagemaker:CreateHyperParameterTuningJob",
    iam_actions=("sagemaker:Search", "sagemaker:DescribeHyperParameterTuningJob", "sagemaker:ListTags"),
    arn_type="hyper-parameter-tuning-job",
    launcher=True,
    child_key="TuningJobArn",
)
PROCESSING = JobKind(
    name="processing",
    list_operation="list_processing_jobs",
    summaries_key="ProcessingJobSummaries",
    name_key="ProcessingJobName",
    arn_key="ProcessingJobArn",
    describe_operation="describe_processing_job",
    search_resource=None,
    reading=Reading.LIST_THEN_DESCRIBE,
    fields=_processing,
    console_page="processing-jobs",
    scp_action="sagemaker:CreateProcessingJob",
    iam_actions=("sagemaker:ListProcessingJobs", "sagemaker:DescribeProcessingJob", "sagemaker:ListTags"),
    arn_type="processing-job",
)
# In the order their rows are gathered (kinds read through their children are read last, whatever their
# place here).
KINDS: tuple[JobKind, ...] = (TRAINING, TUNING, PROCESSING)


def by_name(name: str) -> JobKind | None:
    return next((kind for kind in KINDS if kind.name == name), None)


def run_kinds() -> tuple[str, ...]:
    """The job_kind values counted as runs (every kind but the launchers), for the texts that name them."""
    return tuple(kind.name for kind in KINDS if not kind.launcher)


def launcher_kinds() -> tuple[str, ...]:
    """The job_kind values of launchers (jobs whose runs are jobs of another kind)."""
    return tuple(kind.name for kind in KINDS if kind.launcher)


def console_url(*, region: str, job_kind: str, job_name: str) -> str:
    """Link to the job in the SageMaker console; region and name are quoted (untrusted text from AWS). A
    kind not declared links to the training jobs' page, where the name can still be searched."""
    kind = by_name(job_kind)
    page = kind.console_page if kind else TRAINING.console_page
    region = quote(region, safe="")
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/{page}/{quote(job_name, safe='')}"
    )
