"""Collect every job of one member account: assume the audit role, then each region, each job kind.

Every read goes through `_guarded`, the single place where an AWS failure is turned into a coverage row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import pandas as pd

from isoaudit.aws import ec2, sagemaker, sts
from isoaudit.aws.organizations import Account
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.coverage_rows import CoverageRecorder
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.job_kinds import JobKind, launcher_kinds
from isoaudit.reading import SEARCH_INDEX_LAG, RegionRead, read_region, searched_kinds
from isoaudit.records import RowKeeper, job_rows, no_jobs, usable_records

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class AuditRun:
    """Identity of one audit run: which week it reports and when it looked."""

    run_id: str
    audit_week: str
    started_at: datetime


@dataclass(frozen=True)
class RegionPlan:
    """How to read one account-region.

    `full`: list every job (the ground truth, which proves deletions and catches what Search missed);
    otherwise only what changed. `since`: fetch the records of jobs changed after it (None: every record).
    `known`: ARNs already in the history, which a full listing does not fetch again unless they changed.
    """

    full: bool = True
    since: datetime | None = None
    known: frozenset[str] = field(default=frozenset(), repr=False)
    # Never audited and absent from the history: Search's records are the listing, and List reads only
    # what Search's index may not hold yet (see `_read_region`).
    first: bool = False
    # The history holds a launcher (tuning job) of this account-region still running: an incremental read
    # then searches the launchers even if none of their children changed (see `isoaudit.reading`).
    launchers_running: bool = False

    @property
    def listing(self) -> str:
        return "full" if self.full else "incremental"


FULL_LISTING = RegionPlan()
FIRST_LISTING = RegionPlan(first=True)

# A full listing due within this much of now is due now: a weekly schedule starts a few seconds or minutes
# early or late, and must not push a 28-day full listing to day 35.
SCHEDULE_SLACK = timedelta(hours=12)


def plan_regions(
    *, coverage: pd.DataFrame, now: datetime, full_listing_every_days: int
) -> dict[tuple[str, str], RegionPlan]:
    """From the stored coverage, how to read each account-region audited before (others: full)."""
    audited = coverage[coverage["status"] == "audited"]
    last_audit = audited.groupby(["account_id", "region"])["audited_at"].max()
    full = audited[audited["listing"] == "full"]
    last_full = full.groupby(["account_id", "region"])["audited_at"].max()
    full_age = timedelta(days=full_listing_every_days)
    plans = {}
    for key, audited_at in last_audit.items():
        full_at = last_full.get(key)
        full = full_at is None or now - full_at.to_pydatetime() >= full_age - SCHEDULE_SLACK
        plans[key] = RegionPlan(full=full, since=audited_at.to_pydatetime() - SEARCH_INDEX_LAG)
    return plans


# A launcher in one of these states may still change without a child changing.
UNFINISHED_STATUSES = ("InProgress", "Stopping")


def running_launchers(stored: pd.DataFrame) -> set[tuple[str, str]]:
    """The (account, region) pairs whose history (columns account_id, region, job_kind, status) holds a
    launcher still running: see `RegionPlan.launchers_running`."""
    running = stored[stored["job_kind"].isin(launcher_kinds()) & stored["status"].isin(UNFINISHED_STATUSES)]
    return set(zip(running["account_id"], running["region"], strict=True))


def largest_first(accounts: Sequence[Account], *, coverage: pd.DataFrame) -> list[Account]:
    """The accounts, those whose last full listing saw the most jobs first (the others keep their order):
    the longest listings then start first instead of lengthening the end of the run."""
    full = coverage[(coverage["status"] == "audited") & (coverage["listing"] == "full")]
    latest = full.sort_values("audited_at").drop_duplicates(["account_id", "region"], keep="last")
    sizes = latest.groupby("account_id")["jobs_seen"].sum()
    return sorted(accounts, key=lambda account: -int(sizes.get(account.account_id, 0)))


@dataclass(frozen=True)
class AccountAudit:
    """What one account yielded: its jobs and one coverage row per account-region."""

    account_id: str
    jobs: pd.DataFrame  # the records fetched: new or changed jobs
    coverage: pd.DataFrame
    listed: frozenset[str] = frozenset()  # every ARN the full listings of this account returned

    @property
    def fully_listed_regions(self) -> list[tuple[str, str]]:
        """Account-regions whose every job was listed: only these can prove a job disappeared."""
        coverage = self.coverage
        full = coverage[(coverage["status"] == "audited") & (coverage["listing"] == "full")]
        return list(zip(full["account_id"], full["region"], strict=True))


class ReadSlots:
    """How many account-regions of the organization are read at once (`reading`: the concurrency), and how
    many hold a built client meanwhile (`ready`: twice as many, those reading and as many waiting; a client
    is about 115 KB)."""

    def __init__(self, concurrency: int) -> None:
        self.reading = threading.BoundedSemaphore(concurrency)
        self.ready = threading.BoundedSemaphore(2 * concurrency)


class _Gap(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _guarded(read: Callable[[], T], *, context: str) -> T:
    """The error policy of collection: any failure of a read becomes the gap of what it was reading.

    AWS's refusals and unreadable answers (AUDIT_ERRORS) are expected. Anything else is a defect or an
    answer isoaudit cannot handle: it is logged with its traceback, and still ends only this account-region
    (or account), never the other accounts' audit.
    """
    try:
        return read()
    except AUDIT_ERRORS as exc:
        raise _Gap(describe_failure(exc, context=context)) from None
    except Exception as exc:
        log.exception("unexpected failure (%s); recorded as a coverage gap", context)
        raise _Gap(describe_failure(exc, context=f"{context}: unexpected")) from None


def _member(*, aws: AwsSession, account: Account, config: AuditConfig) -> tuple[AwsSession, set[str]]:
    """The account's session through its audit role, and its enabled regions; a _Gap when either fails."""
    role = sts.role_arn(account_id=account.account_id, role_name=config.role_name)
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
    enabled = _guarded(
        lambda: ec2.enabled_regions(aws=member, among=config.regions), context="cannot list enabled regions"
    )
    return member, enabled


def audit_account(
    *,
    aws: AwsSession,
    account: Account,
    config: AuditConfig,
    run: AuditRun,
    default_regions: Iterable[str],
    plans: Mapping[tuple[str, str], RegionPlan],
    slots: ReadSlots,
) -> AccountAudit:
    """Audit one account; never raises for an AWS failure, which is recorded as coverage instead. `slots`
    bounds how many account-regions are read at once across the whole organization."""
    coverage = CoverageRecorder(account=account, run=run)
    wanted = list(config.regions) or sorted(default_regions)
    try:
        member, enabled = _member(aws=aws, account=account, config=config)
    except _Gap as gap:
        log.warning("account %s not audited: %s", account.account_id, gap.reason)
        for region in wanted:
            coverage.failed(region=region, reason=gap.reason)
        return AccountAudit(account.account_id, no_jobs(), coverage.frame())

    regions = list(config.regions) or sorted(enabled)
    for region in regions:
        if region not in enabled:
            coverage.skipped(region=region, reason="region not enabled in this account")
    in_scope = [region for region in regions if region in enabled]
    workers = max(1, min(len(in_scope), config.concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"audit-{account.account_id}") as pool:
        reads = list(
            pool.map(
                lambda region: _audit_region(
                    member,
                    account,
                    region,
                    run,
                    plans.get((account.account_id, region), FIRST_LISTING),
                    coverage,
                    slots,
                ),
                in_scope,
            )
        )
    frames = [jobs for jobs, _ in reads if jobs is not None and not jobs.empty]
    # Each region's rows are JOBS-typed already (see `_rows`): one region's are neither converted nor copied
    # again (half a gigabyte for a 462,178-job region).
    jobs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else no_jobs())
    listed = frozenset().union(*(arns for _, arns in reads))
    return AccountAudit(account.account_id, jobs, coverage.frame(), listed)


def _audit_region(
    member: AwsSession,
    account: Account,
    region: str,
    run: AuditRun,
    plan: RegionPlan,
    coverage: CoverageRecorder,
    slots: ReadSlots,
) -> tuple[pd.DataFrame | None, frozenset[str]]:
    """The region's fetched jobs (None when none), and the ARNs its full listing returned (none when not
    fully listed)."""
    counted = member.counted()
    keepers = {
        kind: RowKeeper(kind=kind, account_id=account.account_id, region=region, seen_at=run.started_at)
        for kind in searched_kinds()
    }
    try:
        with slots.ready:
            # The region's client is built before its slot is taken: building one is milliseconds of CPU
            # under one lock for the whole process, which inside the slot lengthened every slot's round
            # trips (51 accounts x 17 regions, 50 ms a call, concurrency 8: wall / bound 1.85 -> 1.28).
            _guarded(lambda: sagemaker.prepare(aws=counted, region=region), context=f"cannot read {region}")
            with slots.reading:
                read = _guarded(
                    lambda: read_region(counted, region, plan, keepers), context=f"cannot read {region}"
                )
        jobs, left_out = _guarded(
            lambda: _rows(read, keepers, account_id=account.account_id, region=region, run=run),
            context=f"cannot store the jobs of {region}",
        )
    except _Gap as gap:
        log.warning("account %s region %s not audited: %s", account.account_id, region, gap.reason)
        coverage.failed(region=region, reason=gap.reason, api_calls=counted.counter.count, plan=plan)
        return None, frozenset()
    note = ""
    if left_out:
        note = f"{len(left_out)} record(s) left out, unusable: {'; '.join(left_out[:5])}"
        log.warning("account %s region %s: %s", account.account_id, region, note)
    coverage.audited(
        region=region, jobs_seen=read.seen, api_calls=counted.counter.count, plan=plan, note=note
    )
    return jobs, read.listed


def _rows(
    read: RegionRead, keepers: Mapping[JobKind, RowKeeper], *, account_id: str, region: str, run: AuditRun
) -> tuple[pd.DataFrame | None, list[str]]:
    """The JOBS rows of a region's records (typed as JOBS; None when there is none), and a note per record
    left out because it is unusable."""
    frames, left_out = [], []
    for kind, kept in read.kept.items():
        rows, notes = keepers[kind].frame(kept)
        if rows is not None:
            frames.append(rows)
        left_out += notes
    for kind, found in read.records.items():
        usable, unusable = usable_records(found, kind=kind)
        left_out += unusable
        if usable:  # most account-regions of a re-run have none: no empty frame built for them
            frames.append(
                job_rows(usable, kind=kind, account_id=account_id, region=region, seen_at=run.started_at)
            )
    present = [frame for frame in frames if not frame.empty]
    if len(present) <= 1:
        return (present[0] if present else None), left_out
    return pd.concat(present, ignore_index=True), left_out
