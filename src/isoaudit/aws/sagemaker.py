"""SageMaker: the jobs of one account-region, in as few calls as AWS allows, in a short chain of calls.

`Search` returns up to 100 whole training or tuning job records (tags included) per call; `List*` is the
ground truth of what exists; `Describe*` + `ListTags` (two calls a job) is kept for what neither gives whole.
A long listing is read as slices of creation time side by side (`_read_sliced`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.client import BaseClient

from isoaudit.aws.session import AwsSession
from isoaudit.errors import expect
from isoaudit.job_kinds import TRAINING, JobKind

PAGE_SIZE = 100


# A listing of more than two pages is read as slices of creation time side by side, so that it takes the
# time of a few pages, not of thousands (462,178 jobs are 4,622 pages one after the other). The slice count
# aims at about PAGES_PER_SLICE pages each, at most MAX_SLICES, which also bounds the calls in flight to
# one account-region's API per listing.
PAGES_PER_SLICE = 4
MAX_SLICES = 8
# The List operations' creation-time filters are strict ("after", "before"): windows are widened by this
# much so that a job on a window's edge is never left out (the overlap is merged by ARN).
_EDGE = timedelta(seconds=1)


@dataclass(frozen=True)
class CreationWindow:
    """Jobs created from `start` to `end`, both included; None leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None


EVERY_CREATION = CreationWindow()
Page = tuple[list[dict[str, Any]], str | None]


class _Pages(Protocol):
    """One page of a listing of the jobs created in `window`, sorted by creation time in `order`, read with
    `client`."""

    def __call__(
        self, *, client: BaseClient, window: CreationWindow, order: str, token: str | None
    ) -> Page: ...


def prepare(*, aws: AwsSession, region: str) -> None:
    """Build the session's SageMaker client of `region` now, which the reads below would build on first
    use (a caller builds it before it waits for its turn to read, see `isoaudit.collect`)."""
    aws.client("sagemaker", region=region)


def search_jobs(
    *,
    aws: AwsSession,
    region: str,
    kind: JobKind = TRAINING,
    modified_after: datetime | None = None,
    keep: Callable[[list[dict[str, Any]]], list[Any]] | None = None,
) -> list[Any]:
    """Whole records of `kind` (training or tuning jobs), tags included, 100 per call; only those changed
    after `modified_after`. `keep` turns each page of records into what is kept of each, as the page
    arrives (a long listing's records are never all held at once)."""
    if kind.search_resource is None:
        raise ValueError(f"{kind.name} jobs cannot be searched")

    def pages(*, client: BaseClient, window: CreationWindow, order: str, token: str | None) -> Page:
        filters = []
        if modified_after is not None:
            filters.append(_filter("LastModifiedTime", "GreaterThan", modified_after))
        if window.start is not None:
            filters.append(_filter("CreationTime", "GreaterThanOrEqualTo", window.start))
        if window.end is not None:
            filters.append(_filter("CreationTime", "LessThanOrEqualTo", window.end))
        request: dict[str, Any] = {
            "Resource": kind.search_resource,
            "MaxResults": PAGE_SIZE,
            "SortBy": "CreationTime",
            "SortOrder": order,
        }
        if filters:
            request["SearchExpression"] = {"Filters": filters}
        if token:
            request["NextToken"] = token
        page = expect(client.search(**request), "Results", operation="SageMaker Search")
        results = page["Results"]
        for result in results:
            expect(result, kind.search_resource, operation="SageMaker Search result")
        return [result[kind.search_resource] for result in results], page.get("NextToken")

    return _read_sliced(
        pages, aws=aws, region=region, operation=f"search {kind.name}", arn_key=kind.arn_key, keep=keep
    )


def list_jobs(
    *, aws: AwsSession, region: str, kind: JobKind, modified_after: datetime | None = None
) -> list[dict[str, Any]]:
    """Summaries (name, ARN, status, times) of the jobs of `kind`, 100 per call."""

    def pages(*, client: BaseClient, window: CreationWindow, order: str, token: str | None) -> Page:
        request: dict[str, Any] = {"MaxResults": PAGE_SIZE, "SortBy": "CreationTime", "SortOrder": order}
        if modified_after is not None:
            request["LastModifiedTimeAfter"] = modified_after
        if window.start is not None:
            request["CreationTimeAfter"] = window.start - _EDGE
        if window.end is not None:
            request["CreationTimeBefore"] = window.end + _EDGE
        if token:
            request["NextToken"] = token
        page = expect(
            getattr(client, kind.list_operation)(**request), kind.summaries_key, operation=kind.list_operation
        )
        return page[kind.summaries_key], page.get("NextToken")

    return _read_sliced(pages, aws=aws, region=region, operation=kind.list_operation, arn_key=kind.arn_key)


def _filter(name: str, operator: str, moment: datetime) -> dict[str, str]:
    return {"Name": name, "Operator": operator, "Value": moment.isoformat()}


def _read_sliced(
    pages: _Pages,
    *,
    aws: AwsSession,
    region: str,
    operation: str,
    arn_key: str,
    keep: Callable[[list[dict[str, Any]]], list[Any]] | None = None,
) -> list[Any]:
    """Every job of a listing, in as short a chain of calls as its size allows.

    The newest page comes first; if there is more, the oldest page; if there is still more, the creation
    times between the two pages are cut into slices read side by side, as many as the density of the two
    pages predicts. Each slice is a chain of calls of its own, on a client (a rate limiter) of its own.
    """
    kept = keep or (lambda records: records)

    def kept_pages(*, client: BaseClient, window: CreationWindow, order: str, token: str | None) -> Page:
        records, following = pages(client=client, window=window, order=order, token=token)
        arns = [record[arn_key] for record in records]
        return list(zip(arns, kept(records), strict=True)), following

    client = aws.client("sagemaker", region=region)
    newest, token = pages(client=client, window=EVERY_CREATION, order="Descending", token=None)
    if not token:
        return kept(newest)
    oldest, more = pages(client=client, window=EVERY_CREATION, order="Ascending", token=None)
    ends = [*oldest, *newest]
    found = dict(zip([record[arn_key] for record in ends], kept(ends), strict=True))
    if not more:  # the oldest page was the last one: the listing is whole
        return list(found.values())
    if not _ends_apart(newest, oldest, arn_key=arn_key):
        # The end pages prove nothing about what lies between them (emptied by a filter applied after the
        # cut, out of the requested order, or overlapping while more remains): read on, token after token,
        # to the last page. Only a listing read to its end may show that a job is gone.
        found.update(_read_window(kept_pages, client, EVERY_CREATION, token=token))
        return list(found.values())
    windows = slice_windows(
        newest=[record["CreationTime"] for record in newest],
        oldest=[record["CreationTime"] for record in oldest],
    )
    del newest, oldest
    lanes = [aws.client("sagemaker", region=region, lane=f"{operation} {n}") for n in range(len(windows))]
    with ThreadPoolExecutor(max_workers=len(windows), thread_name_prefix=f"{operation}-slice") as pool:
        for pairs in pool.map(lambda lane, window: _read_window(kept_pages, lane, window), lanes, windows):
            found.update(pairs)
    return list(found.values())


def _ends_apart(newest: Sequence[dict[str, Any]], oldest: Sequence[dict[str, Any]], *, arn_key: str) -> bool:
    """Whether a listing's newest and oldest pages, both followed by more, are what they claim: each sorted
    as requested, sharing no job, the oldest page entirely older than the newest. Only then are the jobs
    left to read those created between them (a server that ignores SortOrder fails this)."""
    if not newest or not oldest or {record[arn_key] for record in newest} & {r[arn_key] for r in oldest}:
        return False
    new_times = [record["CreationTime"] for record in newest]
    old_times = [record["CreationTime"] for record in oldest]
    descending = all(a >= b for a, b in itertools.pairwise(new_times))
    ascending = all(a <= b for a, b in itertools.pairwise(old_times))
    return descending and ascending and max(old_times) <= min(new_times)


def slice_windows(*, newest: Sequence[datetime], oldest: Sequence[datetime]) -> list[CreationWindow]:
    """The windows of creation time left to read between a listing's newest and oldest pages (their
    creation times), as many as the density of those pages predicts; none when the pages overlap."""
    low, high = max(oldest), min(newest)
    if low >= high:
        return [] if low > high else [CreationWindow(low, high)]
    sampled = (max(newest) - high) + (low - min(oldest))
    if sampled <= timedelta(0):
        count = MAX_SLICES
    else:
        expected = (len(newest) + len(oldest)) * ((high - low) / sampled)
        count = max(1, min(MAX_SLICES, math.ceil(expected / (PAGES_PER_SLICE * PAGE_SIZE))))
    # Equal lengths of time; neighbours share their edge.
    edges = [low + (high - low) * step / count for step in range(count)] + [high]
    return [CreationWindow(start, end) for start, end in itertools.pairwise(edges)]


def _read_window(
    pages: _Pages, client: BaseClient, window: CreationWindow, *, token: str | None = None
) -> list[Any]:
    """Every page of `window`, from `token` (the first page when None)."""
    records: list[Any] = []
    while True:
        found, token = pages(client=client, window=window, order="Descending", token=token)
        records.extend(found)
        if not token:
            return records


def describe_jobs(*, aws: AwsSession, region: str, kind: JobKind, names: list[str]) -> list[dict[str, Any]]:
    """Whole records of the named jobs, with their tags: two calls a job, for what Search cannot give."""
    client = aws.client("sagemaker", region=region)
    return [_describe(client, kind, name) for name in names]


def _describe(client: BaseClient, kind: JobKind, name: str) -> dict[str, Any]:
    record = dict(
        expect(
            getattr(client, kind.describe_operation)(**{kind.name_key: name}),
            kind.arn_key,
            "CreationTime",
            operation=kind.describe_operation,
        )
    )
    record.pop("ResponseMetadata", None)
    tags: list[dict[str, str]] = []
    request: dict[str, Any] = {"ResourceArn": record[kind.arn_key]}
    while True:
        page = expect(client.list_tags(**request), "Tags", operation="list_tags")
        tags.extend(page["Tags"])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    record["Tags"] = tags
    return record
