"""What a job used, read from the records Search and Describe return (AWS's shapes), and what it costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from isoaudit.job_kinds import PROCESSING, TRAINING, TUNING
from isoaudit.metrics.money import Rates, job_money
from isoaudit.metrics.predicates import PRICING, pricing_positions
from isoaudit.records import job_rows

ARN_PREFIX = "arn:aws:sagemaker:us-east-1:111111111111"
SEEN = datetime(2026, 11, 16, 6, tzinfo=UTC)
CREATED = datetime(2026, 11, 10, 10, tzinfo=UTC)
RATES = Rates(
    listed={
        ("us-east-1", "ml.p4d.24xlarge", "training"): 37.688,
        ("us-east-1", "ml.c5.xlarge", "training"): 0.204,
        ("us-east-1", "ml.m5.xlarge", "processing"): 0.23,
    },
    negotiated={},
)


def training(name: str, **fields: object) -> dict:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:111111111111:training-job/{name}",
        "CreationTime": CREATED,
        "TrainingJobStatus": "Completed",
        **fields,
    }


def rows(records: list[dict], kind=TRAINING):
    return job_rows(records, kind=kind, account_id="111111111111", region="us-east-1", seen_at=SEEN)


def test_a_heterogeneous_cluster_is_summed_per_instance_type() -> None:
    record = training(
        "hetero",
        ResourceConfig={
            "InstanceGroups": [
                {"InstanceGroupName": "gpu-a", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1},
                {"InstanceGroupName": "gpu-b", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1},
                {"InstanceGroupName": "cpu", "InstanceType": "ml.c5.xlarge", "InstanceCount": 4},
            ],
            "VolumeSizeInGB": 100,
        },
        TrainingTimeInSeconds=1800,
        BillableTimeInSeconds=1800,
    )
    (row,) = rows([record]).to_dict("records")
    assert json.loads(row["instance_groups_json"]) == {"ml.p4d.24xlarge": 2, "ml.c5.xlarge": 4}
    assert (row["instance_type"], row["instance_count"], row["volume_size_gb"]) == (
        "ml.c5.xlarge,ml.p4d.24xlarge",
        6,
        100,
    )
    hours, spend = job_money(rows([record]), RATES)
    assert hours[0] == pytest.approx(0.5 * 6)
    assert spend[0] == pytest.approx(0.5 * (2 * 37.688 + 4 * 0.204))


def test_a_running_job_has_no_compute_yet_and_is_not_counted_unpriced() -> None:
    record = training(
        "running",
        TrainingJobStatus="InProgress",
        ResourceConfig={"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        EnableManagedSpotTraining=True,
    )
    frame = rows([record])
    (row,) = frame.to_dict("records")
    assert row["managed_spot"] and row["instance_count"] == 2
    assert row["billable_seconds"] is None or np.isnan(row["billable_seconds"])
    hours, spend = job_money(frame, RATES)
    assert np.isnan(hours[0]) and np.isnan(spend[0])
    (pricing,) = pricing_positions(frame.assign(compute_hours=hours, spend_usd=spend))
    assert PRICING[pricing] == "none"  # not "unpriced": unpriced_jobs does not count it


def test_a_processing_job_is_billed_from_start_to_end() -> None:
    started = CREATED + timedelta(minutes=3)
    record = {
        "ProcessingJobName": "features",
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:111111111111:processing-job/features",
        "CreationTime": CREATED,
        "ProcessingStartTime": started,
        "ProcessingEndTime": started + timedelta(minutes=45),
        "ProcessingJobStatus": "Completed",
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
        },
    }
    frame = rows([record], kind=PROCESSING)
    (row,) = frame.to_dict("records")
    assert (row["billable_seconds"], row["instance_count"]) == (2700, 2)
    hours, spend = job_money(frame, RATES)
    assert (hours[0], spend[0]) == (pytest.approx(1.5), pytest.approx(0.75 * 2 * 0.23))


def test_a_tuning_job_costs_nothing_of_its_own() -> None:
    record = {
        "HyperParameterTuningJobName": "hpo",
        "HyperParameterTuningJobArn": f"{ARN_PREFIX}:hyper-parameter-tuning-job/hpo",
        "CreationTime": CREATED,
        "HyperParameterTuningJobStatus": "Completed",
        "TrainingJobDefinition": {
            "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}
        },
    }
    frame = rows([record], kind=TUNING)
    assert frame.loc[0, "instance_type"] == "ml.c5.xlarge"
    hours, spend = job_money(frame, RATES)
    assert np.isnan(hours[0]) and np.isnan(spend[0])
