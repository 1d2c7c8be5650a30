"""JOBS rows with sensible defaults: the one place the tests type a job's fields (report_factory and
lake_factory build theirs here too)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from isoaudit.job_kinds import TRAINING, by_name
from isoaudit.schema import JOBS, conform, empty_frame

ACCOUNT = "111111111111"
REGION = "us-east-1"
# What a job used, unless a test says otherwise: one ml.m5.xlarge for the hour between start and end.
COMPUTE = {
    "instance_type": "ml.m5.xlarge",
    "instance_count": 1,
    "instance_groups_json": '{"ml.m5.xlarge": 1}',
    "volume_size_gb": 30,
    "managed_spot": False,
    "training_seconds": 3600,
    "billable_seconds": 3600,
    "warm_pool_seconds": None,
}


def job(name: str, created: str, **fields: Any) -> dict[str, Any]:
    account = fields.get("account_id", ACCOUNT)
    region = fields.get("region", REGION)
    seen = pd.Timestamp(fields.pop("seen", "2026-11-23T06:00:00Z"))
    kind = by_name(fields.get("job_kind", TRAINING.name)) or TRAINING
    return {
        "job_arn": f"arn:aws:sagemaker:{region}:{account}:{kind.arn_type}/{name}",
        "job_kind": kind.name,
        "account_id": account,
        "region": region,
        "job_name": name,
        "status": "Completed",
        "failure_reason": "",
        "creation_time": pd.Timestamp(created),
        "start_time": pd.Timestamp(created),
        "end_time": pd.Timestamp(created) + pd.Timedelta(hours=1),
        "last_modified_time": pd.Timestamp(created) + pd.Timedelta(hours=1),
        "network_isolation": False,
        "vpc_subnet_ids": "",
        "vpc_security_group_ids": "",
        "inter_container_encryption": False,
        "volume_kms_key_id": "",
        "output_kms_key_id": "",
        "image_uri": "123.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "role_arn": f"arn:aws:iam::{account}:role/sm",
        "tags_json": "{}",
        "tuning_job_name": "",
        **COMPUTE,
        "first_seen": seen,
        "last_seen": seen,
        "listed": True,
        **fields,
    }


def jobs_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    if not rows:
        return empty_frame(JOBS)
    frame = pd.DataFrame(list(rows))
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
