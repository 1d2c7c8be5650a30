"""The KPIs of a small organization whose every number is worked out by hand.

Report week 2026-W10 (Monday 2026-03-02 to Monday 2026-03-09, UTC); the report is generated on
2026-03-09 06:00. Accounts:

- ML (111111111111, /Workloads/Prod, tag team=ml-platform): production.
- FRAUD (222222222222, /Workloads/NonProd, no tags): non-production; jobs tagged team=fraud, or untagged.
- SANDBOX (333333333333, /Sandbox): team "data-eng" from the mapping file by account id.
- RESEARCH (444444444444, /Workloads/Research/Deep): team "research" from the mapping file by OU path.
- LEGACY (555555555555, /Workloads/Prod, no tags): not audited in W10 (stale).

Episodes: E1 train (ML) opened 02-17 09:00 by an open job, repeated by a VPC-only job on 02-24,
closed 03-03 09:00 (336 h); E2 train opened 03-04 09:00, closed 03-05 21:00 (36 h); E3 fraud-pipeline
opened 03-02 10:00, closed 03-03 10:00 (24 h); E4 old-notebook (SANDBOX) opened 2025-10-01, never run
again (dormant); E5 serve (ML) opened 03-06 00:00 by a VPC-only job, repeated 03-07, still open.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from isoaudit.config import AuditConfig
from isoaudit.job_kinds import console_url
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.coverage import account_audits, audit_coverage, latest_status
from isoaudit.metrics.episodes import exposure_episodes, family_history, with_history
from isoaudit.metrics.kpis import weekly_kpis
from isoaudit.metrics.report import build_report, report_json
from isoaudit.metrics.weeks import last_complete_week, trailing_weeks, week_labels, week_start
from isoaudit.schema import ACCOUNTS, COVERAGE, EPISODES, JOB_FACTS, JOBS, WEEKLY_KPIS, conform
from tests.jobs_factory import job as factory_job

ML, FRAUD, SANDBOX, RESEARCH, LEGACY = (str(digit) * 12 for digit in range(1, 6))
GENERATED_AT = pd.Timestamp("2026-03-09T06:00:00Z")
CONFIG = AuditConfig(
    bucket="audit-bucket",
    team_mapping={
        SANDBOX: "data-eng",
        "/Workloads/Res": "wrong: not a whole OU name",
        "/Workloads/Research": "research",
        "/Workloads/Research/Deep/Other": "wrong: below the account",
    },
)
MISSING_PYARROW = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "ModuleNotFoundError: No module named '
    '\'pyarrow\'"\nCommand "/usr/local/bin/python3.10 train.py"'
)


def job(
    name: str,
    created: str,
    *,
    account: str = ML,
    posture: str = "isolated",
    tags: dict[str, str] | None = None,
    status: str = "Completed",
    reason: str = "",
    kind: str = "training",
    tuning: str = "",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """One JOBS row; `posture` sets network isolation and the VPC as the tier names say."""
    in_vpc = posture in ("isolated+vpc", "vpc-only")
    return factory_job(
        name,
        pd.Timestamp(created, tz="UTC"),
        account_id=account,
        region=region,
        job_kind=kind,
        status=status,
        failure_reason=reason,
        network_isolation=posture.startswith("isolated"),
        vpc_subnet_ids="subnet-1,subnet-2" if in_vpc else "",
        vpc_security_group_ids="sg-1" if in_vpc else "",
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        tags_json=json.dumps(tags or {}),
        tuning_job_name=tuning,
        seen=GENERATED_AT,
    )


def jobs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), JOBS)


def account(account_id: str, name: str, ou_path: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "account_name": name,
        "account_status": "ACTIVE",
        "ou_path": ou_path,
        "tags_json": json.dumps(tags or {}),
    }


ACCOUNT_ROWS = [
    account(ML, "ml-prod", "/Workloads/Prod", {"team": "ml-platform"}),
    account(FRAUD, "fraud-dev", "/Workloads/NonProd"),
    account(SANDBOX, "data-sandbox", "/Sandbox"),
    account(RESEARCH, "research", "/Workloads/Research/Deep"),
    account(LEGACY, "legacy", "/Workloads/Prod"),
]
FRAUD_TAGS = {"team": "fraud", "pipeline": "fraud-pipeline"}
JOB_ROWS = [
    job("old-notebook", "2025-10-01T00:00:00", account=SANDBOX, posture="open"),
    job("train-2026-02-17-09-00-00-000", "2026-02-17T09:00:00", posture="open"),
    job("train-2026-02-24-09-00-00-000", "2026-02-24T09:00:00", posture="vpc-only"),
    job("legacy-2026-02-25-00-00-00-000", "2026-02-25T00:00:00", account=LEGACY),
    job("explore", "2026-02-26T00:00:00", tags={"owner": "alice-team"}),
    job("fraud-a", "2026-03-02T10:00:00", account=FRAUD, posture="open", tags=FRAUD_TAGS),
    job("train-2026-03-03-09-00-00-000", "2026-03-03T09:00:00", posture="isolated+vpc"),
    job("fraud-b", "2026-03-03T10:00:00", account=FRAUD, tags=FRAUD_TAGS),
    job("train-2026-03-04-09-00-00-000", "2026-03-04T09:00:00", posture="open"),
    job("train-2026-03-05-21-00-00-000", "2026-03-05T21:00:00"),
    job("serve-2026-03-06-00-00-00-000", "2026-03-06T00:00:00", posture="vpc-only"),
    job("adhoc-2026-03-06-08-00-00-000", "2026-03-06T08:00:00", account=FRAUD),
    job(
        "scoring",
        "2026-03-06T12:00:00",
        account=FRAUD,
        tags={**FRAUD_TAGS, "pipeline": "fraud-scoring", "environment": "prod"},
    ),
    job("serve-2026-03-07-00-00-00-000", "2026-03-07T00:00:00", posture="open"),
    job("etl-2026-03-07-10-00-00-000", "2026-03-07T10:00:00", status="Failed", reason=MISSING_PYARROW),
    job("hpo-0301-001-4f2a9c1e", "2026-03-08T12:00:00", account=RESEARCH, tuning="hpo-0301"),
    job("research-job", "2026-03-08T23:59:59", account=RESEARCH, posture="isolated+vpc"),
]


def coverage_row(week: str, account_id: str, region: str, status: str, reason: str = "") -> dict[str, Any]:
    return {
        "audit_week": week,
        "run_id": f"run-{week}",
        "account_id": account_id,
        "account_name": {row["account_id"]: row["account_name"] for row in ACCOUNT_ROWS}[account_id],
        "region": region,
        "status": status,
        "reason": reason,
        "listing": "full",
        "jobs_seen": 0,
        "api_calls": 1,
        "audited_at": week_start(week) + pd.Timedelta(days=7, hours=5),
    }


COVERAGE_ROWS = [
    *(
        coverage_row("2026-W09", account_id, "us-east-1", "audited")
        for account_id in (ML, FRAUD, SANDBOX, RESEARCH, LEGACY)
    ),
    coverage_row("2026-W10", ML, "us-east-1", "audited"),
    coverage_row("2026-W10", ML, "eu-west-1", "skipped", "region not enabled"),
    coverage_row("2026-W10", FRAUD, "us-east-1", "audited"),
    coverage_row("2026-W10", SANDBOX, "us-east-1", "audited"),
    coverage_row("2026-W10", RESEARCH, "us-east-1", "audited"),
    coverage_row("2026-W10", RESEARCH, "eu-west-1", "failed", "ThrottlingException after 5 retries"),
    coverage_row("2026-W10", LEGACY, "us-east-1", "failed", "AccessDenied: sts:AssumeRole"),
    coverage_row("2026-W10", LEGACY, "eu-west-1", "failed", "AccessDenied: sts:AssumeRole"),
]


@pytest.fixture(scope="module")
def accounts() -> pd.DataFrame:
    return conform(pd.DataFrame(ACCOUNT_ROWS), ACCOUNTS)


@pytest.fixture(scope="module")
def coverage() -> pd.DataFrame:
    return conform(pd.DataFrame(COVERAGE_ROWS), COVERAGE)


@pytest.fixture(scope="module")
def facts(accounts: pd.DataFrame) -> pd.DataFrame:
    return job_facts(jobs_frame(JOB_ROWS), accounts, config=CONFIG).set_index("job_name", drop=False)


@pytest.fixture(scope="module")
def kpis(facts: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    return weekly_kpis(facts, weeks=["2026-W08", "2026-W09", "2026-W10"], dormant_days=90, coverage=coverage)


def kpi(kpis: pd.DataFrame, week: str, scope: str, value: str) -> pd.Series:
    rows = kpis.loc[(kpis["week"] == week) & (kpis["scope"] == scope) & (kpis["scope_value"] == value)]
    assert len(rows) == 1, f"{week} {scope} {value}: {len(rows)} rows"
    return rows.iloc[0]


# --- attribution -------------------------------------------------------------------------------------


def test_job_facts_keeps_every_job_and_the_schema(facts: pd.DataFrame) -> None:
    assert len(facts) == len(JOB_ROWS)
    assert list(facts.columns[: len(JOB_FACTS.names)]) == JOB_FACTS.names
    assert len(conform(facts.reset_index(drop=True), JOB_FACTS)) == len(JOB_ROWS)


@pytest.mark.parametrize(
    ("job_name", "team", "why"),
    [
        ("train-2026-03-03-09-00-00-000", "ml-platform", "account tag"),
        ("fraud-a", "fraud", "job tag"),
        ("explore", "alice-team", "job tag 'owner' (third key) beats the account tag"),
        ("old-notebook", "data-eng", "mapping by account id"),
        ("research-job", "research", "mapping by the longest OU path above the account"),
        ("adhoc-2026-03-06-08-00-00-000", "unattributed", "no tag, no mapping"),
        ("legacy-2026-02-25-00-00-00-000", "unattributed", "no tag, no mapping"),
    ],
)
def test_team_attribution(facts: pd.DataFrame, job_name: str, team: str, why: str) -> None:
    assert facts.loc[job_name, "team"] == team, why


@pytest.mark.parametrize(
    ("job_name", "environment"),
    [
        ("train-2026-03-03-09-00-00-000", "production"),  # OU /Workloads/Prod
        ("fraud-a", "non-production"),  # OU /Workloads/NonProd: "NonProd" is not production
        ("scoring", "production"),  # job tag environment=prod beats the OU
        ("old-notebook", "sandbox"),  # OU /Sandbox
        ("research-job", "unknown"),  # OU /Workloads/Research/Deep matches no pattern
    ],
)
def test_environment_attribution(facts: pd.DataFrame, job_name: str, environment: str) -> None:
    assert facts.loc[job_name, "environment"] == environment


@pytest.mark.parametrize(
    ("job_name", "family"),
    [
        ("train-2026-02-17-09-00-00-000", "train"),  # SDK timestamp suffix removed
        ("fraud-a", "fraud-pipeline"),  # pipeline tag
        ("fraud-b", "fraud-pipeline"),
        ("hpo-0301-001-4f2a9c1e", "hpo-0301"),  # tuning job's child
        ("research-job", "research-job"),  # the name itself
    ],
)
def test_family(facts: pd.DataFrame, job_name: str, family: str) -> None:
    assert facts.loc[job_name, "family"] == family


def test_families_are_those_of_some_job(facts: pd.DataFrame) -> None:
    families = facts["family"].cat.categories
    # The stems of the tagged jobs (fraud-a, fraud-b) are no family; the tag-only families come last, sorted.
    assert sorted(families) == sorted(set(facts["family"].astype(str)))
    assert {"fraud-a", "fraud-b"}.isdisjoint(families)
    assert list(families[-2:]) == ["fraud-pipeline", "fraud-scoring"]


def test_posture_week_and_failure_class(facts: pd.DataFrame) -> None:
    serve = facts.loc["serve-2026-03-06-00-00-00-000"]
    assert (serve["posture"], bool(serve["compliant"])) == ("vpc-only", False)
    assert facts.loc["research-job", "posture"] == "isolated+vpc"
    assert facts.loc["research-job", "week"] == "2026-W10"  # Sunday 23:59:59 is still W10
    assert facts.loc["old-notebook", "week"] == "2025-W40"
    etl = facts.loc["etl-2026-03-07-10-00-00-000"]
    assert (etl["failure_class"], bool(etl["compliant"])) == ("missing_dependency", True)
    assert set(facts.loc[facts["status"] != "Failed", "failure_class"]) == {""}


def test_new_and_repeat_violations(facts: pd.DataFrame) -> None:
    violations = facts.loc[~facts["compliant"], "violation"].astype(str).to_dict()
    assert violations == {
        "old-notebook": "new",
        "train-2026-02-17-09-00-00-000": "new",
        "train-2026-02-24-09-00-00-000": "repeat",
        "fraud-a": "new",
        "train-2026-03-04-09-00-00-000": "new",  # the first violation after a remediation
        "serve-2026-03-06-00-00-00-000": "new",
        "serve-2026-03-07-00-00-00-000": "repeat",
    }
    assert set(facts.loc[facts["compliant"], "violation"]) == {""}
    assert facts.loc["train-2026-02-24-09-00-00-000", "remediated_at"] == pd.Timestamp("2026-03-03T09:00Z")
    assert facts.loc["serve-2026-03-06-00-00-00-000", "next_run_at"] == pd.Timestamp("2026-03-07T00:00Z")


def test_job_without_creation_time_is_refused(accounts: pd.DataFrame) -> None:
    jobs = jobs_frame([job("x", "2026-03-02T00:00:00")])
    jobs.loc[0, "creation_time"] = pd.NaT
    with pytest.raises(ValueError, match="creation_time"):
        job_facts(jobs, accounts, config=CONFIG)


def test_unreadable_tags_count_as_no_tags(accounts: pd.DataFrame) -> None:
    jobs = jobs_frame([job("x", "2026-03-02T00:00:00", account=FRAUD)])
    jobs.loc[0, "tags_json"] = "{not json"
    facts = job_facts(jobs, accounts, config=CONFIG)
    assert (facts.loc[0, "team"], facts.loc[0, "environment"]) == ("unattributed", "non-production")


# --- episodes ----------------------------------------------------------------------------------------


def test_exposure_episodes(facts: pd.DataFrame) -> None:
    episodes = exposure_episodes(facts, as_of=GENERATED_AT, dormant_days=90)
    assert list(episodes.columns) == EPISODES.names
    table = episodes.set_index("first_job_name")
    expected = {
        # first job: (family, team, state, runs, hours to remediate, age in hours)
        "train-2026-02-17-09-00-00-000": ("train", "ml-platform", "closed", 2, 336.0, None),
        "train-2026-03-04-09-00-00-000": ("train", "ml-platform", "closed", 1, 36.0, None),
        "fraud-a": ("fraud-pipeline", "fraud", "closed", 1, 24.0, None),
        "old-notebook": ("old-notebook", "data-eng", "dormant", 1, None, 159 * 24 + 6.0),
        "serve-2026-03-06-00-00-00-000": ("serve", "ml-platform", "open", 2, None, 3 * 24 + 6.0),
    }
    assert set(table.index) == set(expected)
    for name, (family, team, state, runs, ttr, age) in expected.items():
        row = table.loc[name]
        assert (row["family"], row["team"], row["state"], row["non_compliant_runs"]) == (
            family,
            team,
            state,
            runs,
        )
        assert _same(row["hours_to_remediate"], ttr) and _same(row["age_hours"], age), name
    assert table.loc["train-2026-02-17-09-00-00-000", "last_run_at"] == pd.Timestamp("2026-02-24T09:00Z")
    assert table.loc["serve-2026-03-06-00-00-00-000", "environment"] == "production"


def test_exposure_episodes_as_of_an_earlier_time(facts: pd.DataFrame) -> None:
    """Jobs created after as_of do not count: the fix of fraud-pipeline (10:00) is not known at 09:30."""
    episodes = exposure_episodes(facts, as_of=pd.Timestamp("2026-03-03T09:30Z"), dormant_days=90)
    table = episodes.set_index("first_job_name")
    assert set(table.index) == {"old-notebook", "train-2026-02-17-09-00-00-000", "fraud-a"}
    assert table.loc["fraud-a", "state"] == "open"
    assert table.loc["fraud-a", "age_hours"] == 23.5
    assert table.loc["train-2026-02-17-09-00-00-000", "state"] == "closed"


def test_family_history_ties_put_the_violation_first() -> None:
    """A compliant and a non-compliant run at the same instant: the episode opens and closes at once."""
    at = np.array([5_000, 5_000, 9_000, 1_000], dtype=np.int64) * 1_000_000
    history = family_history(
        account=np.zeros(4, dtype=np.int64),
        region=np.zeros(4, dtype=np.int64),
        family=np.array([0, 0, 0, 1]),
        created=at,
        compliant=np.array([True, False, False, False]),
    )
    assert history.violation.tolist() == [0, 1, 1, 1]
    assert history.remediated_at[1] == at[0]
    assert history.next_run_at.tolist()[1:] == [at[0], np.iinfo(np.int64).min, np.iinfo(np.int64).min]


def test_history_is_recomputed_for_facts_read_back_from_the_lake(facts: pd.DataFrame) -> None:
    stored = conform(facts.reset_index(drop=True), JOB_FACTS)
    again = with_history(stored)
    assert again["violation"].astype(str).tolist() == facts["violation"].astype(str).tolist()


# --- weekly KPIs -------------------------------------------------------------------------------------


def test_org_kpis_of_the_report_week(kpis: pd.DataFrame) -> None:
    org = kpi(kpis, "2026-W10", "org", "org")
    assert (org["jobs"], org["compliant"]) == (12, 8)
    assert org["isolation_rate"] == pytest.approx(100 * 8 / 12)
    assert (org["production_jobs"], org["production_isolation_rate"]) == (7, pytest.approx(100 * 4 / 7))
    assert (org["violations"], org["new_violations"], org["repeat_violations"]) == (4, 3, 1)
    tiers = [org[f"tier_{tier}"] for tier in ("isolated_vpc", "isolated", "vpc_only", "open")]
    assert tiers == [2, 6, 1, 3]
    assert org["episodes_closed"] == 3
    # Closed in W10: 24, 36 and 336 hours. p90 by linear interpolation: 36 + 0.8 * (336 - 36).
    assert (org["mttr_hours"], org["median_ttr_hours"], org["p90_ttr_hours"]) == (132.0, 36.0, 276.0)
    assert (org["episodes_open"], org["episodes_dormant"]) == (2, 1)
    assert (org["dependency_failures"], org["stale_accounts"]) == (1, 1)


def test_an_episode_that_spans_weeks(kpis: pd.DataFrame) -> None:
    """E1 opens in W08 and is open at the end of W08 and W09; it closes in W10."""
    w08, w09 = kpi(kpis, "2026-W08", "org", "org"), kpi(kpis, "2026-W09", "org", "org")
    assert (w08["jobs"], w08["new_violations"], w08["episodes_open"], w08["episodes_closed"]) == (1, 1, 2, 0)
    assert (w09["jobs"], w09["compliant"], w09["repeat_violations"], w09["episodes_open"]) == (3, 2, 1, 2)
    assert np.isnan(w09["mttr_hours"])
    assert (w08["episodes_dormant"], w09["episodes_dormant"], w09["stale_accounts"]) == (1, 1, 0)


def test_team_kpis(kpis: pd.DataFrame) -> None:
    ml = kpi(kpis, "2026-W10", "team", "ml-platform")
    assert (ml["jobs"], ml["compliant"], ml["isolation_rate"], ml["production_isolation_rate"]) == (
        6,
        3,
        50,
        50,
    )
    assert (ml["new_violations"], ml["repeat_violations"], ml["episodes_closed"]) == (2, 1, 2)
    assert (ml["mttr_hours"], ml["median_ttr_hours"], ml["p90_ttr_hours"]) == (186.0, 186.0, 306.0)
    assert (ml["episodes_open"], ml["dependency_failures"]) == (1, 1)
    fraud = kpi(kpis, "2026-W10", "team", "fraud")
    assert (fraud["jobs"], fraud["production_jobs"], fraud["production_isolation_rate"]) == (3, 1, 100)
    assert (fraud["episodes_closed"], fraud["mttr_hours"]) == (1, 24.0)
    data_eng = kpi(kpis, "2026-W10", "team", "data-eng")  # no job this week, but a dormant exposure
    assert (data_eng["jobs"], data_eng["episodes_open"], data_eng["episodes_dormant"]) == (0, 1, 1)
    assert np.isnan(data_eng["isolation_rate"])
    unattributed = kpi(kpis, "2026-W10", "team", "unattributed")
    assert (unattributed["jobs"], unattributed["stale_accounts"]) == (1, 1)  # LEGACY ran its jobs


@pytest.mark.parametrize("scope", ["team", "account", "environment", "job_kind"])
def test_scopes_add_up_to_the_org(kpis: pd.DataFrame, scope: str) -> None:
    counts = [
        "jobs",
        "compliant",
        "violations",
        "new_violations",
        "repeat_violations",
        "episodes_closed",
        "episodes_open",
        "episodes_dormant",
        "dependency_failures",
        "tier_open",
        "production_jobs",
    ]
    for week in ("2026-W08", "2026-W09", "2026-W10"):
        org = kpi(kpis, week, "org", "org")[counts].astype(int)
        parts = kpis.loc[(kpis["week"] == week) & (kpis["scope"] == scope), counts].sum().astype(int)
        assert parts.to_dict() == org.to_dict(), (scope, week)


def test_other_scopes(kpis: pd.DataFrame) -> None:
    legacy = kpi(kpis, "2026-W10", "account", LEGACY)  # not audited: no job, never counted as compliant
    assert (legacy["jobs"], legacy["stale_accounts"]) == (0, 1) and np.isnan(legacy["isolation_rate"])
    assert kpi(kpis, "2026-W10", "environment", "non-production")["jobs"] == 3  # fraud-a, fraud-b, adhoc
    assert kpi(kpis, "2026-W10", "environment", "unknown")["isolation_rate"] == 100
    assert kpi(kpis, "2026-W10", "job_kind", "training")["jobs"] == 12
    assert list(kpis.columns) == WEEKLY_KPIS.names


def test_weekly_kpis_need_weeks(facts: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="weeks"):
        weekly_kpis(facts, weeks=[], dormant_days=90)


# --- coverage ----------------------------------------------------------------------------------------


def test_audit_coverage_and_stale_accounts(coverage: pd.DataFrame) -> None:
    # W10: 4 audited, 3 failed (RESEARCH eu-west-1, LEGACY twice); the skipped region is out of scope.
    assert audit_coverage(coverage, week="2026-W10") == pytest.approx(100 * 4 / 7)
    assert audit_coverage(coverage, week="2026-W09") == 100
    assert np.isnan(audit_coverage(coverage, week="2026-W08"))
    audits = account_audits(coverage, weeks=["2026-W10"]).set_index("account_id")
    assert audits.loc[audits["stale"]].index.tolist() == [LEGACY]  # RESEARCH failed in one region only


def test_a_rerun_replaces_the_failed_row(coverage: pd.DataFrame) -> None:
    rerun = coverage_row("2026-W10", LEGACY, "us-east-1", "audited")
    rerun["audited_at"] += pd.Timedelta(hours=3)
    both = pd.concat([coverage, conform(pd.DataFrame([rerun]), COVERAGE)], ignore_index=True)
    latest = latest_status(both, weeks=["2026-W10"])
    assert len(latest) == len(latest_status(coverage, weeks=["2026-W10"]))
    assert audit_coverage(both, week="2026-W10") == pytest.approx(100 * 5 / 7)
    assert not account_audits(both, weeks=["2026-W10"])["stale"].any()


# --- report ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(accounts: pd.DataFrame, coverage: pd.DataFrame) -> Any:
    preventive = pd.DataFrame(
        {
            "account_id": [ML, FRAUD, SANDBOX, RESEARCH, LEGACY],
            "account_name": ["ml-prod", "fraud-dev", "data-sandbox", "research", "legacy"],
            "covered": [True, False, False, True, False],
            "policies": ["deny-open-training", "", "", "deny-open-training", ""],
        }
    )
    return build_report(
        jobs=jobs_frame(JOB_ROWS),
        accounts=accounts,
        coverage=coverage,
        preventive=preventive,
        config=CONFIG.model_copy(update={"trend_weeks": 3}),
        week="2026-W10",
        generated_at=GENERATED_AT,
    )


def test_report_period_and_org(report: Any) -> None:
    assert (report.period_start, report.period_end) == (
        pd.Timestamp("2026-03-02T00:00Z"),
        pd.Timestamp("2026-03-09T00:00Z"),
    )
    assert report.org["jobs"] == 12
    assert report.org["preventive_coverage"] == 40.0
    assert report.org["audit_coverage"] == pytest.approx(100 * 4 / 7)
    assert report.previous_org["jobs"] == 3 and report.previous_org["audit_coverage"] == 100
    assert report.trend["week"].tolist() == ["2026-W08", "2026-W09", "2026-W10"]
    assert report.trend["audit_coverage"].iloc[-1] == pytest.approx(100 * 4 / 7)
    assert sorted(report.teams["scope_value"]) == [
        "data-eng",
        "fraud",
        "ml-platform",
        "research",
        "unattributed",
    ]
    assert report.accounts.set_index("scope_value").loc[LEGACY, "account_name"] == "legacy"


def test_report_violations_and_exposures(report: Any) -> None:
    violations = report.violations.set_index("job_name")
    assert violations["violation"].to_dict() == {
        "fraud-a": "new",
        "train-2026-03-04-09-00-00-000": "new",
        "serve-2026-03-06-00-00-00-000": "new",
        "serve-2026-03-07-00-00-00-000": "repeat",
    }
    assert violations.loc["fraud-a", "account_name"] == "fraud-dev"
    assert violations.loc["fraud-a", "console_url"] == (
        "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/fraud-a"
    )
    assert sorted(report.open_exposures["first_job_name"]) == [
        "old-notebook",
        "serve-2026-03-06-00-00-00-000",
    ]
    causes = report.failure_causes
    assert causes.drop(columns="spend_usd").to_dict("records") == [
        {"team": "ml-platform", "failure_class": "missing_dependency", "network_isolation": True, "jobs": 1}
    ]
    assert causes["spend_usd"].isna().all()  # no price known in this organization: unpriced, not $0
    assert len(report.coverage) == 8 and set(report.coverage["audit_week"]) == {"2026-W10"}


def test_report_json_is_json(report: Any) -> None:
    data = json.loads(json.dumps(report_json(report), allow_nan=False))
    assert data["period"] == {
        "week": "2026-W10",
        "start": "2026-03-02T00:00:00+00:00",
        "end": "2026-03-09T00:00:00+00:00",
    }
    assert data["org"]["jobs"] == 12 and data["org"]["p90_ttr_hours"] == 276.0
    assert data["previous_org"]["mttr_hours"] is None and data["previous_org"]["preventive_coverage"] is None
    assert {team["team"] for team in data["teams"]} >= {"ml-platform", "unattributed"}
    assert [week["week"] for week in data["trend"]] == ["2026-W08", "2026-W09", "2026-W10"]
    assert data["gaps"] == [
        {
            "account": ML,
            "account_name": "ml-prod",
            "region": "eu-west-1",
            "status": "skipped",
            "reason": "region not enabled",
        },
        {
            "account": RESEARCH,
            "account_name": "research",
            "region": "eu-west-1",
            "status": "failed",
            "reason": "ThrottlingException after 5 retries",
        },
        {
            "account": LEGACY,
            "account_name": "legacy",
            "region": "eu-west-1",
            "status": "failed",
            "reason": "AccessDenied: sts:AssumeRole",
        },
        {
            "account": LEGACY,
            "account_name": "legacy",
            "region": "us-east-1",
            "status": "failed",
            "reason": "AccessDenied: sts:AssumeRole",
        },
    ]


def test_report_without_history_or_preventive_data(accounts: pd.DataFrame, coverage: pd.DataFrame) -> None:
    report = build_report(
        jobs=jobs_frame([job("first", "2026-03-03T00:00:00")]),
        accounts=accounts,
        coverage=coverage.loc[coverage["audit_week"] == "2026-W10"],
        preventive=None,
        config=CONFIG,
        week="2026-W10",
        generated_at=GENERATED_AT,
    )
    assert report.previous_org is None
    assert math.isnan(report.org["preventive_coverage"]) and report.preventive.empty
    assert report_json(report)["previous_org"] is None


@pytest.mark.parametrize(
    ("kind", "name", "url_end"),
    [
        ("training", "a b/c", "#/jobs/a%20b%2Fc"),
        ("processing", "prep", "#/processing-jobs/prep"),
        ("tuning", "hpo-1", "#/hyper-tuning-jobs/hpo-1"),
    ],
)
def test_console_url(kind: str, name: str, url_end: str) -> None:
    url = console_url(region="eu-west-1", job_kind=kind, job_name=name)
    assert url == f"https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1{url_end}"


# --- weeks -------------------------------------------------------------------------------------------


def test_weeks() -> None:
    assert week_start("2026-W10") == pd.Timestamp("2026-03-02T00:00Z")
    assert week_start("2021-W01") == pd.Timestamp("2021-01-04T00:00Z")  # ISO year starts on a Monday
    assert last_complete_week(pd.Timestamp("2026-03-09T06:00Z")) == "2026-W10"
    assert last_complete_week(pd.Timestamp("2026-03-08T23:59Z")) == "2026-W09"
    assert last_complete_week(pd.Timestamp("2027-01-04T00:00Z")) == "2026-W53"
    assert trailing_weeks("2026-W02", 3) == ["2025-W52", "2026-W01", "2026-W02"]
    times = pd.Series(pd.to_datetime(["2024-12-30T00:00Z", "2026-01-01T12:00Z", "2021-01-03T23:59Z"]))
    assert list(week_labels(times)) == ["2025-W01", "2026-W01", "2020-W53"]
    with pytest.raises(ValueError, match="ISO week"):
        week_start("2026-10")


def _same(value: float, expected: float | None) -> bool:
    return np.isnan(value) if expected is None else value == pytest.approx(expected)


def test_nothing_to_measure(accounts: pd.DataFrame) -> None:
    """No job and no audit run: one empty org row per week, nothing invented."""
    empty = job_facts(jobs_frame([job("x", "2026-03-02T00:00:00")]).iloc[:0], accounts, config=CONFIG)
    assert empty.empty
    kpis = weekly_kpis(
        empty,
        weeks=["2026-W10"],
        dormant_days=90,
        coverage=conform(pd.DataFrame(columns=COVERAGE.names), COVERAGE),
    )
    assert kpis[["scope", "jobs", "stale_accounts"]].to_dict("records") == [
        {"scope": "org", "jobs": 0, "stale_accounts": 0}
    ]
    assert np.isnan(kpis.loc[0, "isolation_rate"])
    assert exposure_episodes(empty, as_of=GENERATED_AT, dormant_days=90).empty


def test_job_facts_keeps_the_index_of_the_jobs(accounts: pd.DataFrame) -> None:
    jobs = jobs_frame(JOB_ROWS).iloc[::-1]
    jobs.index = [f"row-{index}" for index in range(len(jobs))]
    facts = job_facts(jobs, accounts, config=CONFIG)
    assert facts.index.tolist() == jobs.index.tolist()
    assert facts["job_name"].tolist() == jobs["job_name"].tolist()
    assert facts.set_index("job_name").loc["train-2026-03-04-09-00-00-000", "violation"] == "new"


def test_dictionary_encoded_jobs_give_the_same_facts(accounts: pd.DataFrame, facts: pd.DataFrame) -> None:
    """Low-cardinality columns may be read from Parquet as categoricals (faster): same result."""
    text = ["job_kind", "account_id", "region", "status", "failure_reason", "vpc_subnet_ids", "tags_json",
            "tuning_job_name"]  # fmt: skip
    jobs = jobs_frame(JOB_ROWS).astype(dict.fromkeys(text, "category"))
    again = job_facts(jobs, accounts, config=CONFIG).set_index("job_name", drop=False)
    derived = ["team", "environment", "family", "posture", "week", "failure_class", "violation"]
    assert again[derived].astype(str).equals(facts[derived].astype(str))
    assert again["remediated_at"].equals(facts["remediated_at"])
