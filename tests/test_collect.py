"""Collection at organization scale, on the emulator: faults survived, incremental, nothing lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import awswrangler as wr
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from isoaudit import audit
from isoaudit.aws.organizations import Account
from isoaudit.collect import (
    FULL_LISTING,
    SEARCH_INDEX_LAG,
    AccountAudit,
    AuditRun,
    largest_first,
    plan_regions,
)
from isoaudit.config import AuditConfig, load_config
from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, TuningJobSpec, build_organization
from isoaudit.emulator.history import apply_history, forget_training_job
from isoaudit.schema import COVERAGE, conform, empty_frame

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
REGIONS = ["us-east-1", "eu-west-1"]


def jobs_for(account: str, region: str, count: int, *, start: int = 0) -> tuple[JobSpec, ...]:
    return tuple(
        JobSpec(
            account,
            region,
            f"{account}-{region}-job-{number}",
            NOW - timedelta(days=45) + timedelta(days=number),
            network_isolation=number % 3 == 0,
            vpc=number % 5 == 0,
            tags={"team": f"team-{account}"},
        )
        for number in range(start, start + count)
    )


@pytest.fixture
def organization(emulator):
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(
            AccountSpec("alpha", "alpha", "/Workloads/Production", tags={"team": "alpha"}),
            AccountSpec("beta", "beta", "/Workloads/NonProduction", tags={"team": "beta"}),
            AccountSpec("orphan", "orphan", "/Sandbox", audit_role=False),
        ),
        jobs=jobs_for("alpha", "us-east-1", 30)
        + jobs_for("alpha", "eu-west-1", 12)
        + jobs_for("beta", "us-east-1", 25),
        regions=tuple(REGIONS),
    )
    return build_organization(endpoint_url=emulator.url, spec=spec)


def config_for(emulator, organization, **overrides) -> AuditConfig:
    return load_config(
        bucket=organization.bucket,
        endpoint_url=emulator.url,
        role_name=organization.spec.audit_role_name,
        **{"regions": REGIONS, **overrides},
    )


def collect(
    config: AuditConfig, *, at: datetime = NOW, week: str = "2026-W47"
) -> tuple[list[AccountAudit], audit.StoredLake]:
    """What the flow does, without Prefect: discover, every account, store."""
    run = AuditRun(run_id=f"test-{at:%Y%m%d%H%M%S}", audit_week=week, started_at=at)
    aws = audit.management_session(config)
    organization = audit.discover(aws=aws, config=config, run=run)
    audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
    stored = audit.store(aws=aws, config=config, run=run, accounts=organization.accounts, audits=audits)
    return audits, stored


def coverage_of(audits: list[AccountAudit]) -> pd.DataFrame:
    return pd.concat([done.coverage for done in audits], ignore_index=True)


def test_every_job_is_collected_with_30_percent_of_calls_throttled(emulator, organization) -> None:
    emulator.faults.throttle_rate = 0.3
    try:
        audits, stored = collect(config_for(emulator, organization))
    finally:
        emulator.faults.throttle_rate = 0.0
    assert sum(emulator.faults.throttled.values()) > 0
    assert len(stored.jobs) == len(organization.spec.jobs)
    assert stored.jobs["job_arn"].is_unique
    coverage = coverage_of(audits)
    audited = coverage[coverage["status"] == "audited"]
    assert set(audited["account_id"]) == {
        organization.management_account_id,
        organization.account_ids["alpha"],
        organization.account_ids["beta"],
    }


def test_unassumable_role_and_disabled_region_are_gaps_and_the_rest_is_audited(
    emulator, organization
) -> None:
    config = config_for(emulator, organization, regions=["us-east-1", "eu-west-1", "ap-east-1"])
    audits, stored = collect(config)
    coverage = coverage_of(audits).set_index(["account_id", "region"])
    orphan = organization.account_ids["orphan"]
    for region in ("us-east-1", "eu-west-1", "ap-east-1"):
        row = coverage.loc[(orphan, region)]
        assert row["status"] == "failed"
        assert "AccessDenied" in row["reason"] and "IsoAuditReadOnly" in row["reason"]
    for key in ("alpha", "beta"):
        account = organization.account_ids[key]
        assert coverage.loc[(account, "ap-east-1"), "status"] == "skipped"
        assert coverage.loc[(account, "ap-east-1"), "reason"] == "region not enabled in this account"
        assert coverage.loc[(account, "us-east-1"), "status"] == "audited"
    assert coverage.loc[(organization.account_ids["alpha"], "eu-west-1"), "jobs_seen"] == 12
    assert len(stored.jobs) == len(organization.spec.jobs)


def test_regions_that_cannot_be_disabled_are_read_without_asking_which_are_enabled(
    emulator, organization
) -> None:
    describe_regions = ("ec2", "DescribeRegions")
    emulator.faults.reset_counts()
    audits, _ = collect(config_for(emulator, organization))  # us-east-1 and eu-west-1: never opt-in
    assert emulator.faults.requests[describe_regions] == 0
    members = {organization.account_ids["alpha"], organization.account_ids["beta"]}
    coverage = coverage_of(audits)
    assert set(coverage.loc[coverage["account_id"].isin(members), "status"]) == {"audited"}

    emulator.faults.reset_counts()
    audits, _ = collect(
        config_for(emulator, organization, regions=["us-east-1", "ap-east-1"]), at=NOW + timedelta(hours=1)
    )
    # An opt-in region in scope: each account whose role was assumed (the management's, alpha, beta) asks.
    assert emulator.faults.requests[describe_regions] == 3
    coverage = coverage_of(audits).set_index(["account_id", "region"])
    assert {coverage.loc[(member, "ap-east-1"), "status"] for member in members} == {"skipped"}


def test_a_write_that_fails_half_way_then_a_rerun_leaves_each_job_once(
    emulator, organization, monkeypatch
) -> None:
    config = config_for(emulator, organization)
    # Jobs of two months (October and November) make the jobs table two partitions: fail the second.
    aws = audit.management_session(config)
    puts = []

    def fail_second_put(**_: object) -> None:
        puts.append(1)
        if len(puts) == 2:  # e.g. the bucket's KMS key was disabled while the run was writing
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "KMS key disabled"}}, "PutObject")

    aws.boto3_session.events.register("before-call.s3.PutObject", fail_second_put)
    with monkeypatch.context() as patched:
        patched.setattr(audit, "management_session", lambda _config: aws)
        with pytest.raises(ClientError):
            collect(config)
    collect(config, at=NOW + timedelta(hours=1))
    wr.config.s3_endpoint_url = emulator.url
    on_s3 = wr.s3.read_parquet(f"{config.lake_uri}/jobs/", dataset=True)
    assert len(on_s3) == len(organization.spec.jobs)
    assert on_s3["job_arn"].is_unique


def test_incremental_rerun_reads_only_changes_and_a_full_listing_keeps_deleted_jobs(emulator) -> None:
    emulator.reset()
    running = JobSpec(
        "alpha",
        "us-east-1",
        "alpha-long-run",
        NOW - timedelta(hours=2),
        network_isolation=False,
        status="InProgress",
        duration=timedelta(hours=10),
    )
    spec = OrganizationSpec(
        accounts=(AccountSpec("alpha", "alpha", "/Workloads/Production", tags={"team": "alpha"}),),
        jobs=(*jobs_for("alpha", "us-east-1", 20), running),
        regions=tuple(REGIONS),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    alpha = organization.account_ids["alpha"]
    config = config_for(emulator, organization, full_listing_every_days=7)

    audits, first = collect(config)
    assert set(coverage_of(audits).query("status == 'audited'")["listing"]) == {"full"}
    assert first.jobs.set_index("job_name").loc["alpha-long-run", "status"] == "InProgress"

    # After the first run, the running job ends and another job vanishes from the API.
    apply_history(
        account_id=alpha,
        region="us-east-1",
        jobs=[replace(running, status="Completed", duration=timedelta(hours=3))],
    )
    deleted = spec.jobs[0].name
    forget_training_job(account_id=alpha, region="us-east-1", name=deleted)

    audits, second = collect(config, at=NOW + timedelta(days=1), week="2026-W48")
    coverage = coverage_of(audits).query("status == 'audited'")
    assert set(coverage["listing"]) == {"incremental"}
    # Nothing new in eu-west-1 and in the management account: a Search of training jobs and a processing
    # listing (no tuning job: none is named by a child read, none is running).
    quiet = coverage[(coverage["account_id"] != alpha) | (coverage["region"] != "us-east-1")]
    assert quiet["api_calls"].max() <= 2
    assert quiet["jobs_seen"].sum() == 0
    jobs = second.jobs.set_index("job_name")
    assert jobs.loc["alpha-long-run", "status"] == "Completed"
    assert jobs.loc[deleted, "listed"]  # an incremental read cannot prove a deletion
    assert len(second.jobs) == len(spec.jobs)

    audits, third = collect(
        config_for(emulator, organization, full_listing_every_days=0), at=NOW + timedelta(days=2)
    )
    jobs = third.jobs.set_index("job_name")
    # The full listing listed every job but fetched none: the history had them all, unchanged.
    full = coverage_of(audits).query("status == 'audited'")
    assert set(full["listing"]) == {"full"}
    assert sum(len(done.jobs) for done in audits) == 0
    assert full["jobs_seen"].sum() == len(spec.jobs) - 1  # all but the deleted one
    assert full["api_calls"].max() <= 4  # two Searches (training, tuning) and two lists, side by side
    assert len(third.jobs) == len(spec.jobs)
    assert not jobs.loc[deleted, "listed"]
    assert jobs.loc[deleted, "last_seen"] == pd.Timestamp(NOW)  # the last run that read it
    assert jobs["listed"].sum() == len(spec.jobs) - 1


def test_weekly_runs_read_incrementally_between_full_listings() -> None:
    """With the default configuration, a weekly schedule lists fully every fourth run, even when a run starts
    a few minutes earlier in the day than the last full one."""
    every = AuditConfig.model_fields["full_listing_every_days"].default
    start = datetime(2026, 11, 2, 6, 0, 30, tzinfo=UTC)
    rows: list[dict] = []
    listings = []
    for week in range(9):
        at = start + timedelta(weeks=week, minutes=-5 if week == 4 else 0)
        coverage = conform(pd.DataFrame(rows), COVERAGE) if rows else empty_frame(COVERAGE)
        plan = plan_regions(coverage=coverage, now=at, full_listing_every_days=every).get(
            ("111111111111", "us-east-1"), FULL_LISTING
        )
        listings.append(plan.listing)
        if not plan.full:
            assert plan.since == rows[-1]["audited_at"] - SEARCH_INDEX_LAG
        rows.append(
            {
                "audit_week": f"W{week}",
                "run_id": f"run-{week}",
                "account_id": "111111111111",
                "account_name": "alpha",
                "audited_at": at,
                "region": "us-east-1",
                "status": "audited",
                "reason": "",
                "listing": plan.listing,
                "jobs_seen": 0,
                "api_calls": 1,
            }
        )
    assert listings == ["full", "incremental", "incremental", "incremental"] * 2 + ["full"]


def test_accounts_whose_last_full_listing_was_largest_are_audited_first() -> None:
    def account(account_id: str) -> Account:
        return Account(account_id=account_id, name=account_id, status="ACTIVE", ou_path="/")

    def row(account_id: str, region: str, listing: str, jobs: int, day: int) -> dict:
        return {
            "audit_week": "W1",
            "run_id": "r",
            "account_id": account_id,
            "account_name": account_id,
            "region": region,
            "status": "audited",
            "reason": "",
            "listing": listing,
            "jobs_seen": jobs,
            "api_calls": 1,
            "audited_at": datetime(2026, 11, day, tzinfo=UTC),
        }

    coverage = conform(
        pd.DataFrame(
            [
                row("111", "us-east-1", "full", 10, 1),
                row("222", "us-east-1", "full", 9_000, 1),
                row("222", "us-east-1", "full", 40, 8),  # its latest full listing is what counts
                row("333", "us-east-1", "full", 30, 1),
                row("333", "eu-west-1", "full", 30, 1),
                row("444", "us-east-1", "incremental", 500, 8),  # changes, not a size
            ]
        ),
        COVERAGE,
    )
    accounts = [account(account_id) for account_id in ("111", "222", "333", "444", "555")]

    ordered = largest_first(accounts, coverage=coverage)

    assert [account.account_id for account in ordered] == ["333", "222", "111", "444", "555"]


def test_tuning_jobs_are_read_through_search_even_before_they_launch_anything(emulator) -> None:
    emulator.reset()
    created = NOW - timedelta(days=3)
    children = tuple(
        JobSpec(
            "alpha",
            "us-east-1",
            f"churn-hpo-{number:03d}-{number:08x}",
            created + timedelta(minutes=10 * number),
            network_isolation=None,
            tuning_job="churn-hpo",
        )
        for number in range(1, 6)
    )
    spec = OrganizationSpec(
        accounts=(AccountSpec("alpha", "alpha", "/Workloads/Production", tags={"team": "alpha"}),),
        jobs=children,
        tuning_jobs=(
            TuningJobSpec("alpha", "us-east-1", "churn-hpo", created, network_isolation=None),
            # Created a minute ago, without isolation: nothing launched yet, and it must show anyway.
            TuningJobSpec(
                "alpha", "us-east-1", "fresh-hpo", NOW - timedelta(minutes=1), False, status="InProgress"
            ),
        ),
        regions=("us-east-1",),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    _, stored = collect(config_for(emulator, organization, regions=["us-east-1"]))

    jobs = stored.jobs.set_index("job_name")
    assert sorted(jobs.index[jobs["job_kind"] == "tuning"]) == ["churn-hpo", "fresh-hpo"]
    assert not jobs.loc["fresh-hpo", "network_isolation"]
    assert jobs.loc["fresh-hpo", "status"] == "InProgress"
    assert jobs.loc["churn-hpo", "creation_time"] == pd.Timestamp(created)
    assert (jobs.loc[[child.name for child in children], "tuning_job_name"] == "churn-hpo").all()


def test_a_first_listing_reads_every_job_once_and_lists_only_what_search_may_lack(
    emulator, organization
) -> None:
    # An account-region the history has never seen: Search's records are the listing; List reads only the
    # jobs changed within Search's index lag (here: none), one call; the second run reads what changed.
    config = config_for(emulator, organization)
    emulator.faults.reset_counts()
    first, stored = collect(config)
    lists = emulator.faults.requests[("sagemaker", "ListTrainingJobs")]
    audited = pd.concat([done.coverage for done in first]).query("status == 'audited'")

    assert lists == len(audited)  # one List call per account-region, not one per page of 100
    assert set(audited["listing"]) == {"full"}
    assert len(stored.jobs) == len(organization.spec.jobs)
    assert stored.jobs["listed"].all()
    second, _ = collect(config, at=NOW + timedelta(days=7), week="2026-W48")
    assert set(pd.concat([done.coverage for done in second]).query("status == 'audited'")["listing"]) == {
        "incremental"
    }
