"""Money, end to end: the real weekly flow on a small organization whose spend is worked out by hand here.

Week 2026-W46 (Nov 9-15, 2026), one production account of team "fraud" in us-east-1, priced by the
emulator's Price List (us-east-1 on-demand, USD per instance-hour: ml.m5.xlarge 0.23, ml.p3.2xlarge 3.825,
ml.c5.xlarge 0.204, ml.g5.2xlarge 1.515, ml.g4dn.xlarge 0.736, ml.g5.xlarge 1.408; ml.trn1.32xlarge is not
in it). A training job's seconds are BillableTimeInSeconds (+ warm-pool retained time), a processing
job's end - start.

| job        | what                               | compute hours        | spend (USD)                     |
| ---------- | ---------------------------------- | -------------------- | ------------------------------- |
| single     | 1 x m5.xlarge, 2 h, isolated       | 2 x 1 = 2            | 2 x 0.23 = 0.46                 |
| hetero     | 2 x p3.2xlarge + 1 x c5.xlarge, 1 h, open | 1 x 3 = 3     | 1 x (2 x 3.825 + 0.204) = 7.854 |
| spot (x2)  | g5.2xlarge Spot, 2 h, 60 % saved (2,880 s billed), open | 0.8 each | 1.212 each          |
| warm       | 2 x g4dn.xlarge, 1 h + 30 min warm pool, isolated | 1.5 x 2 = 3 | 1.5 x 2 x 0.736 = 2.208 |
| features   | processing, 2 x m5.xlarge, 30 min, open | 0.5 x 2 = 1     | 0.5 x 2 x 0.23 = 0.23           |
| gnn        | g5.xlarge, failed after 6 min (missing_dependency), isolated | 0.1 | 0.1 x 1.408 = 0.1408 |
| trn        | trn1.32xlarge, 1 h, open           | 1                    | unpriced (never $0)             |

Week: compute 11.7 h; spend 13.3168; exposed (open runs) 7.854 + 2.424 + 0.23 = 10.508; compliant spend
0.46 + 2.208 + 0.1408 = 2.8088, isolated share 2.8088 / 13.3168 = 21.09 %; dependency failures 0.1408;
1 unpriced job. The spot family's open episode: 2 runs, 2.424 exposed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import awswrangler as wr
import boto3
import openpyxl
import pytest

from isoaudit import local_lake
from isoaudit.aws.session import AwsSession
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.emulator.history import apply_processing_history
from isoaudit.emulator.organization import (
    EXECUTION_ROLE,
    ORGANIZATION_ACCESS_ROLE,
    AccountSpec,
    JobSpec,
    OrganizationSpec,
    build_organization,
)

pytestmark = pytest.mark.prefect

WEEK = "2026-W46"
BUCKET = "isoaudit-money-lake"
DENIED_BUCKET = "isoaudit-money-denied"
MISSING_PACKAGE = "AlgorithmError: ModuleNotFoundError: No module named 'torch_geometric'"

SPEND = 0.46 + 7.854 + 2 * 1.212 + 2.208 + 0.23 + 0.1408
EXPOSED = 7.854 + 2 * 1.212 + 0.23
COMPLIANT_SPEND = 0.46 + 2.208 + 0.1408
JOB_SPEND = {"single": 0.46, "hetero": 7.854, "spot": 1.212, "warm": 2.208, "features": 0.23, "gnn": 0.1408}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def name(base: str, when: datetime) -> str:
    return f"{base}-{when:%Y-%m-%d-%H-%M-%S}-000"


def spec() -> OrganizationSpec:
    def job(base: str, day: int, isolated: bool, **fields: object) -> JobSpec:
        return JobSpec("ml", "us-east-1", name(base, at(day)), at(day), network_isolation=isolated, **fields)

    jobs = (
        job("single", 9, True, duration=timedelta(hours=2)),
        job("hetero", 9, False, instance_groups=(("ml.p3.2xlarge", 2), ("ml.c5.xlarge", 1))),
        job("spot", 10, False, instance_type="ml.g5.2xlarge", spot=True, spot_savings=0.6,
            duration=timedelta(hours=2)),
        job("spot", 12, False, instance_type="ml.g5.2xlarge", spot=True, spot_savings=0.6,
            duration=timedelta(hours=2)),
        job("warm", 11, True, instance_type="ml.g4dn.xlarge", instance_count=2,
            warm_pool=timedelta(minutes=30)),
        job("gnn", 11, True, instance_type="ml.g5.xlarge", status="Failed", failure_reason=MISSING_PACKAGE,
            duration=timedelta(minutes=6)),
        job("trn", 13, False, instance_type="ml.trn1.32xlarge"),
    )  # fmt: skip
    account = AccountSpec("ml", "ml-prod", "/Workloads/Production", {"team": "fraud", "environment": "prod"})
    return OrganizationSpec(accounts=(account,), jobs=jobs, bucket=BUCKET, regions=("us-east-1",))


def _add_processing_job(endpoint_url: str, account_id: str) -> None:
    """features: a processing job of 2 x ml.m5.xlarge without isolation, 30 minutes on Nov 12."""
    setup = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=endpoint_url)
    member = assume_role(
        aws=setup,
        role_arn=role_arn(account_id=account_id, role_name=ORGANIZATION_ACCESS_ROLE),
        session_name="isoaudit-money-test",
    )
    processing_name = name("features", at(12))
    resources = {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}}
    member.client("sagemaker", region="us-east-1").create_processing_job(
        ProcessingJobName=processing_name,
        ProcessingResources=resources,
        AppSpecification={
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1"
        },
        RoleArn=role_arn(account_id=account_id, role_name=EXECUTION_ROLE),
        NetworkConfig={"EnableNetworkIsolation": False},
        Tags=[{"Key": "team", "Value": "fraud"}],
    )
    created = at(12)
    apply_processing_history(
        account_id=account_id,
        region="us-east-1",
        name=processing_name,
        created=created,
        ended=created + timedelta(minutes=3 + 30),  # started 3 minutes after creation, ran 30 minutes
        status="Completed",
        resources=resources,
    )


@pytest.fixture(scope="module")
def runs(emulator, prefect_harness, tmp_path_factory):
    """Three runs of the week: the first reads the prices, the second finds them fresh, and a third, on a
    lake of its own, is refused the Price List API."""
    from flows.weekly_audit import weekly_audit

    emulator.reset()
    organization = build_organization(endpoint_url=emulator.url, spec=spec())
    _add_processing_job(emulator.url, organization.account_ids["ml"])
    overrides = {
        "bucket": BUCKET,
        "endpoint_url": emulator.url,
        "role_name": organization.spec.audit_role_name,
        "regions": ["us-east-1"],
    }
    calls = []
    results = []
    for _ in range(2):
        reports = tmp_path_factory.mktemp("reports")
        emulator.faults.reset_counts()
        results.append(
            (weekly_audit(week=WEEK, overrides={**overrides, "reports_dir": str(reports)}), reports)
        )
        calls.append(emulator.faults.requests[("pricing", "GetProducts")])
    boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1").create_bucket(Bucket=DENIED_BUCKET)
    denied_reports = tmp_path_factory.mktemp("denied")
    emulator.faults.denied = frozenset({("pricing", "GetProducts")})
    try:
        denied = weekly_audit(
            week=WEEK,
            overrides={
                **overrides,
                "bucket": DENIED_BUCKET,
                "database": "isoaudit_denied",
                "reports_dir": str(denied_reports),
            },
        )
    finally:
        emulator.faults.denied = frozenset()
    return {"first": results[0], "second": results[1], "calls": calls, "denied": (denied, denied_reports)}


def test_the_weeks_money_equals_the_hand_figures(runs) -> None:
    result, _ = runs["first"]
    org = result["org"]
    assert org["compute_hours"] == pytest.approx(11.7)
    assert org["spend_usd"] == pytest.approx(SPEND)
    assert org["exposed_spend_usd"] == pytest.approx(EXPOSED)
    assert org["isolated_spend_share"] == pytest.approx(100 * COMPLIANT_SPEND / SPEND)
    assert org["dependency_failure_spend_usd"] == pytest.approx(0.1408)
    assert org["unpriced_jobs"] == 1
    (team,) = result["teams"]
    assert (team["team"], team["spend_usd"], team["exposed_spend_usd"]) == (
        "fraud",
        org["spend_usd"],
        EXPOSED,
    )
    assert result["trend"][-1]["exposed_spend_usd"] == pytest.approx(EXPOSED)
    assert result["pricing_note"] is None


def test_each_jobs_spend_and_the_episodes_exposed_spend_in_the_lake(runs, emulator) -> None:
    aws = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)
    wr.config.s3_endpoint_url = emulator.url
    facts = wr.s3.read_parquet(
        f"s3://{BUCKET}/isoaudit/job_facts/", dataset=True, boto3_session=aws.boto3_session
    )
    by_base = {row["job_name"].split("-2026-")[0]: row for row in facts.to_dict("records")}
    for base, spend in JOB_SPEND.items():
        assert by_base[base]["spend_usd"] == pytest.approx(spend), base
    assert by_base["hetero"]["instance_count"] == 3
    assert by_base["hetero"]["compute_hours"] == pytest.approx(3)
    assert (by_base["spot"]["training_seconds"], by_base["spot"]["billable_seconds"]) == (7200, 2880)
    assert by_base["warm"]["warm_pool_seconds"] == 1800
    assert by_base["features"]["job_kind"] == "processing"
    assert by_base["features"]["billable_seconds"] == 1800
    assert by_base["gnn"]["failure_class"] == "missing_dependency"
    assert by_base["trn"]["compute_hours"] == pytest.approx(1)
    assert by_base["trn"]["spend_usd"] != by_base["trn"]["spend_usd"]  # NaN: unpriced, not 0

    episodes = wr.s3.read_parquet(
        f"s3://{BUCKET}/isoaudit/episodes/", dataset=True, boto3_session=aws.boto3_session
    )
    spot = episodes.loc[episodes["family"] == "spot"].iloc[0]
    assert (spot["non_compliant_runs"], spot["exposed_spend_usd"]) == (2, pytest.approx(2 * 1.212))


def test_prices_are_kept_in_the_lake_and_a_second_run_reads_none(runs, emulator) -> None:
    # 7 instance types for training and 1 for processing: one call each, then none while they are fresh.
    assert runs["calls"] == [8, 0]
    aws = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)
    wr.config.s3_endpoint_url = emulator.url
    stored = wr.s3.read_parquet(
        f"s3://{BUCKET}/isoaudit/prices/", dataset=True, boto3_session=aws.boto3_session
    )
    prices = {(row["instance_type"], row["usage"]): row for row in stored.to_dict("records")}
    assert len(prices) == 8
    assert prices[("ml.p3.2xlarge", "training")]["usd_per_hour"] == pytest.approx(3.825)
    assert prices[("ml.p3.2xlarge", "training")]["usage_type"] == "USE1-Train:ml.p3.2xlarge"
    assert prices[("ml.m5.xlarge", "processing")]["usage_type"] == "USE1-Processing:ml.m5.xlarge"
    unknown = prices[("ml.trn1.32xlarge", "training")]
    assert unknown["usd_per_hour"] != unknown["usd_per_hour"]  # not in the Price List: stored as unknown
    assert runs["second"][0]["org"] == runs["first"][0]["org"]


def test_the_workbook_shows_the_hand_figures(runs) -> None:
    result, _ = runs["first"]
    book = openpyxl.load_workbook(result["workbook"])
    summary = {
        row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=6, max_row=40) if row[0].value
    }
    assert summary["Spend, list price (USD)"] == pytest.approx(SPEND)
    assert summary["Exposed spend (ran without isolation)"] == pytest.approx(EXPOSED)
    assert summary["unpriced jobs (price unknown)"] == 1
    teams = _rows(book["Teams"])
    assert teams[0]["Spend (USD)"] == pytest.approx(SPEND)
    assert teams[0]["Exposed spend (USD)"] == pytest.approx(EXPOSED)
    assert (
        book["Teams"].cell(row=2, column=_column(book["Teams"], "Spend (USD)")).number_format == '"$"#,##0.00'
    )
    violations = {row["Job name"].split("-2026-")[0]: row for row in _rows(book["Violations"])}
    assert violations["hetero"]["Spend (USD)"] == pytest.approx(7.854)
    assert violations["trn"]["Spend (USD)"] is None  # unpriced: an empty cell, never $0
    exposures = {row["Family"]: row for row in _rows(book["Open exposures"])}
    assert exposures["spot"]["Exposed spend (USD)"] == pytest.approx(2.424)
    failures = _rows(book["Failure causes"])
    (gnn,) = [row for row in failures if row["Failure class"] == "missing_dependency"]
    assert gnn["Spend wasted (USD)"] == pytest.approx(0.1408)


def test_the_executive_page_and_the_subject_carry_the_exposed_spend(runs) -> None:
    result, _ = runs["first"]
    page = Path(result["page"]).read_text(encoding="utf-8")
    assert "Exposed spend (ran without isolation)" in page
    assert f"${EXPOSED:,.2f}" in page and f"${SPEND:,.2f}" in page


def test_the_views_give_the_hand_figures(runs) -> None:
    _, reports = runs["first"]
    connection = local_lake.connect(reports / "lake")
    (row,) = local_lake.query(connection, f"SELECT * FROM team_scorecard WHERE week = '{WEEK}'").to_dict(
        "records"
    )
    assert (row["spend_usd"], row["exposed_spend_usd"], row["unpriced_jobs"]) == (
        pytest.approx(SPEND),
        pytest.approx(EXPOSED),
        1,
    )
    spot = local_lake.query(connection, "SELECT * FROM open_exposures WHERE family = 'spot'")
    assert spot["exposed_spend_usd"].tolist() == [pytest.approx(2.424)]
    violations = local_lake.query(
        connection, f"SELECT job_name, spend_usd FROM violations WHERE week = '{WEEK}'"
    )
    assert violations["spend_usd"].sum() == pytest.approx(EXPOSED)


def test_pricing_denied_leaves_the_jobs_unpriced_and_says_so(runs) -> None:
    denied, _ = runs["denied"]
    org = denied["org"]
    assert org["unpriced_jobs"] == 8
    assert org["spend_usd"] is None and org["exposed_spend_usd"] is None  # unknown, never $0
    assert org["compute_hours"] == pytest.approx(11.7)
    assert "AccessDenied" in denied["pricing"]["failure"]
    assert denied["pricing_note"].startswith("Prices could not be read")
    assert "8 jobs of the week are unpriced" in denied["pricing_note"]
    summary = openpyxl.load_workbook(denied["workbook"])["Summary"]
    texts = [cell.value for row in summary.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert any("Prices could not be read" in text for text in texts)


def test_the_worked_money_example_of_the_docs_is_this_run(runs) -> None:
    """docs/metrics.md, "Worked money example": each `measure` of its table is the run's own figure."""
    text = (Path(__file__).parent.parent / "docs" / "metrics.md").read_text(encoding="utf-8")
    section = text.split("## Worked money example", 1)[1].split("\n## ", 1)[0]
    documented = {
        cells[0].strip("` "): float(cells[1])
        for line in section.splitlines()
        if line.startswith("| `") and (cells := [cell.strip() for cell in line.strip("|").split("|")])
    }
    assert set(documented) == {
        "compute_hours", "spend_usd", "exposed_spend_usd", "isolated_spend_share",
        "dependency_failure_spend_usd", "unpriced_jobs",
    }  # fmt: skip
    org = runs["first"][0]["org"]
    for measure, value in documented.items():
        assert org[measure] == pytest.approx(value, abs=1e-4), measure
    assert "`exposed_spend_usd` 2.424" in section
    assert "8 unpriced jobs" in section


def _rows(sheet) -> list[dict]:
    header = [cell.value for cell in sheet[1]]
    return [
        dict(zip(header, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=2)
    ]


def _column(sheet, header: str) -> int:
    return [cell.value for cell in sheet[1]].index(header) + 1
