"""How the jobs of one account-region are read: every kind in isoaudit.job_kinds.KINDS, as its `reading`
says, in as few calls as the plan allows (isoaudit.collect turns the records into rows and coverage)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from isoaudit.aws import sagemaker
from isoaudit.aws.session import AwsSession
from isoaudit.job_kinds import KINDS, JobKind, Reading
from isoaudit.records import Kept, RowKeeper, usable_records

if TYPE_CHECKING:
    from isoaudit.collect import RegionPlan

# Search reads an index that can lag behind the jobs: each incremental read starts this long before the
# previous audit of the account-region, and the merge by ARN absorbs the overlap.
SEARCH_INDEX_LAG = timedelta(hours=1)


@dataclass(frozen=True)
class RegionRead:
    kept: dict[JobKind, list[Kept]]  # searched kinds: fetched jobs, kept as rows (see `RowKeeper`)
    records: dict[JobKind, list[dict[str, Any]]]  # the other kinds: fetched new or changed jobs
    listed: frozenset[str]  # ARNs of a full listing, fetched or not
    seen: int = 0  # jobs this read saw


def searched_kinds() -> list[JobKind]:
    """The kinds read by Search whose records become rows page by page (a RowKeeper each)."""
    return [kind for kind in KINDS if kind.reading is Reading.SEARCH]


def read_region(
    aws: AwsSession, region: str, plan: RegionPlan, keepers: Mapping[JobKind, RowKeeper]
) -> RegionRead:
    """The records of the jobs changed since the plan's watermark (of every job when it has none), of every
    kind in KINDS, each read as its `reading` says (see isoaudit.job_kinds.Reading).

    The first listing of an account-region the history has never seen lists a searched kind only over
    SEARCH_INDEX_LAG, what the index may lack (as every incremental run trusts it for the rest): with no
    history, there is no deletion to prove, and a whole List would read every job a second time (4,622
    calls more on 462,178 jobs). The next periodic full listing lists them all.
    """
    since = plan.since
    kept, searched, listed = _search_and_list(aws, region, plan, keepers)

    def to_fetch(summaries: dict[str, dict[str, Any]], kind: JobKind) -> list[str]:
        """Of these listed jobs, those the history lacks or that changed since the watermark."""
        return [
            summary[kind.name_key]
            for arn, summary in summaries.items()
            if arn not in plan.known or _changed(summary, since)
        ]

    records: dict[JobKind, list[dict[str, Any]]] = {}
    for kind in KINDS:
        if kind.reading is Reading.SEARCH:
            found = kept[kind]
            unsearched = {arn: summary for arn, summary in listed.get(kind, {}).items() if arn not in found}
            described = sagemaker.describe_jobs(
                aws=aws, region=region, kind=kind, names=to_fetch(unsearched, kind)
            )
            found |= zip(
                [record[kind.arn_key] for record in described], keepers[kind](described), strict=True
            )
        elif kind.reading is Reading.LIST_THEN_DESCRIBE:
            records[kind] = sagemaker.describe_jobs(
                aws=aws, region=region, kind=kind, names=to_fetch(listed[kind], kind)
            )
    for kind in KINDS:
        if kind.reading is Reading.THROUGH_CHILDREN:
            records[kind] = _launchers(
                aws, region, plan, kind=kind, kept=kept, records=records, searched=searched
            )
    listed_arns: frozenset[str] = frozenset()
    if plan.full:
        listed_arns = frozenset().union(*listed.values(), *searched.values())
    if plan.first:
        listed_arns |= frozenset().union(*kept.values())
    return RegionRead(
        kept={kind: list(found.values()) for kind, found in kept.items()},
        records={kind: records[kind] for kind in KINDS if kind in records},
        listed=listed_arns,
        seen=_seen(listed_arns, kept, records),
    )


def _seen(
    listed: frozenset[str],
    kept: Mapping[JobKind, Mapping[str, Kept]],
    records: Mapping[JobKind, list[dict[str, Any]]],
) -> int:
    """How many jobs a read saw: listed (a full listing sees jobs it does not fetch again), or fetched and
    usable as rows. Counted from the ARNs read, without building them again from the rows."""
    return len(
        listed.union(
            *({arn for arn, item in found.items() if item.row} for found in kept.values()),
            *(
                {record[kind.arn_key] for record in usable_records(found, kind=kind)[0]}
                for kind, found in records.items()
            ),
        )
    )


def _search_and_list(
    aws: AwsSession, region: str, plan: RegionPlan, keepers: Mapping[JobKind, RowKeeper]
) -> tuple[
    dict[JobKind, dict[str, Kept]],
    dict[JobKind, dict[str, dict[str, Any]]],
    dict[JobKind, dict[str, dict[str, Any]]],
]:
    """Side by side: the Search of each searched kind (kept as rows, page by page), the listing of each
    kind listed on this plan, and on a full or first listing the Search of each launcher kind, each by ARN.

    An incremental read searches a launcher kind later, only when it must (see `read_region`): a launcher
    counts through its children, whose records name it, so a region where no child changed and no launcher
    is still running has nothing of the kind to read (one call fewer per account-region).
    """
    full_since = None if plan.full else plan.since
    recent = datetime.now(UTC) - SEARCH_INDEX_LAG if plan.first else None
    with ThreadPoolExecutor(max_workers=4) as pool:
        keeping = {
            kind: pool.submit(_search_kept, aws, region, kind, plan.since, keepers[kind])
            for kind in KINDS
            if kind.reading is Reading.SEARCH
        }
        searches = {
            kind: pool.submit(_searched, aws, region, kind, full_since)
            for kind in KINDS
            if kind.reading is Reading.THROUGH_CHILDREN and (plan.full or plan.first)
        }
        listings = {
            kind: pool.submit(
                _summaries, aws, region, kind, recent if kind.reading is Reading.SEARCH else full_since
            )
            for kind in KINDS
            if kind.reading is Reading.LIST_THEN_DESCRIBE or (kind.reading is Reading.SEARCH and plan.full)
        }
        kept = {kind: dict(found.result()) for kind, found in keeping.items()}
        searched = {kind: found.result() for kind, found in searches.items()}
        return kept, searched, {kind: found.result() for kind, found in listings.items()}


def _search_kept(
    aws: AwsSession, region: str, kind: JobKind, since: datetime | None, keeper: RowKeeper
) -> list[tuple[str, Kept]]:
    """The jobs of `kind` changed since `since`, as (ARN, what is kept of the record) pairs: each page
    becomes rows as it arrives. A record without an ARN is keyed by its note (it only leaves a note)."""

    def keep(records: list[dict[str, Any]]) -> list[tuple[str, Kept]]:
        kept = keeper(records)
        return [
            (record.get(kind.arn_key) or item.note, item) for record, item in zip(records, kept, strict=True)
        ]

    return sagemaker.search_jobs(aws=aws, region=region, kind=kind, modified_after=since, keep=keep)


def _launchers(
    aws: AwsSession,
    region: str,
    plan: RegionPlan,
    *,
    kind: JobKind,
    kept: Mapping[JobKind, Mapping[str, Kept]],
    records: Mapping[JobKind, list[dict[str, Any]]],
    searched: dict[JobKind, dict[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The records of the launchers of `kind` to store, from the children read (`kept`, `records`).

    A full or first listing has searched them all already. An incremental read searches them only when a
    child read names one (a new or changed training job of a tuning job) or when the history holds one
    still running (it may have ended since, its children unchanged): a launcher is counted only through
    its children, so a region where neither holds has no launcher of the kind to refresh.
    """
    named = {item.tuning_job_arn for found in kept.values() for item in found.values()}
    named |= {str(record.get(str(kind.child_key)) or "") for found in records.values() for record in found}
    named.discard("")
    if kind not in searched and (named or plan.launchers_running):
        searched[kind] = _searched(aws, region, kind, plan.since)
    return _launcher_records(aws, region, plan, kind=kind, searched=searched.get(kind, {}), named=named)


def _searched(
    aws: AwsSession, region: str, kind: JobKind, since: datetime | None
) -> dict[str, dict[str, Any]]:
    """Search's records of `kind` changed since `since`, by ARN."""
    found = sagemaker.search_jobs(aws=aws, region=region, kind=kind, modified_after=since)
    return {record[kind.arn_key]: record for record in found}


def _launcher_records(
    aws: AwsSession,
    region: str,
    plan: RegionPlan,
    *,
    kind: JobKind,
    searched: dict[str, dict[str, Any]],
    named: set[str],
) -> list[dict[str, Any]]:
    """The launchers (e.g. tuning jobs) to store: those Search returned that the history lacks or that
    changed, and, whole from Describe, those that children name (`named`: ARNs) but neither Search nor the
    history has (its index lags)."""
    unknown = sorted(
        {arn.rsplit("/", 1)[-1] for arn in named if arn not in searched and arn not in plan.known}
    )
    fetched = [
        record for arn, record in searched.items() if arn not in plan.known or _changed(record, plan.since)
    ]
    return fetched + sagemaker.describe_jobs(aws=aws, region=region, kind=kind, names=unknown)


def _changed(summary: dict[str, Any], since: datetime | None) -> bool:
    modified = summary.get("LastModifiedTime")
    return since is None or modified is None or modified > since


def _summaries(
    aws: AwsSession, region: str, kind: JobKind, since: datetime | None
) -> dict[str, dict[str, Any]]:
    summaries = sagemaker.list_jobs(aws=aws, region=region, kind=kind, modified_after=since)
    return {summary[kind.arn_key]: summary for summary in summaries}
