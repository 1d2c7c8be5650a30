"""AWS's request quotas, in the emulator and in the collector: a burst beyond an account-region's quota is
throttled as AWS throttles it, and the collector's own pacing keeps a sliced listing from being throttled
at all."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from isoaudit import audit
from isoaudit.aws import quotas, sts
from isoaudit.aws.quotas import Rate
from isoaudit.collect import AuditRun
from isoaudit.config import load_config
from isoaudit.emulator import AccountSpec, Emulator, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.organization import management_session

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
REGION = "us-east-1"
# Twice AWS's rates (and bursts): the same behaviour in half the time.
SPEED = 2.0


def _organization(emulator: Emulator, jobs: int) -> tuple[OrganizationSpec, dict[str, str], str]:
    emulator.reset()
    accounts = (AccountSpec("big", "big", "/Workloads/Production"), AccountSpec("other", "other", "/Sandbox"))
    spec = OrganizationSpec(
        accounts=accounts,
        jobs=tuple(
            JobSpec(
                "big", REGION, f"job-{n:05d}", NOW - timedelta(days=20) + timedelta(minutes=15 * n), False
            )
            for n in range(jobs)
        ),
        regions=(REGION,),
    )
    built = build_organization(endpoint_url=emulator.url, spec=spec)
    return spec, built.account_ids, built.bucket


def _unretried_client(emulator: Emulator, account_id: str, role: str):
    member = sts.assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=sts.role_arn(account_id=account_id, role_name=role),
        session_name="quota-test",
    )
    credentials = member.credentials
    assert credentials is not None
    return member.boto3_session.client(
        "sagemaker",
        region_name=REGION,
        endpoint_url=emulator.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )


def test_a_burst_beyond_the_quota_is_throttled_as_aws_throttles_it(emulator: Emulator) -> None:
    spec, accounts, _ = _organization(emulator, jobs=3)
    big = _unretried_client(emulator, accounts["big"], spec.audit_role_name)
    other = _unretried_client(emulator, accounts["other"], spec.audit_role_name)
    emulator.faults.quotas = {("sagemaker", "ListTrainingJobs"): Rate(per_second=2.0, burst=2.0)}
    emulator.faults.reset_counts()
    try:
        answers = []
        for _ in range(5):
            try:
                big.list_training_jobs(MaxResults=10)
                answers.append("ok")
            except ClientError as exc:
                answers.append(exc)
        other_account = other.list_training_jobs(MaxResults=10)  # a quota is per account
        time.sleep(0.6)  # a token back after 1/rate
        refilled = big.list_training_jobs(MaxResults=10)
        # Another operation has its own bucket (here: none, unlimited).
        other_operation = [big.list_processing_jobs(MaxResults=10) for _ in range(5)]
    finally:
        emulator.faults.quotas = None
        emulator.faults.reset_counts()

    assert answers[:2] == ["ok", "ok"]
    refused = answers[2:]
    assert all(isinstance(answer, ClientError) for answer in refused)
    for answer in refused:
        assert answer.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
        assert answer.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "TrainingJobSummaries" in other_account
    assert "TrainingJobSummaries" in refilled
    assert all("ProcessingJobSummaries" in answer for answer in other_operation)


def _collect(emulator: Emulator, spec: OrganizationSpec, bucket: str, *, paced: bool) -> int:
    """A first collection of the organization; the calls the emulator throttled."""
    config = load_config(
        bucket=bucket, endpoint_url=emulator.url, role_name=spec.audit_role_name, regions=[REGION]
    ).model_copy(update={"api_quota_scale": SPEED if paced else None})
    run = AuditRun(run_id="quota-test", audit_week="2026-W47", started_at=NOW)
    aws = audit.management_session(config)
    organization = audit.discover(aws=aws, config=config, run=run)
    emulator.faults.quotas = quotas.scaled(quotas.QUOTAS, SPEED)
    emulator.faults.reset_counts()
    try:
        audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
        throttled = sum(emulator.faults.throttled.values())
    finally:
        emulator.faults.quotas = None
        emulator.faults.reset_counts()
    assert sum(len(done.jobs) for done in audits) == len(spec.jobs)
    assert all((done.coverage["status"] != "failed").all() for done in audits)
    return throttled


@pytest.mark.parametrize("paced", [False, True], ids=["unpaced", "paced"])
def test_a_paced_listing_spends_no_retries(emulator: Emulator, paced: bool) -> None:
    # 1,500 jobs: Search and List each read as two end pages, then slices side by side, all against the one
    # quota of their account-region and operation.
    spec, _, bucket = _organization(emulator, jobs=1_500)

    throttled = _collect(emulator, spec, bucket, paced=paced)

    if paced:
        assert throttled == 0
    else:  # the same listing unpaced: the slices spend retries against the shared quota
        assert throttled > 0
