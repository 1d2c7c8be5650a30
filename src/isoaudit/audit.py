"""The weekly audit, step by step. Prefect's flow (flows/weekly_audit.py) only sequences these calls."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from isoaudit import prices
from isoaudit.alerts import new_violations_message
from isoaudit.aws import ec2, lake, lake_mirror, organizations, quotas, sns
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.organizations import Account
from isoaudit.aws.quotas import Pacer
from isoaudit.aws.session import AwsSession, default_session
from isoaudit.collect import (
    AccountAudit,
    AuditRun,
    ReadSlots,
    RegionPlan,
    audit_account,
    largest_first,
    plan_regions,
    running_launchers,
)
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.garbage_collector import fewer_collections
from isoaudit.guardrails import read_preventive_coverage
from isoaudit.merge import changed_rows, merge_history
from isoaudit.metrics.report import (
    KpiTables,
    WeeklyReport,
    kpi_tables,
    last_complete_week,
    report_from_tables,
)
from isoaudit.prices import PriceBook
from isoaudit.publish.excel import write_workbook
from isoaudit.records import accounts_frame
from isoaudit.schema import COVERAGE, JOBS, empty_frame
from isoaudit.sql import billed_views, views

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Organization:
    accounts: list[Account]  # in the order to audit them: see `largest_first`
    default_regions: list[str]
    plans: dict[tuple[str, str], RegionPlan]


def new_run_id(started_at: datetime) -> str:
    return f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start_run(
    *, week: str | None = None, now: pd.Timestamp | None = None, run_id: str | None = None
) -> AuditRun:
    started_at = (now or pd.Timestamp.now(tz="UTC")).to_pydatetime()
    return AuditRun(
        run_id=run_id or new_run_id(started_at),
        audit_week=week or last_complete_week(pd.Timestamp(started_at)),
        started_at=started_at,
    )


def management_session(config: AuditConfig) -> AwsSession:
    scale = config.api_quota_scale
    pacer = Pacer(quotas.scaled(quotas.QUOTAS, scale) if scale else {})
    return default_session(region=config.home_region, endpoint_url=config.endpoint_url, pacer=pacer)


def discover(
    *, aws: AwsSession, config: AuditConfig, run: AuditRun, lake_files: LakeView | None = None
) -> Organization:
    """ACTIVE accounts to audit, the regions in scope for an account that cannot be read, and how to read
    each account-region (incrementally from its last audit, or a full listing).

    `lake_files`: the run's view of the lake (isoaudit.aws.preflight.survey_lake); the jobs and coverage
    read here are kept there for `store`, which then reads nothing again."""
    # Independent reads (Organizations, the lake, EC2): side by side, not one after the other. Loading the
    # API models of the services read in every account (a fifth of a second of CPU for SageMaker's and
    # EC2's) also happens now, while the reads wait on the network; the reads' own clients are built first,
    # as building a client holds a lock that the loading would otherwise hold while the reads wait for it.
    aws.load_models("organizations", "s3")
    with ThreadPoolExecutor(max_workers=5) as pool:
        pool.submit(aws.load_models, "sagemaker", "ec2")
        listed = pool.submit(organizations.list_accounts, aws=aws)
        coverage = pool.submit(lake.read_table, aws=aws, config=config, table="coverage", lake=lake_files)
        stored = pool.submit(lake.read_table, aws=aws, config=config, table="jobs", lake=lake_files)
        enabled = None if config.regions else pool.submit(ec2.enabled_regions, aws=aws)
        active = [
            account
            for account in listed.result()
            if account.status == "ACTIVE" and account.account_id not in config.exclude_accounts
        ]
        accounts = largest_first(active, coverage=coverage.result())
        regions = list(config.regions) or sorted(enabled.result() if enabled else [])
        plans = plan_regions(
            coverage=coverage.result(),
            now=run.started_at,
            full_listing_every_days=config.full_listing_every_days,
        )
        known = stored.result().groupby(["account_id", "region"])["job_arn"].agg(frozenset)
        running = running_launchers(stored.result())
    if lake_files is not None:
        lake_files.keep("coverage", coverage.result())
        lake_files.keep("jobs", stored.result())
    # A full listing then fetches only the jobs that the history lacks or that changed. An account-region
    # the history holds without its coverage is listed fully (only the others are a first listing).
    plans = {
        key: replace(plan, known=known.get(key, frozenset()))
        if plan.full
        else replace(plan, launchers_running=key in running)
        for key, plan in plans.items()
    }
    plans |= {key: RegionPlan(known=arns) for key, arns in known.items() if key not in plans}
    return Organization(accounts=accounts, default_regions=regions, plans=plans)


# Accounts in progress at once; `config.concurrency` bounds the account-regions actually being read.
ACCOUNT_WORKERS = 64


def collect_organization(
    *, aws: AwsSession, config: AuditConfig, run: AuditRun, organization: Organization
) -> list[AccountAudit]:
    """Every account, concurrently, in this process (the flow runs the same step as one task per account)."""
    slots = ReadSlots(config.concurrency)
    with fewer_collections(), ThreadPoolExecutor(max_workers=ACCOUNT_WORKERS) as pool:
        return list(
            pool.map(
                lambda account: audit_account(
                    aws=aws,
                    account=account,
                    config=config,
                    run=run,
                    default_regions=organization.default_regions,
                    plans=organization.plans,
                    slots=slots,
                ),
                organization.accounts,
            )
        )


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
    lake_files: LakeView | None = None,
) -> StoredLake:
    """Fold this run into the lake. Idempotent: re-running a week replaces, never duplicates.
    `lake_files`: the run's view of the lake (what `discover` read is taken from it)."""
    history = lake.read_table(aws=aws, config=config, table="jobs", lake=lake_files)
    fresh = _concat([audit.jobs for audit in audits], empty_frame(JOBS))
    fully_listed = [pair for audit in audits for pair in audit.fully_listed_regions]
    listed = frozenset().union(*(audit.listed for audit in audits))
    jobs = merge_history(history=history, fresh=fresh, fully_listed=fully_listed, listed=listed)
    changed = changed_rows(before=history, after=jobs)
    months = lake.creation_months(changed)
    lake.write_table(aws=aws, config=config, table="jobs", frame=jobs, months=months, lake=lake_files)

    this_week = _concat([audit.coverage for audit in audits], empty_frame(COVERAGE))
    earlier = lake.read_table(aws=aws, config=config, table="coverage", lake=lake_files)
    coverage = _concat([earlier[earlier["audit_week"] != run.audit_week], this_week], empty_frame(COVERAGE))
    lake.write_table(aws=aws, config=config, table="coverage", frame=coverage, lake=lake_files)

    account_table = accounts_frame(accounts)
    lake.write_table(aws=aws, config=config, table="accounts", frame=account_table, lake=lake_files)
    return StoredLake(jobs=jobs, coverage=coverage, accounts=account_table)


def preventive(*, aws: AwsSession, accounts: Sequence[Account]) -> pd.DataFrame | None:
    """Which accounts an SCP keeps from launching jobs without isolation; None when the SCPs are unreadable
    (the report then shows preventive coverage as unknown, never as covered)."""
    try:
        return read_preventive_coverage(aws=aws, accounts=accounts)
    except AUDIT_ERRORS as exc:
        log.warning("service control policies not read: %s", describe_failure(exc))
        return None


def price(
    *,
    aws: AwsSession,
    config: AuditConfig,
    run: AuditRun,
    stored: StoredLake,
    lake_files: LakeView | None = None,
) -> PriceBook:
    """The prices the jobs need, read from the Price List API only where the lake's are missing or stale."""
    return prices.refresh(aws=aws, config=config, jobs=stored.jobs, now=run.started_at, lake_files=lake_files)


@dataclass(frozen=True)
class Analysis:
    tables: KpiTables
    weekly: WeeklyReport
    pricing_calls: int = 0


def analyse(
    *,
    config: AuditConfig,
    run: AuditRun,
    stored: StoredLake,
    policies: pd.DataFrame | None,
    book: PriceBook | None = None,
) -> Analysis:
    generated_at = pd.Timestamp(run.started_at)
    tables = kpi_tables(
        jobs=stored.jobs,
        accounts=stored.accounts,
        coverage=stored.coverage,
        config=config,
        week=run.audit_week,
        generated_at=generated_at,
        prices=book.prices if book else None,
    )
    weekly = report_from_tables(
        tables,
        accounts=stored.accounts,
        coverage=stored.coverage,
        preventive=policies,
        config=config,
        week=run.audit_week,
        generated_at=generated_at,
    )
    if book and book.failure:
        unpriced = int(weekly.org.get("unpriced_jobs") or 0)
        note = f"Prices could not be read ({book.failure}): {unpriced} jobs of the week are unpriced."
        weekly = replace(weekly, pricing_note=note)
    return Analysis(tables=tables, weekly=weekly, pricing_calls=book.calls if book else 0)


def alert(
    *, aws: AwsSession, config: AuditConfig, run: AuditRun, analysis: Analysis, report_uri: str | None = None
) -> str | None:
    """One SNS message when this run found violations no earlier run had seen; its id, or None. The message
    names `report_uri`, the week's workbook in S3."""
    if not config.sns_topic_arn:
        return None
    message = new_violations_message(
        analysis.tables.facts, run_started_at=run.started_at, report_uri=report_uri
    )
    if message is None:
        return None
    return sns.publish(
        aws=aws, topic_arn=config.sns_topic_arn, subject=message.subject, message=message.message
    )


def publish(
    *, aws: AwsSession, config: AuditConfig, analysis: Analysis, lake_files: LakeView | None = None
) -> Path:
    """Store the KPI tables and the Athena views, write the workbook and a local copy of the lake; return
    the workbook's path. `lake_files`: the run's view of the lake (tables whose rows did not change are
    not written again; the local copy downloads only the files that changed)."""
    tables = {"job_facts": analysis.tables.facts, "episodes": analysis.tables.episodes}
    for table, frame in {**tables, "weekly_kpis": analysis.tables.kpis}.items():
        lake.write_table(aws=aws, config=config, table=table, frame=frame, lake=lake_files)
    billed = billed_views(cur_table=config.cur_table, net_unblended=config.cur_net_unblended)
    lake.publish_views(aws=aws, config=config, views={**views(), **billed}, lake=lake_files)
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    weekly = analysis.weekly
    workbook = write_workbook(weekly, path=config.reports_dir / f"isoaudit-{weekly.week}.xlsx")
    lake_mirror.mirror(aws=aws, config=config, destination=config.reports_dir / "lake", lake=lake_files)
    return workbook


def _concat(frames: Sequence[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else empty
