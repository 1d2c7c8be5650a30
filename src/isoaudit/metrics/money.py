"""Compute hours and spend of each job (docs/metrics.md, "Money").

compute hours = (billable seconds + warm-pool retained seconds) x instances / 3600; spend = the same seconds
/ 3600 x the sum over the job's instance types of count x hourly rate. Training jobs bill
BillableTimeInSeconds (net of Spot interruptions), processing jobs end - start; a tuning job is a launcher
and costs nothing of its own (its training jobs do). A job still running has neither yet; a job whose
rate is unknown has compute hours but no spend: it is unpriced, never $0.

The rate is worked out once per distinct (region, instance groups, use), a few hundred at most, and spread
to the jobs by integer codes: millions of jobs cost a few whole-array operations. The weekly money
measures (sums of these per scope and week) are declared in isoaudit.metrics.measures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from isoaudit.job_kinds import run_kinds
from isoaudit.metrics.columns import codes
from isoaudit.schema import PRICES, empty_frame

_SECONDS_PER_HOUR = 3600.0
PRICED_KINDS = run_kinds()  # a launcher (tuning job) costs nothing of its own


@dataclass(frozen=True)
class Rates:
    """USD per instance-hour: list prices by (region, instance type, use), overridden by negotiated rates,
    which apply in every region and to every use of their instance type."""

    listed: dict[tuple[str, str, str], float]
    negotiated: dict[str, float]

    @classmethod
    def from_prices(cls, prices: pd.DataFrame | None, negotiated: dict[str, float]) -> Rates:
        table = (prices if prices is not None else empty_frame(PRICES)).dropna(subset=["usd_per_hour"])
        listed = {
            (region, instance_type, usage): float(rate)
            for region, instance_type, usage, rate in table[
                ["region", "instance_type", "usage", "usd_per_hour"]
            ].itertuples(index=False)
        }
        return cls(listed=listed, negotiated=dict(negotiated))

    def of(self, region: str, instance_type: str, usage: str) -> float | None:
        """The rate, None when unknown: the job is then unpriced, never $0."""
        return self.negotiated.get(instance_type, self.listed.get((region, instance_type, usage)))


def job_money(jobs: pd.DataFrame, rates: Rates) -> tuple[np.ndarray, np.ndarray]:
    """(compute_hours, spend_usd) per row of `jobs` (JOBS columns), NaN where unknown."""
    runs = jobs["job_kind"].isin(PRICED_KINDS).to_numpy(dtype=bool)
    billable = pd.to_numeric(jobs["billable_seconds"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    warm = pd.to_numeric(jobs["warm_pool_seconds"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    hours_each = (billable + np.nan_to_num(warm)) / _SECONDS_PER_HOUR
    hours_each[~runs] = np.nan
    count = pd.to_numeric(jobs["instance_count"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # One code per distinct place and cluster shape (from the three columns' codes: no per-job text; free
    # for the categoricals job_facts passes); its cost per hour of the whole cluster. A job missing any of
    # the three is unpriced.
    levels = [codes(jobs[column]) for column in ("region", "job_kind", "instance_groups_json")]
    shape = [len(distinct) + 1 for _, distinct in levels]
    # np.ravel_multi_index of the codes + 1 (-1 is missing), computed in place in the first codes (fresh).
    place = levels[0][0]
    place += 1
    for (level, _), size in zip(levels[1:], shape[1:], strict=True):
        place *= size
        place += level
        place += 1
    found, distinct = _numbered(place, size=int(np.prod(shape)))
    per_hour = np.array(
        [
            _cluster_rate(*(levels[n][1][at - 1] if at else None for n, at in enumerate(key)), rates=rates)
            for key in zip(*np.unravel_index(distinct, shape), strict=True)
        ],
        dtype=float,
    )
    return hours_each * count, hours_each * per_hour[found]


def _numbered(keys: np.ndarray, *, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each key's position among the distinct keys (integers in [0, size)), and the distinct keys. Places
    are few (regions x uses x cluster shapes): a table of every possible key, marked, costs a few passes
    over the jobs where hashing one integer per job costs several times more; hashed when the table would
    be larger than the jobs."""
    if size > len(keys):
        found, distinct = pd.factorize(keys)
        return found, np.asarray(distinct)
    present = np.zeros(size, dtype=bool)
    present[keys] = True
    number = np.cumsum(present, dtype=np.int64)
    number -= 1
    return number[keys], np.flatnonzero(present)


def _cluster_rate(region: str | None, usage: str | None, groups_json: str | None, *, rates: Rates) -> float:
    """USD per hour of one cluster shape: each instance type at its own rate; NaN if any is unknown (or a
    part of the place is missing)."""
    if region is None or usage is None or groups_json is None:
        return np.nan
    groups = json.loads(groups_json or "{}")
    if usage not in PRICED_KINDS or not groups:
        return np.nan
    total = 0.0
    for instance_type, count in groups.items():
        rate = rates.of(region, instance_type, usage)
        if rate is None:
            return np.nan
        total += rate * count
    return total
