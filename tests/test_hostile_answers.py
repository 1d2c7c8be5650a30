"""Broken answers from AWS (or from what stands in front of it) never pass for data, and never end the run.

A broken proxy answering 200 with an HTML page, an account answering 403 in plain text, a record without a
creation time, a server that ignores SortOrder: each is that account-region's gap (or a record left out,
named), and the other accounts complete. Faults come from the embedded emulator (`Faults.broken`,
`Faults.ignore_sort_order`), a WSGI middleware in front of moto.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from isoaudit import audit, job_kinds
from isoaudit.aws import sagemaker, sts
from isoaudit.collect import AccountAudit, AuditRun
from isoaudit.config import AuditConfig, load_config
from isoaudit.emulator import AccountSpec, BrokenAnswer, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.organization import management_session

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
REGION = "us-east-1"


def jobs(account: str, count: int) -> tuple[JobSpec, ...]:
    return tuple(
        JobSpec(
            account,
            REGION,
            f"{account}-job-{number:04d}",
            NOW - timedelta(days=40, minutes=-7 * number),
            False,
        )
        for number in range(count)
    )


@pytest.fixture
def organization(emulator) -> Iterator:
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(
            AccountSpec("alpha", "alpha", "/Workloads/Production"),
            AccountSpec("beta", "beta", "/Workloads/NonProduction"),
        ),
        jobs=jobs("alpha", 20) + jobs("beta", 15),
        regions=(REGION,),
    )
    yield build_organization(endpoint_url=emulator.url, spec=spec)
    emulator.faults.broken = ()
    emulator.faults.ignore_sort_order = False


def config_for(emulator, organization) -> AuditConfig:
    return load_config(
        bucket=organization.bucket,
        endpoint_url=emulator.url,
        role_name=organization.spec.audit_role_name,
        regions=[REGION],
    )


def collect(config: AuditConfig) -> tuple[list[AccountAudit], audit.StoredLake]:
    """The flow's steps without Prefect: discover, every account, store."""
    run = AuditRun(run_id="hostile", audit_week="2026-W47", started_at=NOW)
    aws = audit.management_session(config)
    organization = audit.discover(aws=aws, config=config, run=run)
    audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
    return audits, audit.store(aws=aws, config=config, run=run, accounts=organization.accounts, audits=audits)


def coverage_of(audits: list[AccountAudit]) -> pd.DataFrame:
    return pd.concat([done.coverage for done in audits], ignore_index=True).set_index("account_id")


@pytest.mark.parametrize("operation", ["Search", "ListTrainingJobs", "ListProcessingJobs"])
def test_a_200_answer_that_is_an_html_page_fails_the_account_region(
    emulator, organization, operation
) -> None:
    alpha, beta = organization.account_ids["alpha"], organization.account_ids["beta"]
    emulator.faults.broken = (BrokenAnswer("sagemaker", operation, account=alpha),)

    audits, stored = collect(config_for(emulator, organization))

    coverage = coverage_of(audits)
    assert coverage.loc[alpha, "status"] == "failed"
    assert "unexpected answer without" in coverage.loc[alpha, "reason"]
    assert "\n" not in coverage.loc[alpha, "reason"]
    assert coverage.loc[beta, "status"] == "audited"
    assert coverage.loc[beta, "jobs_seen"] == 15
    assert set(stored.jobs["account_id"]) == {beta}


def test_a_describe_answer_without_the_job_arn_and_creation_time_is_refused(emulator, organization) -> None:
    alpha = organization.account_ids["alpha"]
    member = sts.assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=sts.role_arn(account_id=alpha, role_name=organization.spec.audit_role_name),
        session_name="hostile",
    )
    from isoaudit.errors import UnexpectedResponse

    emulator.faults.broken = (BrokenAnswer("sagemaker", "DescribeTrainingJob"),)
    with pytest.raises(UnexpectedResponse, match="TrainingJobArn, CreationTime"):
        sagemaker.describe_jobs(aws=member, region=REGION, kind=job_kinds.TRAINING, names=["alpha-job-0000"])


def test_one_account_answering_403_in_plain_text_is_that_accounts_gap(emulator, organization) -> None:
    # botocore cannot parse this answer (ResponseParserError), which once ended the whole run.
    alpha, beta = organization.account_ids["alpha"], organization.account_ids["beta"]
    emulator.faults.broken = (
        BrokenAnswer(
            "ec2",
            "DescribeRegions",
            status="403 Forbidden",
            content_type="text/plain",
            body="Forbidden",
            account=alpha,
        ),
    )
    config = config_for(emulator, organization).model_copy(update={"regions": []})

    audits, stored = collect(config)

    coverage = coverage_of(audits)
    assert (coverage.loc[[alpha], "status"] == "failed").all()
    assert coverage.loc[[alpha], "reason"].str.contains("cannot list enabled regions").all()
    assert (coverage.loc[[beta], "status"] == "audited").all()
    assert len(stored.jobs[stored.jobs["account_id"] == beta]) == 15


def test_a_record_without_creation_time_is_left_out_named_and_counted(emulator, organization, caplog) -> None:
    alpha, beta = organization.account_ids["alpha"], organization.account_ids["beta"]
    collect(config_for(emulator, organization))  # the first listing; the next lists every job again
    ghost = {
        "TrainingJobName": "ghost",
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{alpha}:training-job/ghost",
    }
    emulator.faults.broken = (
        BrokenAnswer(
            "sagemaker",
            "Search",
            content_type="application/x-amz-json-1.1",
            body=json.dumps({"Results": [{"TrainingJob": ghost}]}),
            account=alpha,
            request_contains='"TrainingJob"',  # the training jobs' Search, not the tuning jobs'
        ),
    )
    relisting = config_for(emulator, organization).model_copy(update={"full_listing_every_days": 0})

    with caplog.at_level(logging.WARNING, logger="isoaudit.collect"):
        audits, stored = collect(relisting)

    coverage = coverage_of(audits)
    assert coverage.loc[alpha, "status"] == "audited"
    assert (
        coverage.loc[alpha, "reason"]
        == "1 record(s) left out, unusable: training job ghost (no CreationTime)"
    )
    assert "ghost" in caplog.text
    # The full listing found every real job that Search did not return, and described it.
    assert len(stored.jobs[stored.jobs["account_id"] == alpha]) == 20
    assert len(stored.jobs[stored.jobs["account_id"] == beta]) == 15


def test_an_account_whose_role_cannot_be_assumed_gets_a_warning_line(emulator, organization, caplog) -> None:
    config = config_for(emulator, organization).model_copy(update={"role_name": "NoSuchRole"})
    with caplog.at_level(logging.WARNING, logger="isoaudit.collect"):
        audits, _ = collect(config)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for account in (organization.account_ids["alpha"], organization.account_ids["beta"]):
        assert coverage_of(audits).loc[account, "status"] == "failed"
        assert any(line.startswith(f"account {account} not audited: cannot assume") for line in warnings)


def test_a_full_listing_on_a_server_that_ignores_sort_order_marks_no_job_deleted(emulator) -> None:
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(AccountSpec("big", "big", "/Workloads/Production"),),
        jobs=jobs("big", 450),
        regions=(REGION,),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    big = organization.account_ids["big"]
    config = config_for(emulator, organization).model_copy(update={"full_listing_every_days": 0})
    collect(config)  # the history: 450 jobs
    emulator.faults.ignore_sort_order = True  # as plain moto: the "newest" and "oldest" pages are one page
    try:
        run = AuditRun(run_id="again", audit_week="2026-W47", started_at=NOW + timedelta(days=1))
        aws = audit.management_session(config)
        found = audit.discover(aws=aws, config=config, run=run)
        audits = audit.collect_organization(aws=aws, config=config, run=run, organization=found)
        stored = audit.store(aws=aws, config=config, run=run, accounts=found.accounts, audits=audits)
    finally:
        emulator.faults.ignore_sort_order = False
    coverage = coverage_of(audits)
    assert coverage.loc[big, "listing"] == "full"
    assert coverage.loc[big, "jobs_seen"] == 450
    big_jobs = stored.jobs[stored.jobs["account_id"] == big]
    assert len(big_jobs) == 450
    assert big_jobs["listed"].all()
