"""The weekly audit, step by step. Prefect's flow (flows/weekly_audit.py) only sequences these calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from isoaudit.aws import ec2, lake, organizations
from isoaudit.aws.organizations import Account
from isoaudit.aws.session import AwsSession, default_session
from isoaudit.collect import AccountAudit, AuditRun, RegionPlan, plan_regions
from isoaudit.config import AuditConfig
from isoaudit.merge import changed_rows, merge_history
from isoaudit.metrics.report import WeeklyReport, build_report, last_complete_week
from isoaudit.publish.excel import write_workbook
from isoaudit.schema import ACCOUNTS, COVERAGE, JOBS, conform, empty_frame


@dataclass(frozen=True)
class Organization:
    accounts: list[Account]
    default_regions: list[str]
    plans: dict[tuple[str, str], RegionPlan]


def start_run(*, week: str | None = None, now: pd.Timestamp | None = None) -> AuditRun:
    started_at = (now or pd.Timestamp.now(tz="UTC")).to_pydatetime()
    return AuditRun(
        run_id=f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        audit_week=week or last_complete_week(pd.Timestamp(started_at)),
        started_at=started_at,
    )


def management_session(config: AuditConfig) -> AwsSession:
    return default_session(region=config.home_region, endpoint_url=config.endpoint_url)


def discover(*, aws: AwsSession, config: AuditConfig, run: AuditRun) -> Organization:
    """ACTIVE accounts to audit, the regions in scope for an account that cannot be read, and how to read
    each account-region (incrementally from its last audit, or a full listing)."""
    accounts = [
        account
        for account in organizations.list_accounts(aws=aws)
        if account.status == "ACTIVE" and account.account_id not in config.exclude_accounts
    ]
    regions = list(config.regions) or sorted(ec2.enabled_regions(aws=aws))
    plans = plan_regions(
        coverage=lake.read_table(aws=aws, config=config, table="coverage"),
        now=run.started_at,
        full_listing_every_days=config.full_listing_every_days,
    )
    return Organization(accounts=accounts, default_regions=regions, plans=plans)


def accounts_frame(accounts: Sequence[Account]) -> pd.DataFrame:
    if not accounts:
        return empty_frame(ACCOUNTS)
    rows = [
        {
            "account_id": account.account_id,
            "account_name": account.name,
            "account_status": account.status,
            "ou_path": account.ou_path,
            "tags_json": json.dumps(account.tags, sort_keys=True),
        }
        for account in accounts
    ]
    return conform(pd.DataFrame(rows), ACCOUNTS)


@dataclass(frozen=True)
class StoredLake:
    jobs: pd.DataFrame
    coverage: pd.DataFrame
    accounts: pd.DataFrame


def store(
    *,
    aws: AwsSession,
    config: AuditConfig,
    run: AuditRun,
    accounts: Sequence[Account],
    audits: Sequence[AccountAudit],
) -> StoredLake:
    """Fold this run into the lake. Idempotent: re-running a week replaces, never duplicates."""
    history = lake.read_table(aws=aws, config=config, table="jobs")
    fresh = _concat([audit.jobs for audit in audits], empty_frame(JOBS))
    fully_listed = [pair for audit in audits for pair in audit.fully_listed_regions]
    jobs = merge_history(history=history, fresh=fresh, fully_listed=fully_listed)
    changed = changed_rows(before=history, after=jobs)
    lake.write_table(aws=aws, config=config, table="jobs", frame=jobs, months=lake.creation_months(changed))

    this_week = _concat([audit.coverage for audit in audits], empty_frame(COVERAGE))
    earlier = lake.read_table(aws=aws, config=config, table="coverage")
    coverage = _concat([earlier[earlier["audit_week"] != run.audit_week], this_week], empty_frame(COVERAGE))
    lake.write_table(aws=aws, config=config, table="coverage", frame=coverage)

    account_table = accounts_frame(accounts)
    lake.write_table(aws=aws, config=config, table="accounts", frame=account_table)
    return StoredLake(jobs=jobs, coverage=coverage, accounts=account_table)


def report(*, config: AuditConfig, run: AuditRun, stored: StoredLake) -> WeeklyReport:
    return build_report(
        jobs=stored.jobs,
        accounts=stored.accounts,
        coverage=stored.coverage[stored.coverage["audit_week"] == run.audit_week],
        preventive=None,
        config=config,
        week=run.audit_week,
        generated_at=pd.Timestamp(run.started_at),
    )


def publish(*, aws: AwsSession, config: AuditConfig, weekly: WeeklyReport) -> Path:
    """Write the workbook and a local copy of the lake under the reports folder; return the workbook."""
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    workbook = write_workbook(weekly, path=config.reports_dir / f"isoaudit-{weekly.week}.xlsx")
    lake.mirror(aws=aws, config=config, destination=config.reports_dir / "lake")
    return workbook


def _concat(frames: Sequence[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else empty
