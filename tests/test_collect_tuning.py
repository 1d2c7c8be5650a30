"""Tuning jobs on incremental runs: read only when a child read names one or one is still running."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pandas as pd

from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, TuningJobSpec, build_organization
from isoaudit.emulator.history import apply_history, apply_tuning_history, launched_by_tuning_job
from tests.test_collect import NOW, collect, config_for, coverage_of

REGION = "us-east-1"
RERUN = NOW + timedelta(days=1)


def children(count: int, *, tuning_job: str) -> tuple[JobSpec, ...]:
    return tuple(
        JobSpec(
            "alpha",
            REGION,
            f"{tuning_job}-{number:03d}-{number:08x}",
            NOW - timedelta(days=3, minutes=-10 * number),
            network_isolation=None,
            tuning_job=tuning_job,
        )
        for number in range(1, count + 1)
    )


def build(emulator, *, tuning_status: str = "Completed"):
    emulator.reset()
    loner = JobSpec("alpha", REGION, "alpha-loner", NOW - timedelta(days=2), network_isolation=True)
    tuning = TuningJobSpec("alpha", REGION, "churn-hpo", NOW - timedelta(days=3), None, status=tuning_status)
    spec = OrganizationSpec(
        accounts=(AccountSpec("alpha", "alpha", "/Workloads/Production", tags={"team": "alpha"}),),
        jobs=(*children(3, tuning_job="churn-hpo"), loner),
        tuning_jobs=(tuning,),
        regions=(REGION,),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    return organization, loner, tuning


def searches(emulator) -> int:
    return emulator.faults.requests[("sagemaker", "Search")]


def test_a_rerun_with_nothing_new_makes_no_tuning_call(emulator) -> None:
    organization, _, _ = build(emulator)
    config = config_for(emulator, organization, regions=[REGION], full_listing_every_days=7)
    collect(config)
    emulator.faults.reset_counts()

    audits, stored = collect(config, at=RERUN, week="2026-W48")

    coverage = coverage_of(audits)
    assert set(coverage["listing"]) == {"incremental"} and (coverage["status"] == "audited").all()
    # One Search a region (the training jobs'), none of the tuning jobs, no tuning job described.
    assert searches(emulator) == len(coverage)
    assert emulator.faults.requests[("sagemaker", "DescribeHyperParameterTuningJob")] == 0
    assert coverage["api_calls"].max() == 2  # the training jobs' Search and the processing listing
    tuning = stored.jobs[stored.jobs["job_kind"] == "tuning"].set_index("job_name")
    assert tuning.loc["churn-hpo", "last_seen"] == pd.Timestamp(NOW)  # kept from the first run


def test_a_new_training_job_of_a_tuning_job_makes_the_tuning_job_read(emulator) -> None:
    organization, loner, _ = build(emulator)
    alpha = organization.account_ids["alpha"]
    config = config_for(emulator, organization, regions=[REGION], full_listing_every_days=7)
    collect(config)
    # After the first run, the tuning job launches one more training job (a job changed since the run).
    apply_history(
        account_id=alpha, region=REGION, jobs=[replace(loner, created_at=RERUN - timedelta(hours=3))]
    )
    tuning_arn = f"arn:aws:sagemaker:{REGION}:{alpha}:hyper-parameter-tuning-job/churn-hpo"
    launched_by_tuning_job(account_id=alpha, region=REGION, name=loner.name, tuning_job_arn=tuning_arn)
    emulator.faults.reset_counts()

    audits, stored = collect(config, at=RERUN, week="2026-W48")

    coverage = coverage_of(audits).set_index("account_id")
    assert (coverage["status"] == "audited").all()
    assert searches(emulator) == len(coverage) + 1  # the tuning jobs' Search, in alpha only
    jobs = stored.jobs.set_index("job_name")
    assert jobs.loc[loner.name, "tuning_job_name"] == "churn-hpo"
    assert jobs.loc["churn-hpo", "last_seen"] == pd.Timestamp(RERUN)  # read again, by this run
    assert not coverage["reason"].str.len().any()  # no record left out


def test_a_tuning_job_still_running_is_refreshed_though_no_child_changed(emulator) -> None:
    organization, _, tuning = build(emulator, tuning_status="InProgress")
    alpha = organization.account_ids["alpha"]
    config = config_for(emulator, organization, regions=[REGION], full_listing_every_days=7)
    _, first = collect(config)
    assert first.jobs.set_index("job_name").loc["churn-hpo", "status"] == "InProgress"
    # It ends after the first run; its training jobs ended before it and do not change.
    ended = replace(tuning, status="Completed", duration=RERUN - timedelta(hours=2) - tuning.created_at)
    apply_tuning_history(account_id=alpha, region=REGION, job=ended)
    emulator.faults.reset_counts()

    audits, stored = collect(config, at=RERUN, week="2026-W48")

    assert searches(emulator) == len(coverage_of(audits)) + 1  # alpha's tuning jobs, searched again
    assert stored.jobs.set_index("job_name").loc["churn-hpo", "status"] == "Completed"
