"""The weekly audit as a Prefect flow: discover, collect per account concurrently, store, report, publish,
deliver (page, S3 archive, emails), alert."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from isoaudit import audit
from isoaudit.aws import preflight, run_lock
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.organizations import Account
from isoaudit.aws.session import AwsSession
from isoaudit.collect import AccountAudit, AuditRun, ReadSlots, audit_account
from isoaudit.config import AuditConfig, load_config
from isoaudit.delivery import Delivery, deliver
from isoaudit.garbage_collector import fewer_collections
from isoaudit.metrics.report import WeeklyReport, report_json
from isoaudit.prices import PriceBook
from isoaudit.progress import current as current_progress


# Tasks take live sessions and DataFrames: never cache or persist them (they may hold credentials).
@task(cache_policy=NO_CACHE, persist_result=False)
def discover_organization(
    aws: AwsSession, config: AuditConfig, run: AuditRun, lake_files: LakeView
) -> audit.Organization:
    return audit.discover(aws=aws, config=config, run=run, lake_files=lake_files)


@task(cache_policy=NO_CACHE, persist_result=False, task_run_name="collect-{account.account_id}")
def collect_account(
    aws: AwsSession,
    account: Account,
    config: AuditConfig,
    run: AuditRun,
    organization: audit.Organization,
    slots: ReadSlots,
) -> AccountAudit:
    return audit_account(
        aws=aws,
        account=account,
        config=config,
        run=run,
        default_regions=organization.default_regions,
        plans=organization.plans,
        slots=slots,
    )


@task(cache_policy=NO_CACHE, persist_result=False)
def store_lake(
    aws: AwsSession,
    config: AuditConfig,
    run: AuditRun,
    accounts: list[Account],
    audits: list[AccountAudit],
    lake_files: LakeView,
) -> audit.StoredLake:
    return audit.store(
        aws=aws, config=config, run=run, accounts=accounts, audits=audits, lake_files=lake_files
    )


@task(cache_policy=NO_CACHE, persist_result=False)
def read_guardrails(aws: AwsSession, accounts: list[Account]) -> pd.DataFrame | None:
    return audit.preventive(aws=aws, accounts=accounts)


@task(cache_policy=NO_CACHE, persist_result=False)
def read_prices(
    aws: AwsSession, config: AuditConfig, run: AuditRun, stored: audit.StoredLake, lake_files: LakeView
) -> PriceBook:
    return audit.price(aws=aws, config=config, run=run, stored=stored, lake_files=lake_files)


@task(cache_policy=NO_CACHE, persist_result=False)
def analyse(
    config: AuditConfig,
    run: AuditRun,
    stored: audit.StoredLake,
    policies: pd.DataFrame | None,
    book: PriceBook,
) -> audit.Analysis:
    return audit.analyse(config=config, run=run, stored=stored, policies=policies, book=book)


@task(cache_policy=NO_CACHE, persist_result=False)
def alert_new_violations(
    aws: AwsSession, config: AuditConfig, run: AuditRun, analysis: audit.Analysis, report_uri: str
) -> None:
    message_id = audit.alert(aws=aws, config=config, run=run, analysis=analysis, report_uri=report_uri)
    if message_id:
        get_run_logger().info("new violations: alert %s sent to %s", message_id, config.sns_topic_arn)


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_reports(
    aws: AwsSession, config: AuditConfig, analysis: audit.Analysis, lake_files: LakeView
) -> Path:
    return audit.publish(aws=aws, config=config, analysis=analysis, lake_files=lake_files)


@task(cache_policy=NO_CACHE, persist_result=False)
def deliver_reports(
    aws: AwsSession,
    config: AuditConfig,
    run: AuditRun,
    analysis: audit.Analysis,
    workbook: Path,
    resend: bool,
) -> Delivery:
    summary = {**report_json(analysis.weekly), "workbook": str(workbook)}
    return deliver(
        aws=aws, config=config, run=run, weekly=analysis.weekly, workbook=workbook, summary=summary,
        resend=resend,
    )  # fmt: skip


@flow(
    name="weekly_audit",
    task_runner=ThreadPoolTaskRunner(max_workers=audit.ACCOUNT_WORKERS),
    persist_result=False,
)
def weekly_audit(
    config_file: str | None = None,
    week: str | None = None,
    overrides: dict[str, Any] | None = None,
    resend: bool = False,
    run_id: str | None = None,
    lake_files: LakeView | None = None,
) -> dict[str, Any]:
    """Audit every account of the Organization for `week` (default: the last complete ISO week); email the
    report to whoever has not received this week's yet (everyone again with `resend`).

    `run_id`: given by a caller that took the lake's run lock for it (the command line); None: a new one.
    `lake_files`: the lake as that caller surveyed it under the lock it holds for `run_id`
    (isoaudit.aws.preflight.survey_lake); None: the lock is taken and the lake surveyed here.
    """
    logger = get_run_logger()
    config = load_config(Path(config_file) if config_file else None, **(overrides or {}))
    run = audit.start_run(week=week, run_id=run_id)
    aws = audit.management_session(config)
    if run_id is None:  # not started by the command line, which checked already
        preflight.check(aws=aws, config=config)
    # One run at a time writes the lake. A caller that surveyed the lake holds the lock for this run already
    # (the command line); one that gave only the run id may, which the lock finds out itself.
    held = run_lock.held(aws=aws, config=config, run_id=run.run_id) if lake_files is None else nullcontext()
    with held:
        if lake_files is None:
            lake_files = preflight.survey_lake(aws=aws, config=config)
        organization = discover_organization(aws, config, run, lake_files)
        logger.info(
            "auditing %d accounts for %s (run %s)", len(organization.accounts), run.audit_week, run.run_id
        )
        with fewer_collections():
            audits = _collect_accounts(aws, config, run, organization)
        policies = read_guardrails.submit(aws, organization.accounts)
        stored = store_lake(aws, config, run, organization.accounts, audits, lake_files)
        book = read_prices(aws, config, run, stored, lake_files)
        analysis = analyse(config, run, stored, policies.result(), book)
        workbook = publish_reports(aws, config, analysis, lake_files)
        delivery = deliver_reports(aws, config, run, analysis, workbook, resend)
        alert_new_violations(aws, config, run, analysis, delivery.workbook_uri)
        _publish_artifacts(analysis.weekly, workbook)
        logger.info("workbook written to %s, archived at %s", workbook, delivery.workbook_uri)
        return {
            **report_json(analysis.weekly),
            "workbook": str(workbook),
            "page": str(delivery.page),
            "archive": {"workbook": delivery.workbook_uri, "summary": delivery.summary_uri},
            "emails": delivery.emails,
            "pricing": {"calls": analysis.pricing_calls, "failure": book.failure or None},
        }


def _collect_accounts(
    aws: AwsSession, config: AuditConfig, run: AuditRun, organization: audit.Organization
) -> list[AccountAudit]:
    """One task per account, side by side; progress after each account."""
    logger = get_run_logger()
    slots = ReadSlots(config.concurrency)
    futures = [
        collect_account.submit(aws, account, config, run, organization, slots)
        for account in organization.accounts
    ]
    audits: list[AccountAudit] = []
    progress = current_progress()
    progress.started(accounts=len(futures))
    # Running totals: summing every account's coverage again after each one is quadratic in accounts.
    jobs_seen = gaps = changed = 0
    for future in as_completed(futures):
        done = future.result()
        audits.append(done)
        jobs_seen += int(done.coverage["jobs_seen"].sum())
        gaps += int((done.coverage["status"] == "failed").sum())
        changed += len(done.jobs)
        progress.collected(done=len(audits), jobs_seen=jobs_seen, gaps=gaps)
        logger.info(
            "collected %d/%d accounts, %d jobs seen (%d new or changed), %d gaps",
            len(audits),
            len(futures),
            jobs_seen,
            changed,
            gaps,
        )
    progress.finished()
    return audits


def _publish_artifacts(weekly: WeeklyReport, workbook: Path) -> None:
    summary = report_json(weekly)
    create_table_artifact(
        key="isoaudit-team-kpis",
        table=summary["teams"],
        description=f"isoaudit team KPIs for {weekly.week}",
    )
    org = summary["org"]
    create_markdown_artifact(
        key="isoaudit-weekly-report",
        markdown=(
            f"# isoaudit {weekly.week}\n\n"
            f"- jobs: {org['jobs']}, isolation rate: {org['isolation_rate']} %\n"
            f"- violations: {org['violations']}, open episodes: {org['episodes_open']}\n"
            f"- spend at list price: {org['spend_usd']} USD, exposed: {org['exposed_spend_usd']} USD, "
            f"unpriced jobs: {org['unpriced_jobs']}\n"
            f"- audit coverage: {org['audit_coverage']} %\n\n"
            f"Workbook: `{workbook.resolve()}`\n"
        ),
        description=f"isoaudit weekly report {weekly.week}",
    )
