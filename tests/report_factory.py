"""A small but complete WeeklyReport, built by hand so that tests know every number in it.

Three teams on three accounts (a fourth account could not be audited), one week of jobs: fraud-detection
is the bad example (VPC-only jobs, a dormant episode, isolated jobs failing for missing packages),
ml-platform the good one, and unattributed jobs are kept, never dropped.
"""

from __future__ import annotations

import json

import pandas as pd

from isoaudit.job_kinds import console_url
from isoaudit.metrics.report import WeeklyReport
from isoaudit.schema import COVERAGE, EPISODES, JOB_FACTS, WEEKLY_KPIS, conform
from tests.jobs_factory import job

WEEK = "2026-W47"
PERIOD_START = pd.Timestamp("2026-11-16T00:00:00Z")
PERIOD_END = pd.Timestamp("2026-11-23T00:00:00Z")
GENERATED_AT = pd.Timestamp("2026-11-23T06:30:00Z")
RUN_ID = "run-2026-11-23"

ML_PROD = "111111111111"
FRAUD_PROD = "222222222222"
SANDBOX = "333333333333"
LEGACY = "444444444444"
ACCOUNT_NAMES = {ML_PROD: "ml-prod", FRAUD_PROD: "fraud-prod", SANDBOX: "sandbox", LEGACY: "legacy-data"}


JOB_PRICE = 0.23  # an hour of ml.m5.xlarge at its us-east-1 list price


def kpi_row(
    *,
    scope: str,
    scope_value: str,
    jobs: int,
    compliant: int,
    production_jobs: int,
    production_compliant: int,
    new_violations: int,
    repeat_violations: int,
    tiers: tuple[int, int, int, int],
    ttr_hours: tuple[float, float, float] | None,
    episodes_closed: int,
    episodes_open: int,
    episodes_dormant: int,
    dependency_failures: int,
    week: str = WEEK,
    stale_accounts: int = 0,
) -> dict[str, object]:
    """One WEEKLY_KPIS row; rates are derived from the counts as the metrics code does."""
    isolated_vpc, isolated, vpc_only, open_ = tiers
    mttr, median, p90 = ttr_hours or (float("nan"),) * 3
    return {
        "week": week,
        "scope": scope,
        "scope_value": scope_value,
        "jobs": jobs,
        "compliant": compliant,
        "isolation_rate": 100 * compliant / jobs if jobs else float("nan"),
        "production_jobs": production_jobs,
        "production_isolation_rate": (
            100 * production_compliant / production_jobs if production_jobs else float("nan")
        ),
        "violations": new_violations + repeat_violations,
        "new_violations": new_violations,
        "repeat_violations": repeat_violations,
        "tier_isolated_vpc": isolated_vpc,
        "tier_isolated": isolated,
        "tier_vpc_only": vpc_only,
        "tier_open": open_,
        "episodes_closed": episodes_closed,
        "mttr_hours": mttr,
        "median_ttr_hours": median,
        "p90_ttr_hours": p90,
        "episodes_open": episodes_open,
        "episodes_dormant": episodes_dormant,
        "dependency_failures": dependency_failures,
        "stale_accounts": stale_accounts,
        # Every job an hour of ml.m5.xlarge at $0.23, one job unpriced per team or org.
        "compute_hours": float(jobs),
        "spend_usd": round(JOB_PRICE * (jobs - 1), 2) if jobs else float("nan"),
        "exposed_spend_usd": round(JOB_PRICE * (new_violations + repeat_violations), 2),
        "isolated_spend_share": 100 * compliant / (jobs - 1) if jobs > 1 else float("nan"),
        "dependency_failure_spend_usd": round(JOB_PRICE * dependency_failures, 2),
        "unpriced_jobs": 1 if jobs else 0,
    }


TEAM_MEASURES = {
    "fraud-detection": dict(
        jobs=12,
        compliant=8,
        production_jobs=6,
        production_compliant=4,
        new_violations=1,
        repeat_violations=3,
        tiers=(3, 5, 3, 1),
        ttr_hours=(30.5, 30.5, 30.5),
        episodes_closed=1,
        episodes_open=2,
        episodes_dormant=1,
        dependency_failures=3,
    ),
    "ml-platform": dict(
        jobs=20,
        compliant=19,
        production_jobs=10,
        production_compliant=10,
        new_violations=1,
        repeat_violations=0,
        tiers=(15, 4, 0, 1),
        ttr_hours=(5.0, 5.0, 7.4),
        episodes_closed=2,
        episodes_open=1,
        episodes_dormant=0,
        dependency_failures=1,
    ),
    "unattributed": dict(
        jobs=2,
        compliant=1,
        production_jobs=0,
        production_compliant=0,
        new_violations=0,
        repeat_violations=1,
        tiers=(0, 1, 0, 1),
        ttr_hours=None,
        episodes_closed=0,
        episodes_open=1,
        episodes_dormant=0,
        dependency_failures=0,
    ),
}
TEAM_ACCOUNTS = {"ml-platform": ML_PROD, "fraud-detection": FRAUD_PROD, "unattributed": SANDBOX}
ORG_MEASURES = dict(
    jobs=34,
    compliant=28,
    production_jobs=16,
    production_compliant=14,
    new_violations=2,
    repeat_violations=4,
    tiers=(18, 10, 3, 3),
    ttr_hours=(13.5, 5.0, 25.4),
    episodes_closed=3,
    episodes_open=4,
    episodes_dormant=1,
    dependency_failures=4,
    stale_accounts=1,
)
PREVIOUS_ORG_MEASURES = dict(
    jobs=30,
    compliant=22,
    production_jobs=15,
    production_compliant=12,
    new_violations=3,
    repeat_violations=5,
    tiers=(12, 10, 5, 3),
    ttr_hours=(20.0, 6.0, 48.0),
    episodes_closed=4,
    episodes_open=5,
    episodes_dormant=1,
    dependency_failures=6,
)
# (week, jobs, compliant, production jobs, production compliant) of the org, oldest first.
TREND_WEEKS = (
    ("2026-W42", 24, 15, 10, 7),
    ("2026-W43", 26, 18, 12, 9),
    ("2026-W44", 28, 20, 14, 11),
    ("2026-W45", 25, 19, 12, 10),
    ("2026-W46", 30, 22, 15, 12),
)
PREVENTIVE_COVERAGE = 50.0
PREVIOUS_PREVENTIVE_COVERAGE = 25.0
AUDIT_COVERAGE = 66.7
PREVIOUS_AUDIT_COVERAGE = 100.0


def org_series(measures: dict[str, object], *, week: str, preventive: float, audit: float) -> pd.Series:
    row = conform(
        pd.DataFrame([kpi_row(scope="org", scope_value="org", week=week, **measures)]), WEEKLY_KPIS
    ).iloc[0]
    return pd.concat([row, pd.Series({"preventive_coverage": preventive, "audit_coverage": audit})])


def kpi_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), WEEKLY_KPIS)


def job_fact(
    *,
    team: str,
    account_id: str,
    region: str,
    job_name: str,
    posture: str,
    created: str,
    family: str,
    environment: str = "production",
    status: str = "Completed",
    failure_reason: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, object]:
    """One JOB_FACTS row with every column filled the way the collector and metrics would fill them."""
    creation_time = pd.Timestamp(created)
    isolated = posture.startswith("isolated")
    in_vpc = posture in ("isolated+vpc", "vpc-only")
    return {
        **job(
            job_name,
            created,
            account_id=account_id,
            region=region,
            status=status,
            failure_reason=failure_reason,
            start_time=creation_time + pd.Timedelta(minutes=2),
            network_isolation=isolated,
            vpc_subnet_ids="subnet-0a1b2c" if in_vpc else "",
            vpc_security_group_ids="sg-0a1b2c" if in_vpc else "",
            image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-gpu-py311",
            role_arn=f"arn:aws:iam::{account_id}:role/SageMakerExecution",
            tags_json=json.dumps(tags if tags is not None else {"team": team}),
            tuning_job_name=None,
            seen=GENERATED_AT,
        ),
        "team": team,
        "environment": environment,
        "family": family,
        "posture": posture,
        "compliant": isolated,
        "week": WEEK,
        "failure_class": None,
        "compute_hours": 1.0,
        "spend_usd": JOB_PRICE,
    }


VIOLATIONS = (
    # (team, account, region, job name, family, posture, created, violation, status)
    ("fraud-detection", FRAUD_PROD, "us-east-1", "fraud-train-2026-11-16-09-12-03-120", "fraud-train",
     "vpc-only", "2026-11-16T09:12:03Z", "new", "Completed"),
    ("fraud-detection", FRAUD_PROD, "us-east-1", "fraud-train-2026-11-18-09-10-44-501", "fraud-train",
     "vpc-only", "2026-11-18T09:10:44Z", "repeat", "Completed"),
    ("fraud-detection", FRAUD_PROD, "us-east-1", "fraud-train-2026-11-20-09-11-27-002", "fraud-train",
     "vpc-only", "2026-11-20T09:11:27Z", "repeat", "Failed"),
    ("fraud-detection", FRAUD_PROD, "eu-west-1", "fraud-scoring-2026-11-21-14-00-00-000", "fraud-scoring",
     "open", "2026-11-21T14:00:00Z", "repeat", "Completed"),
    ("ml-platform", ML_PROD, "us-east-1", "ranker-hpo-017-3f9a2c1b", "ranker-hpo",
     "open", "2026-11-19T22:45:10Z", "new", "Completed"),
    ("unattributed", SANDBOX, "us-east-1", "notebook-quick-test", "notebook-quick-test",
     "open", "2026-11-22T23:59:30Z", "repeat", "Stopped"),
)  # fmt: skip


def violations_frame() -> pd.DataFrame:
    rows = [
        job_fact(
            team=team,
            account_id=account,
            region=region,
            job_name=name,
            family=family,
            posture=posture,
            created=created,
            status=status,
            environment="sandbox" if account == SANDBOX else "production",
            tags={} if team == "unattributed" else {"team": team, "pipeline": family},
        )
        for team, account, region, name, family, posture, created, _, status in VIOLATIONS
    ]
    facts = conform(pd.DataFrame(rows), JOB_FACTS)
    return facts.assign(
        violation=[violation for *_, violation, _ in VIOLATIONS],
        training_jobs=pd.array([pd.NA] * len(facts), dtype="Int64"),
        account_name=facts["account_id"].map(ACCOUNT_NAMES),
        console_url=[
            console_url(region=region, job_kind="training", job_name=name)
            for region, name in zip(facts["region"], facts["job_name"], strict=True)
        ],
    )


def episode(
    *,
    team: str,
    account_id: str,
    region: str,
    family: str,
    opened: str,
    last_run: str,
    runs: int,
    state: str,
    first_job_name: str,
) -> dict[str, object]:
    opened_at = pd.Timestamp(opened)
    return {
        "account_id": account_id,
        "region": region,
        "family": family,
        "team": team,
        "environment": "sandbox" if account_id == SANDBOX else "production",
        "opened_at": opened_at,
        "closed_at": pd.NaT,
        "first_job_name": first_job_name,
        "non_compliant_runs": runs,
        "exposed_spend_usd": round(JOB_PRICE * runs, 2),
        "last_run_at": pd.Timestamp(last_run),
        "state": state,
        "hours_to_remediate": float("nan"),
        "age_hours": (GENERATED_AT - opened_at) / pd.Timedelta(hours=1),
    }


def open_exposures_frame() -> pd.DataFrame:
    rows = [
        episode(team="fraud-detection", account_id=FRAUD_PROD, region="us-east-1", family="fraud-train",
                opened="2026-11-16T09:12:03Z", last_run="2026-11-20T09:11:27Z", runs=3, state="open",
                first_job_name="fraud-train-2026-11-16-09-12-03-120"),
        episode(team="fraud-detection", account_id=FRAUD_PROD, region="eu-west-1", family="fraud-scoring",
                opened="2026-06-02T10:00:00Z", last_run="2026-11-21T14:00:00Z", runs=14, state="open",
                first_job_name="fraud-scoring-2026-06-02-10-00-00-000"),
        episode(team="fraud-detection", account_id=FRAUD_PROD, region="us-east-1", family="fraud-backfill",
                opened="2026-03-10T08:00:00Z", last_run="2026-04-01T08:00:00Z", runs=5, state="dormant",
                first_job_name="fraud-backfill-2026-03-10-08-00-00-000"),
        episode(team="ml-platform", account_id=ML_PROD, region="us-east-1", family="ranker-hpo",
                opened="2026-11-19T22:45:10Z", last_run="2026-11-19T22:45:10Z", runs=1, state="open",
                first_job_name="ranker-hpo-017-3f9a2c1b"),
        episode(team="unattributed", account_id=SANDBOX, region="us-east-1", family="notebook-quick-test",
                opened="2026-10-30T12:00:00Z", last_run="2026-11-22T23:59:30Z", runs=4, state="open",
                first_job_name="notebook-quick-test"),
    ]  # fmt: skip
    return conform(pd.DataFrame(rows), EPISODES)


FAILURES = (
    # (team, failure class, network isolation, failed jobs)
    ("fraud-detection", "missing_dependency", True, 2),
    ("fraud-detection", "network_blocked", True, 1),
    ("fraud-detection", "other", False, 1),
    ("ml-platform", "missing_dependency", True, 1),
    ("ml-platform", "missing_dependency", False, 2),
    ("ml-platform", "other", False, 1),
)


def failure_causes_frame() -> pd.DataFrame:
    frame = pd.DataFrame(FAILURES, columns=["team", "failure_class", "network_isolation", "jobs"])
    # A failed job runs a few minutes: a tenth of an hour of ml.m5.xlarge each.
    return frame.assign(spend_usd=(frame["jobs"] * JOB_PRICE / 10).round(4))


def coverage_frame() -> pd.DataFrame:
    audited_at = pd.Timestamp("2026-11-23T06:10:00Z")
    rows = [
        (ML_PROD, "us-east-1", "audited", "", 21),
        (ML_PROD, "eu-west-1", "audited", "", 0),
        (FRAUD_PROD, "us-east-1", "audited", "", 10),
        (FRAUD_PROD, "eu-west-1", "skipped", "region not enabled", 0),
        (SANDBOX, "us-east-1", "audited", "", 2),
        (LEGACY, "us-east-1", "failed", "AccessDenied: not authorized to perform sts:AssumeRole", 0),
        (LEGACY, "eu-west-1", "failed", "AccessDenied: not authorized to perform sts:AssumeRole", 0),
    ]
    frame = pd.DataFrame(
        [
            {
                "audit_week": WEEK,
                "run_id": RUN_ID,
                "account_id": account,
                "account_name": ACCOUNT_NAMES[account],
                "region": region,
                "status": status,
                "reason": reason,
                "listing": "full",
                "jobs_seen": jobs,
                "api_calls": 3 + jobs,
                "audited_at": audited_at,
            }
            for account, region, status, reason, jobs in rows
        ]
    )
    return conform(frame, COVERAGE)


def preventive_frame() -> pd.DataFrame:
    covered = {ML_PROD: "DenyTrainingWithoutIsolation", FRAUD_PROD: "DenyTrainingWithoutIsolation"}
    return pd.DataFrame(
        [
            {
                "account_id": account,
                "account_name": name,
                "covered": account in covered,
                "policies": covered.get(account, ""),
            }
            for account, name in ACCOUNT_NAMES.items()
        ]
    )


def build_report() -> WeeklyReport:
    teams = kpi_frame([kpi_row(scope="team", scope_value=team, **m) for team, m in TEAM_MEASURES.items()])
    accounts = kpi_frame(
        [kpi_row(scope="account", scope_value=TEAM_ACCOUNTS[team], **m) for team, m in TEAM_MEASURES.items()]
    )
    accounts = accounts.assign(account_name=accounts["scope_value"].map(ACCOUNT_NAMES))
    org = org_series(ORG_MEASURES, week=WEEK, preventive=PREVENTIVE_COVERAGE, audit=AUDIT_COVERAGE)
    previous_org = org_series(
        PREVIOUS_ORG_MEASURES,
        week="2026-W46",
        preventive=PREVIOUS_PREVENTIVE_COVERAGE,
        audit=PREVIOUS_AUDIT_COVERAGE,
    )
    history = [
        kpi_row(
            scope="org",
            scope_value="org",
            week=week,
            **{
                **PREVIOUS_ORG_MEASURES,
                "jobs": jobs,
                "compliant": compliant,
                "production_jobs": production_jobs,
                "production_compliant": production_compliant,
            },
        )
        for week, jobs, compliant, production_jobs, production_compliant in TREND_WEEKS
    ]
    trend = kpi_frame([*history, kpi_row(scope="org", scope_value="org", **ORG_MEASURES)])
    environments = kpi_frame(
        [
            kpi_row(
                scope="environment", scope_value="production", **{**ORG_MEASURES, "jobs": 16, "compliant": 14}
            ),
            kpi_row(
                scope="environment", scope_value="sandbox", **{**ORG_MEASURES, "jobs": 18, "compliant": 14}
            ),
        ]
    )
    job_kinds = kpi_frame([kpi_row(scope="job_kind", scope_value="training", **ORG_MEASURES)])
    return WeeklyReport(
        week=WEEK,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        generated_at=GENERATED_AT,
        org=org,
        previous_org=previous_org,
        teams=teams,
        accounts=accounts,
        environments=environments,
        job_kinds=job_kinds,
        trend=trend,
        team_trend=teams,
        violations=violations_frame(),
        open_exposures=open_exposures_frame(),
        failure_causes=failure_causes_frame(),
        coverage=coverage_frame(),
        preventive=preventive_frame(),
        images=images_frame(),
    )


IMAGES = (
    # (rank, image URI, registry, registry account, repository, tag, runs, teams, isolated runs, failed,
    #  missing package while isolated, missing package, network blocked)
    (1, "222222222222.dkr.ecr.us-east-1.amazonaws.com/fraud/gnn:1.4", "own ECR", "222222222222", "fraud/gnn",
     "1.4", 9, 1, 9, 3, 3, 3, 0),
    (2, "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-gpu-py311",
     "AWS Deep Learning Containers", "763104351884", "pytorch-training", "2.3-gpu-py311",
     20, 3, 14, 2, 0, 1, 1),
    (3, "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "AWS SageMaker images",
     "683313688378", "sagemaker-xgboost", "1.7-1", 5, 1, 0, 0, 0, 0, 0),
)  # fmt: skip


def images_frame() -> pd.DataFrame:
    rows = [
        {
            "rank": rank,
            "image_uri": uri,
            "registry": registry,
            "registry_account": account,
            "region": "us-east-1",
            "repository": repository,
            "tag": tag,
            "jobs": jobs,
            "teams": teams,
            "team_names": "fraud-detection" if teams == 1 else "fraud-detection, ml-platform, unattributed",
            "isolated_jobs": isolated,
            "isolated_share": 100 * isolated / jobs,
            "failed": failed,
            "missing_dependency_isolated": missing_isolated,
            "missing_dependency": missing,
            "network_blocked": blocked,
            "credentials_unavailable": 0,
            "data_access": 0,
            "other": failed - missing - blocked,
            "first_used": PERIOD_START - pd.Timedelta(days=30),
            "last_used": GENERATED_AT - pd.Timedelta(hours=7),
        }
        for rank, uri, registry, account, repository, tag, jobs, teams, isolated, failed, missing_isolated,
        missing, blocked in IMAGES
    ]  # fmt: skip
    return pd.DataFrame(rows)
