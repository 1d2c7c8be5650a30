"""The SageMaker job kinds isoaudit audits, each declared once as data (as Cloud Custodian declares a
resource type): its API names, how it is read, how its records become JOBS rows, its console page, the
SCP action that governs its creation and the IAM actions reading it takes.

collect reads every kind in KINDS as its `reading` says; records maps each record with its `fields`;
report and alerts link to `console_page`; the infra test checks the audit role allows `iam_actions`.
Pure data and functions of records: no AWS client is built here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    # Search, every job on a full listing (which proves they still exist); and one that a child's record
    # names (`child_key`) but neither Search nor the history has is described.
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
    fields: Callable[[dict[str, Any]], dict[str, Any]]  # the kind's JOBS fields from one whole record
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


def _training_like(record: dict[str, Any]) -> dict[str, Any]:
    """Fields shared by a training job and a tuning job's training job definition."""
    vpc = record.get("VpcConfig") or {}
    return {
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
        "status": record.get("HyperParameterTuningJobStatus"),
        "start_time": record.get("CreationTime"),
        "end_time": record.get("HyperParameterTuningEndTime"),
        "tuning_job_name": record.get("HyperParameterTuningJobName") or "",
    }


def _processing(record: dict[str, Any]) -> dict[str, Any]:
    network = record.get("NetworkConfig") or {}
    vpc = network.get("VpcConfig") or {}
    return {
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
