"""Hundreds of thousands of training jobs in one account-region, held as columns instead of moto objects.

moto keeps a training job as a Python object of a few kilobytes and rebuilds every record of a listing on
each call: 462,178 jobs (the largest region reported by scanner users) would take gigabytes and minutes per
page. A bulk region keeps what differs between its jobs (creation time, isolation) in two arrays, 9 bytes a
job, and renders a record only when a page holds it, from one template record that moto produced for a job
created through the API (so every field is the shape moto, and AWS, answer). Its jobs are all `Completed`,
ran for `DURATION_SECONDS`, and were last modified when they ended.

The emulator serves Search (`Resource="TrainingJob"`) and ListTrainingJobs of a bulk region from here, with
the same time filters, sort orders and pages as any other listing; the rest of the API does not see these
jobs (the collector needs nothing else of them: Search gives them whole).
"""

from __future__ import annotations

import bisect
import copy
import itertools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DURATION_SECONDS = 3_600
_OFFSETS = {"CreationTime": 0, "TrainingStartTime": 0, "TrainingEndTime": DURATION_SECONDS}
_OFFSETS["LastModifiedTime"] = DURATION_SECONDS


@dataclass
class BulkRegion:
    """The jobs `<prefix>-<n>` of one account-region, created at `created[n]` (epoch seconds, ascending)."""

    account: str
    region: str
    prefix: str
    created: array  # 'q': epoch seconds, ascending
    isolated: bytearray
    template: dict[str, Any]  # a training job's record as Search answers it (JSON form, times as epochs)

    def name(self, index: int) -> str:
        return f"{self.prefix}-{index:07d}"

    def record(self, index: int) -> dict[str, Any]:
        created = float(self.created[index])
        name = self.name(index)
        record = copy.copy(self.template)
        record.update(
            TrainingJobName=name,
            TrainingJobArn=f"arn:aws:sagemaker:{self.region}:{self.account}:training-job/{name}",
            CreationTime=created,
            TrainingStartTime=created,
            TrainingEndTime=created + DURATION_SECONDS,
            LastModifiedTime=created + DURATION_SECONDS,
            TrainingJobStatus="Completed",
            EnableNetworkIsolation=bool(self.isolated[index]),
        )
        return record

    def summary(self, index: int) -> dict[str, Any]:
        record = self.record(index)
        keys = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime")
        return {**{key: record[key] for key in keys}, "TrainingJobStatus": "Completed"}

    def select(self, conditions: Sequence[tuple[str, str, float]]) -> tuple[int, int]:
        """The index range of the jobs meeting every (field, operator, epoch seconds) time condition."""
        low, high = 0, len(self.created)
        for name, operator, value in conditions:
            if name not in _OFFSETS:
                raise ValueError(f"emulator: a bulk region cannot filter on {name}")
            bound = value - _OFFSETS[name]
            if operator == "GreaterThan":
                low = max(low, bisect.bisect_right(self.created, bound))
            elif operator == "GreaterThanOrEqualTo":
                low = max(low, bisect.bisect_left(self.created, bound))
            elif operator == "LessThan":
                high = min(high, bisect.bisect_left(self.created, bound))
            else:  # LessThanOrEqualTo
                high = min(high, bisect.bisect_right(self.created, bound))
        return low, max(low, high)


class BulkListing:
    """A filtered, sorted listing of a bulk region, rendered a page at a time (a server-side cursor)."""

    def __init__(self, region: BulkRegion, *, low: int, high: int, descending: bool, search: bool) -> None:
        self._region, self._low, self._high = region, low, high
        self._descending, self._search = descending, search

    def __len__(self) -> int:
        return self._high - self._low

    def __getitem__(self, cut: slice) -> list[dict[str, Any]]:
        start, stop, _ = cut.indices(len(self))
        if self._descending:
            indexes = range(self._high - 1 - start, self._high - 1 - stop, -1)
        else:
            indexes = range(self._low + start, self._low + stop)
        if self._search:
            return [{"TrainingJob": self._region.record(index)} for index in indexes]
        return [self._region.summary(index) for index in indexes]


_REGIONS: dict[tuple[str, str], BulkRegion] = {}


def seed_bulk_region(
    *,
    account: str,
    region: str,
    prefix: str,
    created: Sequence[datetime],
    isolated: Sequence[bool],
    template: dict[str, Any],
) -> BulkRegion:
    """Hold these jobs (creation times ascending) in `account`'s `region`; `template` is one job's record."""
    times = array("q", (int(moment.astimezone(UTC).timestamp()) for moment in created))
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        raise ValueError("creation times must be ascending")
    bulk = BulkRegion(account, region, prefix, times, bytearray(map(bool, isolated)), template)
    _REGIONS[(account, region)] = bulk
    return bulk


def bulk_region(account: str, region: str) -> BulkRegion | None:
    return _REGIONS.get((account, region))
