"""Give emulated training jobs a past: the one module that reaches into moto's in-memory state.

moto creates every training job `Completed`, created, started and ended at the moment of the call, and has
no API to change that. A demo needs weeks of history, failures with their reasons and jobs still running,
so this module edits moto's job objects directly. It works only when the moto server runs in this process
(`isoaudit.emulator.server.start_emulator` does). If a moto upgrade moves these internals, this is the
only place to fix.

moto compares these times with the naive UTC datetimes it makes itself: they are stored naive here too, or
its list filters raise TypeError.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from moto.sagemaker.models import sagemaker_backends

from isoaudit.emulator.server import forget_listings

if TYPE_CHECKING:  # organization.py calls this module: import for the annotations only
    from isoaudit.emulator.organization import JobSpec, TuningJobSpec

# Time SageMaker takes to provision instances and pull the image before the job's own code runs.
STARTUP = timedelta(minutes=3)
_FINAL_MESSAGES = {"Completed": "Training job completed", "Stopped": "Training job stopped by user"}


def apply_history(*, account_id: str, region: str, jobs: Iterable[JobSpec]) -> None:
    """Set the times, status and failure reason of jobs already created in one account-region."""
    training_jobs = sagemaker_backends[account_id][region].training_jobs
    for job in jobs:
        _rewrite(training_jobs[job.name], job)
    forget_listings()


def forget_training_job(*, account_id: str, region: str, name: str) -> None:
    """Make a job vanish from the API, as SageMaker does when it deletes a terminal job."""
    del sagemaker_backends[account_id][region].training_jobs[name]
    forget_listings()


def launched_by_tuning_job(*, account_id: str, region: str, name: str, tuning_job_arn: str) -> None:
    """Make a training job one of a tuning job's, as AWS shows it (moto cannot launch a tuning job's jobs)."""
    sagemaker_backends[account_id][region].training_jobs[name].tuning_job_arn = tuning_job_arn
    forget_listings()


def apply_tuning_history(*, account_id: str, region: str, job: TuningJobSpec) -> None:
    """Set the times and status of a tuning job already created (moto makes it Completed, now)."""
    fake_job = sagemaker_backends[account_id][region].hyper_parameter_tuning_jobs[job.name]
    created = _naive_utc(job.created_at)
    ended = None if job.status == "InProgress" else created + job.duration
    fake_job.creation_time = created
    fake_job.hyper_parameter_tuning_end_time = ended
    fake_job.last_modified_time = ended or created
    fake_job.hyper_parameter_tuning_job_status = job.status
    forget_listings()


def _rewrite(fake_job: object, job: JobSpec) -> None:
    created = _naive_utc(job.created_at)
    started = created + STARTUP
    ended = None if job.status == "InProgress" else started + job.duration
    last_modified = ended or started
    secondary_status = "Training" if job.status == "InProgress" else job.status
    transitions = [
        {
            "Status": "Starting",
            "StartTime": created,
            "EndTime": started,
            "StatusMessage": "Preparing the instances for training",
        },
        {
            "Status": "Training",
            "StartTime": started,
            "EndTime": ended,
            "StatusMessage": "Training image download completed. Training in progress.",
        },
    ]
    if ended is not None:
        message = job.failure_reason or _FINAL_MESSAGES.get(job.status, "")
        transitions.append(
            {"Status": job.status, "StartTime": ended, "EndTime": ended, "StatusMessage": message}
        )
    attributes = {
        "creation_time": created,
        "training_start_time": started,
        "training_end_time": ended,
        "last_modified_time": last_modified,
        "training_job_status": job.status,
        "secondary_status": secondary_status,
        "secondary_status_transitions": [
            {key: value for key, value in step.items() if value is not None} for step in transitions
        ],
        "final_metric_data_list": [
            {"MetricName": "train:progress", "Value": 100.0, "Timestamp": last_modified}
        ]
        if job.status == "Completed"
        else [],
    }
    if job.failure_reason:
        attributes["failure_reason"] = job.failure_reason
    attributes.update(_billed_times(job, ran=None if ended is None else ended - started))
    for name, value in attributes.items():
        setattr(fake_job, name, value)


def _billed_times(job: JobSpec, *, ran: timedelta | None) -> dict[str, object]:
    """The billing fields AWS adds to a job that has ended, which moto never sets: moto's records are
    built from the job object's attributes, so these come out as TrainingTimeInSeconds,
    BillableTimeInSeconds and WarmPoolStatus in Describe and Search, in AWS's own shape. A job still running
    has none of them yet, as on AWS."""
    if ran is None:
        return {}
    training = int(ran.total_seconds())
    times: dict[str, object] = {
        "training_time_in_seconds": training,
        # Spot: the time lost to interruptions is not billed, and AWS reports the net (at least 1 second).
        "billable_time_in_seconds": max(round(training * (1 - job.spot_savings)), 1)
        if job.spot
        else training,
    }
    if job.warm_pool:
        times["warm_pool_status"] = {
            "Status": "Terminated",
            "ResourceRetainedBillableTimeInSeconds": int(job.warm_pool.total_seconds()),
        }
    return times


def apply_processing_history(
    *,
    account_id: str,
    region: str,
    name: str,
    created: datetime,
    ended: datetime | None,
    status: str,
    resources: dict[str, object],
) -> None:
    """Set the past of a processing job already created (moto makes it start and end at its creation):
    created at `created`, started STARTUP later, ended at `ended` (None: still running). `resources` is the
    ProcessingResources it was created with, which moto drops and AWS's Describe returns."""
    fake_job = sagemaker_backends[account_id][region].processing_jobs[name]
    fake_job.processing_resources = resources
    started = created + STARTUP
    fake_job.creation_time = _naive_utc(created)
    fake_job.processing_start_time = _naive_utc(started)
    fake_job.processing_end_time = None if ended is None else _naive_utc(ended)
    fake_job.last_modified_time = _naive_utc(ended or started)
    fake_job.processing_job_status = status
    forget_listings()


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
