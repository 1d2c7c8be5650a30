"""The real weekly flow (Prefect, moto server, awswrangler, openpyxl) on a small organization built here.

Expected values are worked out by hand from the jobs below, for ISO week 2026-W46 (Nov 9-15, 2026).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import awswrangler as wr
import boto3
import openpyxl
import pandas as pd
import pytest

from isoaudit.aws.session import AwsSession
from isoaudit.emulator.organization import AccountSpec, JobSpec, OrganizationSpec, build_organization

pytestmark = pytest.mark.prefect

WEEK = "2026-W46"
REGIONS = ("us-east-1", "eu-west-1")


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def sdk_name(base: str, when: datetime) -> str:
    return f"{base}-{when:%Y-%m-%d-%H-%M-%S}-000"


def spec() -> OrganizationSpec:
    accounts = (
        AccountSpec(
            key="prod-a",
            name="ml-prod-a",
            ou_path="/Workloads/Production",
            tags={"team": "fraud", "environment": "production"},
        ),
        AccountSpec(
            key="dev-b", name="ml-dev-b", ou_path="/Workloads/NonProduction", tags={"team": "vision"}
        ),
        AccountSpec(key="no-role", name="ml-sandbox", ou_path="/Sandbox", tags={}, audit_role=False),
    )
    churn = [at(26, month=10), at(2), at(10)]
    jobs = (
        # churn: open Oct 26 (W44), repeat Nov 2 (W45), fixed Nov 10 (W46): closed, 15 days = 360 h.
        JobSpec("prod-a", "us-east-1", sdk_name("churn", churn[0]), churn[0], network_isolation=False),
        JobSpec("prod-a", "us-east-1", sdk_name("churn", churn[1]), churn[1], network_isolation=None),
        JobSpec("prod-a", "us-east-1", sdk_name("churn", churn[2]), churn[2], network_isolation=True),
        # score: isolated and in a VPC, always compliant.
        JobSpec("prod-a", "us-east-1", sdk_name("score", at(11)), at(11), network_isolation=True, vpc=True),
        # ranker: in a VPC without isolation (vpc-only): a violation that opens an episode still open.
        JobSpec(
            "prod-a", "us-east-1", sdk_name("ranker", at(12, 9)), at(12, 9), network_isolation=False, vpc=True
        ),
        # detector: open Nov 9 08:00, fixed Nov 13 08:00: closed, 96 h.
        JobSpec("dev-b", "eu-west-1", sdk_name("detector", at(9, 8)), at(9, 8), network_isolation=False),
        JobSpec("dev-b", "eu-west-1", sdk_name("detector", at(13, 8)), at(13, 8), network_isolation=True),
        # a job tagged for another team, isolated, failed for a missing package.
        JobSpec(
            "dev-b",
            "eu-west-1",
            sdk_name("tokenizer", at(14)),
            at(14),
            network_isolation=True,
            status="Failed",
            failure_reason="AlgorithmError: ModuleNotFoundError: No module named 'sentencepiece'",
            tags={"team": "nlp"},
        ),
        # outside the week: must not count in W46.
        JobSpec("dev-b", "eu-west-1", sdk_name("late", at(17)), at(17), network_isolation=False),
    )
    return OrganizationSpec(accounts=accounts, jobs=jobs, bucket="isoaudit-test-lake", regions=REGIONS)


@pytest.fixture(scope="module")
def organization(emulator, prefect_harness):
    emulator.reset()
    return build_organization(endpoint_url=emulator.url, spec=spec())


@pytest.fixture(scope="module")
def audit_result(organization, emulator, tmp_path_factory):
    from flows.weekly_audit import weekly_audit

    reports = tmp_path_factory.mktemp("reports")
    overrides = {
        "bucket": organization.bucket,
        "endpoint_url": emulator.url,
        "role_name": organization.spec.audit_role_name,
        "regions": list(REGIONS),
        "reports_dir": str(reports),
    }
    first = weekly_audit(week=WEEK, overrides=overrides)
    second = weekly_audit(week=WEEK, overrides=overrides)  # a re-run of the same week
    return first, second, reports


def lake_session(emulator) -> AwsSession:
    return AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)


def test_org_kpis_match_the_hand_computed_values(audit_result) -> None:
    first, _, _ = audit_result
    org = first["org"]
    assert first["period"]["week"] == WEEK
    assert org["jobs"] == 6
    assert org["compliant"] == 4
    assert org["isolation_rate"] == pytest.approx(400 / 6)
    assert org["production_isolation_rate"] == pytest.approx(200 / 3)
    assert org["violations"] == 2
    assert org["episodes_closed"] == 2
    assert org["mttr_hours"] == pytest.approx((360 + 96) / 2)
    assert org["median_ttr_hours"] == pytest.approx(228)
    assert org["episodes_open"] == 1


def test_team_kpis_match_the_hand_computed_values(audit_result) -> None:
    first, _, _ = audit_result
    teams = {row["team"]: row for row in first["teams"]}
    assert teams["fraud"]["jobs"] == 3
    assert teams["fraud"]["isolation_rate"] == pytest.approx(200 / 3)
    assert teams["fraud"]["mttr_hours"] == pytest.approx(360)
    assert teams["fraud"]["episodes_open"] == 1
    assert teams["vision"]["jobs"] == 2
    assert teams["vision"]["isolation_rate"] == pytest.approx(50)
    assert teams["vision"]["mttr_hours"] == pytest.approx(96)
    assert teams["nlp"]["jobs"] == 1
    assert teams["nlp"]["isolation_rate"] == pytest.approx(100)
    assert sum(team["jobs"] for team in first["teams"]) == first["org"]["jobs"]


def test_account_without_audit_role_is_a_gap_and_the_others_are_audited(audit_result, organization) -> None:
    first, _, _ = audit_result
    no_role = organization.account_ids["no-role"]
    gaps = [gap for gap in first["gaps"] if gap["account"] == no_role]
    assert {gap["region"] for gap in gaps} == set(REGIONS)
    assert all("AccessDenied" in gap["reason"] for gap in gaps)
    audited_accounts = {organization.account_ids["prod-a"], organization.account_ids["dev-b"]}
    assert not [gap for gap in first["gaps"] if gap["account"] in audited_accounts]
    # management + prod-a + dev-b audited in 2 regions each, no-role failed in 2: 6 / 8.
    assert first["org"]["audit_coverage"] == pytest.approx(75.0)


def test_rerun_of_the_same_week_duplicates_no_row(audit_result, emulator, organization) -> None:
    first, second, _ = audit_result
    assert second["org"] == first["org"]
    aws = lake_session(emulator)
    wr.config.s3_endpoint_url = emulator.url
    jobs = wr.s3.read_parquet(
        f"s3://{organization.bucket}/isoaudit/jobs/", dataset=True, boto3_session=aws.boto3_session
    )
    assert len(jobs) == len(spec().jobs)
    assert jobs["job_arn"].is_unique
    coverage = wr.s3.read_parquet(
        f"s3://{organization.bucket}/isoaudit/coverage/", dataset=True, boto3_session=aws.boto3_session
    )
    assert len(coverage) == 8
    assert set(coverage["audit_week"]) == {WEEK}


def test_lake_is_registered_in_glue_with_partition_projection(audit_result, emulator) -> None:
    aws = lake_session(emulator)
    wr.config.glue_endpoint_url = emulator.url
    parameters = wr.catalog.get_table_parameters(
        database="isoaudit", table="jobs", boto3_session=aws.boto3_session
    )
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.creation_month.type"] == "date"


def test_workbook_numbers_equal_the_computed_kpis(audit_result) -> None:
    first, _, reports = audit_result
    path = Path(first["workbook"])
    assert path == reports / f"isoaudit-{WEEK}.xlsx"
    book = openpyxl.load_workbook(path)
    assert {"Summary", "Teams", "Violations"} <= set(book.sheetnames)
    teams_sheet = book["Teams"]
    header = [cell.value for cell in teams_sheet[1]]
    rows = [
        dict(zip(header, (cell.value for cell in row), strict=True))
        for row in teams_sheet.iter_rows(min_row=2)
    ]
    by_team = {row[header[0]]: row for row in rows}
    for team in first["teams"]:
        assert by_team[team["team"]][_header_of(header, "jobs")] == team["jobs"]
    violations = book["Violations"]
    assert violations.max_row - 1 == first["org"]["violations"]


def test_local_lake_copy_is_readable(audit_result) -> None:
    _, _, reports = audit_result
    local = pd.read_parquet(reports / "lake" / "jobs")
    assert sorted(local["job_name"]) == sorted(job.name for job in spec().jobs)
    created = pd.to_datetime(local["creation_time"], utc=True)
    assert created.min() == pd.Timestamp(at(26, month=10))


def _header_of(header: list[str], key: str) -> str:
    return next(name for name in header if name.lower().startswith(key))
