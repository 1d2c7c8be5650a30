"""Collect every job of one member account: assume the audit role, then each region, each job kind.

Every read goes through `_guarded`, the single place where an AWS failure is turned into a coverage row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import pandas as pd

from isoaudit.aws import ec2, sagemaker, sts
from isoaudit.aws.organizations import Account
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.records import job_rows
from isoaudit.schema import COVERAGE, JOBS, conform, empty_frame

log = logging.getLogger(__name__)
T = TypeVar("T")

REGION_WORKERS = 4


@dataclass(frozen=True)
class AuditRun:
    """Identity of one audit run: which week it reports and when it looked."""

    run_id: str
    audit_week: str
    started_at: datetime


@dataclass(frozen=True)
class AccountAudit:
    """What one account yielded: its jobs and one coverage row per account-region."""

    account_id: str
    jobs: pd.DataFrame
    coverage: pd.DataFrame

    @property
    def audited_regions(self) -> list[tuple[str, str]]:
        audited = self.coverage[self.coverage["status"] == "audited"]
        return list(zip(audited["account_id"], audited["region"], strict=True))


class _Gap(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _guarded(read: Callable[[], T], *, context: str) -> T:
    try:
        return read()
    except AUDIT_ERRORS as exc:
        raise _Gap(describe_failure(exc, context=context)) from None


def audit_account(
    *, aws: AwsSession, account: Account, config: AuditConfig, run: AuditRun, default_regions: Iterable[str]
) -> AccountAudit:
    """Audit one account; never raises for an AWS failure, which is recorded as coverage instead."""
    coverage = _CoverageRecorder(account=account, run=run)
    role = sts.role_arn(account_id=account.account_id, role_name=config.role_name)
    wanted = list(config.regions) or sorted(default_regions)
    try:
        member = _guarded(
            lambda: sts.assume_role(
                aws=aws,
                role_arn=role,
                session_name=config.role_session_name,
                external_id=config.external_id,
                duration_seconds=config.session_duration_seconds,
            ),
            context=f"cannot assume {role}",
        )
        enabled = _guarded(lambda: ec2.enabled_regions(aws=member), context="cannot list enabled regions")
    except _Gap as gap:
        for region in wanted:
            coverage.failed(region=region, reason=gap.reason)
        return AccountAudit(account.account_id, empty_frame(JOBS), coverage.frame())

    regions = list(config.regions) or sorted(enabled)
    for region in regions:
        if region not in enabled:
            coverage.skipped(region=region, reason="region not enabled in this account")
    in_scope = [region for region in regions if region in enabled]
    with ThreadPoolExecutor(
        max_workers=REGION_WORKERS, thread_name_prefix=f"audit-{account.account_id}"
    ) as pool:
        frames = list(
            pool.map(lambda region: _audit_region(member, account, region, run, coverage), in_scope)
        )
    jobs = pd.concat([frame for frame in frames if not frame.empty] or [empty_frame(JOBS)], ignore_index=True)
    return AccountAudit(account.account_id, conform(jobs, JOBS), coverage.frame())


def _audit_region(
    member: AwsSession, account: Account, region: str, run: AuditRun, coverage: _CoverageRecorder
) -> pd.DataFrame:
    counted = member.counted()
    frames = []
    try:
        for kind in sagemaker.JOB_KINDS:
            records = _guarded(
                lambda kind=kind: sagemaker.fetch_jobs(aws=counted, region=region, kind=kind),
                context=f"cannot read {kind.name} jobs",
            )
            frames.append(
                job_rows(
                    records, kind=kind, account_id=account.account_id, region=region, seen_at=run.started_at
                )
            )
    except _Gap as gap:
        log.warning("account %s region %s not audited: %s", account.account_id, region, gap.reason)
        coverage.failed(region=region, reason=gap.reason, api_calls=counted.counter.count)
        return empty_frame(JOBS)
    jobs = pd.concat(frames, ignore_index=True)
    coverage.audited(region=region, jobs_seen=len(jobs), api_calls=counted.counter.count)
    return jobs


class _CoverageRecorder:
    """Collects coverage rows from the region threads of one account."""

    def __init__(self, *, account: Account, run: AuditRun) -> None:
        self._account = account
        self._run = run
        self._rows: list[dict] = []

    def audited(self, *, region: str, jobs_seen: int, api_calls: int) -> None:
        self._add(region=region, status="audited", reason="", jobs_seen=jobs_seen, api_calls=api_calls)

    def skipped(self, *, region: str, reason: str) -> None:
        self._add(region=region, status="skipped", reason=reason, jobs_seen=0, api_calls=0)

    def failed(self, *, region: str, reason: str, api_calls: int = 0) -> None:
        self._add(region=region, status="failed", reason=reason, jobs_seen=0, api_calls=api_calls)

    def _add(self, **row: object) -> None:
        # list.append is atomic under the GIL; the region threads only append.
        self._rows.append(
            {
                "audit_week": self._run.audit_week,
                "run_id": self._run.run_id,
                "account_id": self._account.account_id,
                "account_name": self._account.name,
                "audited_at": pd.Timestamp.now(tz="UTC"),
                **row,
            }
        )

    def frame(self) -> pd.DataFrame:
        if not self._rows:
            return empty_frame(COVERAGE)
        return conform(pd.DataFrame(self._rows).sort_values("region"), COVERAGE)
