"""A small lake written as the flow writes it (lake.write_table on the emulator, then lake_mirror.mirror),
and the pandas report of the same data: what the SQL views must reproduce. Used by test_views.py and
test_query.py.

Report week 2026-W46 (Nov 9-15, 2026), generated Nov 16 06:00 UTC. Three accounts in Organizations and a
fourth (closed, no longer listed) that still has a job in the history; jobs in July, October and November
(three creation_month partitions); families that close, stay open, go dormant, and one whose compliant and
non-compliant runs start at the same instant; failures of every kind, isolated or not; a re-run of the
week that replaces a failed account-region, a skipped region and a failed one; a tuning job without
isolation and its two training jobs; images from the Deep Learning Containers, from AWS's SageMaker images,
from the team's own ECR (the tokenizer's, failing for missing packages under isolation) and from outside
ECR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from isoaudit.aws import lake, lake_mirror
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.episodes import exposure_episodes
from isoaudit.metrics.kpis import weekly_kpis
from isoaudit.metrics.money import Rates
from isoaudit.metrics.report import WeeklyReport, build_report
from isoaudit.metrics.weeks import trailing_weeks
from isoaudit.schema import ACCOUNTS, COVERAGE, PRICES, conform
from tests.jobs_factory import job, jobs_frame

WEEK = "2026-W46"
DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TOKENIZER = "222222222222.dkr.ecr.us-east-1.amazonaws.com/nlp/tokenizer@sha256:0b7a9e"
OUTSIDE = "ghcr.io/acme/fetcher:latest"
GENERATED_AT = pd.Timestamp("2026-11-16T06:00:00Z")
PROD, DEV, SANDBOX, CLOSED = "111111111111", "222222222222", "333333333333", "044444444444"


def sdk(base: str, created: str) -> str:
    return f"{base}-{pd.Timestamp(created):%Y-%m-%d-%H-%M-%S}-000"


def _job(base: str, created: str, *, isolated: bool, vpc: bool = False, **fields: object) -> dict:
    vpc_fields = {"vpc_subnet_ids": "subnet-1", "vpc_security_group_ids": "sg-1"} if vpc else {}
    return job(sdk(base, created), created, network_isolation=isolated, **vpc_fields, **fields)


def jobs() -> pd.DataFrame:
    failed = {"status": "Failed"}
    return jobs_frame(
        # churn: opened Oct 26, repeated Nov 2, fixed Nov 10 (closed in W46 after 360 h).
        _job("churn", "2026-10-26T10:00:00Z", isolated=False),
        _job("churn", "2026-11-02T10:00:00Z", isolated=False),
        _job("churn", "2026-11-10T10:00:00Z", isolated=True),
        _job("score", "2026-11-11T10:00:00Z", isolated=True, vpc=True, image_uri=XGBOOST),
        # ranker: VPC-only, still open.
        _job("ranker", "2026-11-12T09:00:00Z", isolated=False, vpc=True),
        # old-etl: not run since July: dormant.
        _job("old-etl", "2026-07-01T10:00:00Z", isolated=False),
        # detector (dev, eu-west-1): opened Nov 9 08:00, fixed Nov 13 08:00.
        _job(
            "detector",
            "2026-11-09T08:00:00Z",
            isolated=False,
            account_id=DEV,
            region="eu-west-1",
            image_uri=DLC,
        ),
        _job(
            "detector",
            "2026-11-13T08:00:00Z",
            isolated=True,
            account_id=DEV,
            region="eu-west-1",
            image_uri=DLC,
        ),
        _job(
            "tokenizer",
            "2026-11-14T10:00:00Z",
            isolated=True,
            account_id=DEV,
            tags_json=json.dumps({"team": "nlp"}),
            failure_reason="AlgorithmError: ModuleNotFoundError: No module named 'sentencepiece'",
            image_uri=TOKENIZER,
            **failed,
        ),
        _job(
            "tokenizer",
            "2026-11-15T10:00:00Z",
            isolated=True,
            account_id=DEV,
            tags_json=json.dumps({"team": "nlp"}),
            failure_reason="ERROR: No matching distribution found for sentencepiece",
            image_uri=TOKENIZER,
            **failed,
        ),
        _job(
            "fetcher",
            "2026-11-14T11:00:00Z",
            isolated=False,
            account_id=DEV,
            failure_reason="curl: (6) Could not resolve host: pypi.org",
            image_uri=OUTSIDE,
            **failed,
        ),
        _job(
            "exporter",
            "2026-11-10T12:00:00Z",
            isolated=True,
            failure_reason="botocore.exceptions.NoCredentialsError: Unable to locate credentials",
            **failed,
        ),
        # tie (sandbox): compliant and non-compliant at the same instant (the violation comes first and is
        # closed after 0 h), then a new violation that stays open.
        _job("tie", "2026-11-11T10:00:00Z", isolated=True, account_id=SANDBOX),
        job(
            "tie-b",
            "2026-11-11T10:00:00Z",
            account_id=SANDBOX,
            network_isolation=False,
            tags_json=json.dumps({"pipeline": "tie"}),
        ),
        _job("tie", "2026-11-12T10:00:00Z", isolated=False, account_id=SANDBOX),
        # orphan: an account that left the Organization; its violation has no account name.
        _job(
            "orphan",
            "2026-11-12T10:00:00Z",
            isolated=False,
            account_id=CLOSED,
            failure_reason="OOM",
            **failed,
        ),
        # hpo-1 (dev): a tuning job without isolation and the two training jobs it launched, one failing
        # on the network. Listed once, counted as its two training jobs.
        job(
            "hpo-1",
            "2026-11-12T08:00:00Z",
            job_arn=f"arn:aws:sagemaker:us-east-1:{DEV}:hyper-parameter-tuning-job/hpo-1",
            job_kind="tuning",
            account_id=DEV,
            tuning_job_name="hpo-1",
            image_uri=DLC,
        ),
        *(
            job(
                f"hpo-1-00{number}-0a1b2c3{number}",
                f"2026-11-12T08:{number}0:00Z",
                account_id=DEV,
                tuning_job_name="hpo-1",
                image_uri=DLC,
                **(failed if number == 2 else {}),
                failure_reason="Could not connect to the endpoint URL" if number == 2 else "",
            )
            for number in (1, 2)
        ),
        # late: next week, counted in W47 only.
        _job("late", "2026-11-17T10:00:00Z", isolated=False, account_id=DEV),
    )


def accounts() -> pd.DataFrame:
    rows = [
        (PROD, "ml-prod", "/Workloads/Production", {"team": "fraud", "environment": "production"}),
        (DEV, "ml-dev", "/Workloads/NonProduction", {"team": "vision"}),
        (SANDBOX, "sandbox", "/Sandbox", {}),
    ]
    return conform(
        pd.DataFrame(
            [
                {
                    "account_id": account_id,
                    "account_name": name,
                    "account_status": "ACTIVE",
                    "ou_path": ou_path,
                    "tags_json": json.dumps(tags),
                }
                for account_id, name, ou_path, tags in rows
            ]
        ),
        ACCOUNTS,
    )


def coverage() -> pd.DataFrame:
    def row(week: str, account_id: str, region: str, status: str, at: str) -> dict:
        names = {PROD: "ml-prod", DEV: "ml-dev", SANDBOX: "sandbox"}
        return {
            "audit_week": week,
            "run_id": f"run-{at}",
            "account_id": account_id,
            "account_name": names[account_id],
            "region": region,
            "status": status,
            "reason": "" if status == "audited" else "AccessDenied",
            "listing": "full",
            "jobs_seen": 1,
            "api_calls": 3,
            "audited_at": pd.Timestamp(at),
        }

    first, rerun, previous = "2026-11-16T05:00:00Z", "2026-11-16T06:00:00Z", "2026-11-09T06:00:00Z"
    rows = [
        row("2026-W45", PROD, "us-east-1", "audited", previous),
        row("2026-W45", DEV, "eu-west-1", "failed", previous),
        row("2026-W45", SANDBOX, "us-east-1", "audited", previous),
        row(WEEK, PROD, "us-east-1", "failed", first),
        row(WEEK, PROD, "us-east-1", "audited", rerun),  # the re-run replaces the failure
        row(WEEK, DEV, "eu-west-1", "audited", first),
        row(WEEK, DEV, "us-east-1", "audited", first),
        row(WEEK, SANDBOX, "us-east-1", "failed", first),
        row(WEEK, SANDBOX, "ap-east-1", "skipped", first),
    ]
    return conform(pd.DataFrame(rows), COVERAGE)


@dataclass(frozen=True)
class BuiltLake:
    config: AuditConfig
    folder: Path  # the local copy, as the flow leaves it in reports/lake
    report: WeeklyReport
    facts: pd.DataFrame  # job_facts' output, with the history columns (violation, ...)
    episodes: pd.DataFrame


def prices() -> pd.DataFrame:
    """The list price of the jobs' instance type in us-east-1; none for eu-west-1 (its jobs are unpriced)."""
    row = {
        "region": "us-east-1",
        "instance_type": "ml.m5.xlarge",
        "usage": "training",
        "usd_per_hour": 0.23,
        "usage_type": "USE1-Train:ml.m5.xlarge",
        "effective_date": pd.Timestamp("2026-11-01T00:00:00Z"),
        "fetched_at": GENERATED_AT,
    }
    return conform(pd.DataFrame([row]), PRICES)


def build_lake(*, aws: AwsSession, config: AuditConfig, folder: Path) -> BuiltLake:
    """Write every table of the lake for the data above, mirror it to `folder`, and compute the report."""
    history, organization, runs, price_list = jobs(), accounts(), coverage(), prices()
    facts = job_facts(history, organization, config=config, rates=Rates.from_prices(price_list, {}))
    episodes = exposure_episodes(facts, as_of=GENERATED_AT, dormant_days=config.dormant_days)
    kpis = weekly_kpis(
        facts,
        weeks=trailing_weeks(WEEK, config.trend_weeks),
        dormant_days=config.dormant_days,
        coverage=runs,
    )
    aws.client("s3").create_bucket(Bucket=config.bucket)
    for table, frame in (
        ("jobs", history),
        ("job_facts", facts),
        ("episodes", episodes),
        ("weekly_kpis", kpis),
        ("coverage", runs),
        ("accounts", organization),
        ("prices", price_list),
    ):
        lake.write_table(aws=aws, config=config, table=table, frame=frame)
    lake_mirror.mirror(aws=aws, config=config, destination=folder)
    report = build_report(
        jobs=history,
        accounts=organization,
        coverage=runs,
        preventive=None,
        config=config,
        week=WEEK,
        generated_at=GENERATED_AT,
        prices=price_list,
    )
    return BuiltLake(config=config, folder=folder, report=report, facts=facts, episodes=episodes)
