"""How the jobs of one account-region are read: every kind in isoaudit.job_kinds.KINDS, as its `reading`
says, in as few calls as the plan allows (isoaudit.collect turns the records into rows and coverage)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from isoaudit.aws import sagemaker
from isoaudit.aws.session import AwsSession
from isoaudit.job_kinds import KINDS, JobKind, Reading

if TYPE_CHECKING:
    from isoaudit.collect import RegionPlan


@dataclass(frozen=True)
class RegionRead:
    records: dict[JobKind, list[dict[str, Any]]]  # fetched: new or changed jobs, by kind
    listed: frozenset[str]  # ARNs of a full listing, fetched or not


def read_region(aws: AwsSession, region: str, plan: RegionPlan) -> RegionRead:
    """The records of the jobs changed since the plan's watermark (of every job when it has none), of every
    kind in KINDS, each read as its `reading` says (see isoaudit.job_kinds.Reading)."""
    since = plan.since
    searched, listed = _search_and_list(aws, region, plan)

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
            found = searched[kind]
            unsearched = {arn: summary for arn, summary in listed.get(kind, {}).items() if arn not in found}
            described = sagemaker.describe_jobs(
                aws=aws, region=region, kind=kind, names=to_fetch(unsearched, kind)
            )
            records[kind] = list((found | {record[kind.arn_key]: record for record in described}).values())
        elif kind.reading is Reading.LIST_THEN_DESCRIBE:
            records[kind] = sagemaker.describe_jobs(
                aws=aws, region=region, kind=kind, names=to_fetch(listed[kind], kind)
            )
    for kind in KINDS:
        if kind.reading is Reading.THROUGH_CHILDREN:
            children = [record for found in records.values() for record in found]
            records[kind] = _launcher_records(
                aws, region, plan, kind=kind, searched=searched[kind], children=children
            )
    listed_arns = frozenset().union(
        *listed.values(), *(searched[kind] for kind in KINDS if kind.reading is Reading.THROUGH_CHILDREN)
    )
    return RegionRead(
        records={kind: records[kind] for kind in KINDS}, listed=listed_arns if plan.full else frozenset()
    )


def _search_and_list(
    aws: AwsSession, region: str, plan: RegionPlan
) -> tuple[dict[JobKind, dict[str, dict[str, Any]]], dict[JobKind, dict[str, dict[str, Any]]]]:
    """Side by side: the Search of each searchable kind and the listing of each kind listed on this plan,
    each by ARN."""
    full_since = None if plan.full else plan.since
    with ThreadPoolExecutor(max_workers=4) as pool:
        searches = {
            kind: pool.submit(
                sagemaker.search_jobs,
                aws=aws,
                region=region,
                kind=kind,
                modified_after=plan.since if kind.reading is Reading.SEARCH else full_since,
            )
            for kind in KINDS
            if kind.reading in (Reading.SEARCH, Reading.THROUGH_CHILDREN)
        }
        listings = {
            kind: pool.submit(
                _summaries, aws, region, kind, None if kind.reading is Reading.SEARCH else full_since
            )
            for kind in KINDS
            if kind.reading is Reading.LIST_THEN_DESCRIBE or (kind.reading is Reading.SEARCH and plan.full)
        }
        searched = {
            kind: {record[kind.arn_key]: record for record in found.result()}
            for kind, found in searches.items()
        }
        return searched, {kind: found.result() for kind, found in listings.items()}


def _launcher_records(
    aws: AwsSession,
    region: str,
    plan: RegionPlan,
    *,
    kind: JobKind,
    searched: dict[str, dict[str, Any]],
    children: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The launchers (e.g. tuning jobs) to store: those Search returned that the history lacks or that
    changed, and, whole from Describe, those that `children` records name but neither Search nor the
    history has (its index lags)."""
    key = str(kind.child_key)
    unknown = sorted(
        {
            record[key].rsplit("/", 1)[-1]
            for record in children
            if record.get(key) and record[key] not in searched and record[key] not in plan.known
        }
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
