"""Turn SageMaker's records (Search or Describe, any job kind) into rows of the JOBS schema."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd

from isoaudit.aws.organizations import Account
from isoaudit.aws.sagemaker import JobKind
from isoaudit.schema import ACCOUNTS, JOBS, conform, empty_frame


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


_BY_KIND = {"training": _training, "tuning": _tuning, "processing": _processing}


def usable_records(
    records: Iterable[dict[str, Any]], *, kind: JobKind
) -> tuple[list[dict[str, Any]], list[str]]:
    """The records that can become rows, and a note naming each one that cannot (no ARN, name or creation
    time): such a record is left out and reported, never guessed at, and never ends the run."""
    usable, left_out = [], []
    for record in records:
        missing = [
            key
            for key, wanted in ((kind.arn_key, str), (kind.name_key, str), ("CreationTime", datetime))
            if not isinstance(record.get(key), wanted) or not record.get(key)
        ]
        if missing:
            who = record.get(kind.name_key) or record.get(kind.arn_key) or "(unnamed)"
            left_out.append(f"{kind.name} job {str(who)[:100]} (no {', '.join(missing)})")
        else:
            usable.append(record)
    return usable, left_out


def job_row(
    record: dict[str, Any], *, kind: JobKind, account_id: str, region: str, seen_at: datetime
) -> dict[str, Any]:
    return {
        "job_arn": record[kind.arn_key],
        "job_kind": kind.name,
        "account_id": account_id,
        "region": region,
        "job_name": record[kind.name_key],
        "failure_reason": record.get("FailureReason") or "",
        "creation_time": record.get("CreationTime"),
        "last_modified_time": record.get("LastModifiedTime"),
        "tags_json": json.dumps(
            {tag["Key"]: tag["Value"] for tag in record.get("Tags") or []}, sort_keys=True
        ),
        "first_seen": seen_at,
        "last_seen": seen_at,
        "listed": True,
        **_BY_KIND[kind.name](record),
    }


def job_rows(
    records: Iterable[dict[str, Any]], *, kind: JobKind, account_id: str, region: str, seen_at: datetime
) -> pd.DataFrame:
    """One JOBS row per record; `seen_at` is this audit's time (first and last seen)."""
    rows = [
        job_row(record, kind=kind, account_id=account_id, region=region, seen_at=seen_at)
        for record in records
    ]
    return _frame(pd.DataFrame(rows)) if rows else empty_frame(JOBS)


class Kept(NamedTuple):
    """What a long listing keeps of a record while it reads on: whether it became a row (its page's
    rows are kept as a small table, see `RowKeeper`), else the note that leaves it out; and the tuning
    job that launched it."""

    row: bool
    note: str
    tuning_job_arn: str


_A_ROW = Kept(row=True, note="", tuning_job_arn="")


class RowKeeper:
    """Turns each page of records into rows as it arrives (a small Arrow-backed table, a few hundred bytes
    a job instead of the record's kilobytes), so that 462,178 records are never held at once."""

    def __init__(self, *, kind: JobKind, account_id: str, region: str, seen_at: datetime) -> None:
        self._where = {"kind": kind, "account_id": account_id, "region": region, "seen_at": seen_at}
        self.kind = kind
        self._pages: list[pd.DataFrame] = []
        self._lock = threading.Lock()  # the slices of a listing keep their pages from several threads

    def __call__(self, records: list[dict[str, Any]]) -> list[Kept]:
        kept, rows = [], []
        for record in records:
            _, left_out = usable_records([record], kind=self.kind)
            tuning = record.get("TuningJobArn") or ""
            if not left_out and not tuning:
                kept.append(_A_ROW)  # the common case, one object for all
            else:
                kept.append(Kept(not left_out, left_out[0] if left_out else "", tuning))
            if not left_out:
                rows.append(job_row(record, **self._where))
        if rows:
            page = _frame(pd.DataFrame(rows))
            with self._lock:
                self._pages.append(page)
        return kept

    def frame(self, kept: Iterable[Kept]) -> tuple[pd.DataFrame, list[str]]:
        """The JOBS rows of every page kept (each job once), and the notes of the records left out."""
        notes = [item.note for item in kept if not item.row]
        with self._lock:
            pages, self._pages = self._pages, []
        if not pages:
            return empty_frame(JOBS), notes
        rows = pd.concat(pages, ignore_index=True).drop_duplicates("job_arn", keep="last")
        return rows.reset_index(drop=True), notes


def _frame(frame: pd.DataFrame) -> pd.DataFrame:
    for column in (
        "creation_time",
        "start_time",
        "end_time",
        "last_modified_time",
        "first_seen",
        "last_seen",
    ):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return conform(frame, JOBS)


def accounts_frame(accounts: Sequence[Account]) -> pd.DataFrame:
    if not accounts:
        return empty_frame(ACCOUNTS)
    rows = [
        {
            "account_id": account.account_id,
            "account_name": account.name,
            "account_status": account.status,
            "ou_path": account.ou_path,
            "tags_json": json.dumps(account.tags, sort_keys=True),
        }
        for account in accounts
    ]
    return conform(pd.DataFrame(rows), ACCOUNTS)
