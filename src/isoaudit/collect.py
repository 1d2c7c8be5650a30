"""Collect every job of one member account: assume the audit role, then each region, each job kind.

Every read goes through `_guarded`, the single place where an AWS failure is turned into a coverage row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from isoaudit.aws import ec2, sagemaker, sts
from isoaudit.aws.organizations import Account
from isoaudit.aws.sagemaker import JobKind
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.coverage_rows import CoverageRecorder
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.records import Kept, RowKeeper, job_rows, usable_records
from isoaudit.schema import JOBS, conform, empty_frame

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

    @property
    def listing(self) -> str:
        return "full" if self.full else "incremental"


FULL_LISTING = RegionPlan()
FIRST_LISTING = RegionPlan(first=True)

# Search reads an index that can lag behind the jobs: each incremental read starts this long before the
# previous audit of the account-region, and the merge by ARN absorbs the overlap.
SEARCH_INDEX_LAG = timedelta(hours=1)
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


def audit_account(
    *,
    aws: AwsSession,
    account: Account,
    config: AuditConfig,
    run: AuditRun,
    default_regions: Iterable[str],
    plans: Mapping[tuple[str, str], RegionPlan],
    slots: threading.Semaphore,
) -> AccountAudit:
    """Audit one account; never raises for an AWS failure, which is recorded as coverage instead.

    `slots` bounds how many account-regions are read at once across the whole organization.
    """
    coverage = CoverageRecorder(account=account, run=run)
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
        log.warning("account %s not audited: %s", account.account_id, gap.reason)
        for region in wanted:
            coverage.failed(region=region, reason=gap.reason)
        return AccountAudit(account.account_id, empty_frame(JOBS), coverage.frame())

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
    frames = [jobs for jobs, _ in reads if not jobs.empty]
    # One region's rows are not copied again: a 462,178-job region's are half a gigabyte.
    jobs = frames[0] if len(frames) == 1 else pd.concat(frames or [empty_frame(JOBS)], ignore_index=True)
    listed = frozenset().union(*(arns for _, arns in reads))
    return AccountAudit(account.account_id, conform(jobs, JOBS), coverage.frame(), listed)


def _audit_region(
    member: AwsSession,
    account: Account,
    region: str,
    run: AuditRun,
    plan: RegionPlan,
    coverage: CoverageRecorder,
    slots: threading.Semaphore,
) -> tuple[pd.DataFrame, frozenset[str]]:
    """The region's fetched jobs, and the ARNs its full listing returned (none when not fully listed)."""
    counted = member.counted()
    keeper = RowKeeper(
        kind=sagemaker.TRAINING, account_id=account.account_id, region=region, seen_at=run.started_at
    )
    with slots:
        try:
            read = _guarded(
                lambda: _read_region(counted, region, plan, keeper), context=f"cannot read {region}"
            )
            jobs, left_out = _guarded(
                lambda: _rows(read, keeper, account_id=account.account_id, region=region, run=run),
                context=f"cannot store the jobs of {region}",
            )
        except _Gap as gap:
            log.warning("account %s region %s not audited: %s", account.account_id, region, gap.reason)
            coverage.failed(region=region, reason=gap.reason, api_calls=counted.counter.count, plan=plan)
            return empty_frame(JOBS), frozenset()
    note = ""
    if left_out:
        note = f"{len(left_out)} record(s) left out, unusable: {'; '.join(left_out[:5])}"
        log.warning("account %s region %s: %s", account.account_id, region, note)
    seen = len(read.listed | frozenset(jobs["job_arn"]))  # a full listing sees jobs it does not fetch again
    coverage.audited(region=region, jobs_seen=seen, api_calls=counted.counter.count, plan=plan, note=note)
    return jobs, read.listed


def _rows(
    read: _RegionRead, keeper: RowKeeper, *, account_id: str, region: str, run: AuditRun
) -> tuple[pd.DataFrame, list[str]]:
    """The JOBS rows of a region's records, and a note per record left out because it is unusable."""
    training, left_out = keeper.frame(read.training)
    frames = [training]
    for kind, found in read.records.items():
        usable, unusable = usable_records(found, kind=kind)
        left_out += unusable
        frames.append(
            job_rows(usable, kind=kind, account_id=account_id, region=region, seen_at=run.started_at)
        )
    present = [frame for frame in frames if not frame.empty]
    if len(present) == 1:
        return present[0], left_out
    return pd.concat(frames, ignore_index=True), left_out


@dataclass(frozen=True)
class _RegionRead:
    training: list[Kept]  # fetched training jobs, kept as rows (see `RowKeeper`)
    records: dict[JobKind, list[dict[str, Any]]]  # fetched: new or changed jobs of the other kinds
    listed: frozenset[str]  # ARNs of a full listing, fetched or not


def _read_region(aws: AwsSession, region: str, plan: RegionPlan, keeper: RowKeeper) -> _RegionRead:
    """The records of the jobs changed since the plan's watermark (of every job when it has none).

    Training jobs come whole from Search, 100 a call. A full listing also lists them, concurrently, as the
    ground truth, and describes what Search missed (its index lags) unless the history has it unchanged.
    The first listing of an account-region the history has never seen lists only the jobs changed within
    SEARCH_INDEX_LAG, what the index may lack (as every incremental run trusts it for the rest): with no
    history, there is no deletion to prove, and a whole List would read every job a second time (4,622
    calls more on 462,178 jobs). The next periodic full listing lists them all.
    Tuning jobs come whole from Search too (every one on a full listing, which proves they still exist),
    so that one that has launched nothing yet shows; a tuning job named by a training job but missing from
    both Search and the history is described. Processing jobs have no Search: they are listed, and the new
    or changed described.
    """
    since = plan.since
    full_since = None if plan.full else since
    with ThreadPoolExecutor(max_workers=4) as pool:
        searched = pool.submit(_search_kept, aws, region, since, keeper)
        listed = None
        if plan.full:
            recent = datetime.now(UTC) - SEARCH_INDEX_LAG if plan.first else None
            listed = pool.submit(_summaries, aws, region, sagemaker.TRAINING, recent)
        processing = pool.submit(_summaries, aws, region, sagemaker.PROCESSING, full_since)
        tuning_search = pool.submit(
            sagemaker.search_jobs, aws=aws, region=region, kind=sagemaker.TUNING, modified_after=full_since
        )
        training = dict(searched.result())
        listed_training = listed.result() if listed else {}
        listed_processing = processing.result()
        tuning = {record["HyperParameterTuningJobArn"]: record for record in tuning_search.result()}

    def to_fetch(summaries: dict[str, dict[str, Any]], kind: JobKind) -> list[str]:
        """Of these listed jobs, those the history lacks or that changed since the watermark."""
        return [
            summary[kind.name_key]
            for arn, summary in summaries.items()
            if arn not in plan.known or _changed(summary, since)
        ]

    unsearched = {arn: summary for arn, summary in listed_training.items() if arn not in training}
    described = sagemaker.describe_jobs(
        aws=aws, region=region, kind=sagemaker.TRAINING, names=to_fetch(unsearched, sagemaker.TRAINING)
    )
    training |= zip([record["TrainingJobArn"] for record in described], keeper(described), strict=True)
    records = {
        sagemaker.TUNING: _tuning_records(aws, region, plan, searched=tuning, training=training),
        sagemaker.PROCESSING: sagemaker.describe_jobs(
            aws=aws,
            region=region,
            kind=sagemaker.PROCESSING,
            names=to_fetch(listed_processing, sagemaker.PROCESSING),
        ),
    }
    listed_arns = frozenset()
    if plan.full:
        listed_arns = frozenset(listed_training) | frozenset(listed_processing) | frozenset(tuning)
    if plan.first:
        listed_arns |= frozenset(training)
    return _RegionRead(training=list(training.values()), records=records, listed=listed_arns)


def _search_kept(
    aws: AwsSession, region: str, since: datetime | None, keeper: RowKeeper
) -> list[tuple[str, Kept]]:
    """The training jobs changed since `since`, as (ARN, what is kept of the record) pairs: each page
    becomes rows as it arrives. A record without an ARN is keyed by its note (it only leaves a note)."""

    def keep(records: list[dict[str, Any]]) -> list[tuple[str, Kept]]:
        kept = keeper(records)
        return [
            (record.get("TrainingJobArn") or item.note, item)
            for record, item in zip(records, kept, strict=True)
        ]

    return sagemaker.search_jobs(aws=aws, region=region, modified_after=since, keep=keep)


def _tuning_records(
    aws: AwsSession,
    region: str,
    plan: RegionPlan,
    *,
    searched: dict[str, dict[str, Any]],
    training: dict[str, Kept],
) -> list[dict[str, Any]]:
    """The tuning jobs to store: those Search returned that the history lacks or that changed, and, whole
    from Describe, those that `training` jobs name but neither Search nor the history has (its index lags)."""
    unknown = sorted(
        {
            kept.tuning_job_arn.rsplit("/", 1)[-1]
            for kept in training.values()
            if kept.tuning_job_arn
            and kept.tuning_job_arn not in searched
            and kept.tuning_job_arn not in plan.known
        }
    )
    fetched = [
        record for arn, record in searched.items() if arn not in plan.known or _changed(record, plan.since)
    ]
    return fetched + sagemaker.describe_jobs(aws=aws, region=region, kind=sagemaker.TUNING, names=unknown)


def _changed(summary: dict[str, Any], since: datetime | None) -> bool:
    modified = summary.get("LastModifiedTime")
    return since is None or modified is None or modified > since


def _summaries(
    aws: AwsSession, region: str, kind: JobKind, since: datetime | None
) -> dict[str, dict[str, Any]]:
    summaries = sagemaker.list_jobs(aws=aws, region=region, kind=kind, modified_after=since)
    return {summary[kind.arn_key]: summary for summary in summaries}
