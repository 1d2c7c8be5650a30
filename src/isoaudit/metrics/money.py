"""Compute hours and spend of each job (docs/metrics.md, "Money").

compute hours = (billable seconds + warm-pool retained seconds) x instances / 3600; spend = the same seconds
/ 3600 x the sum over the job's instance types of count x hourly rate. Training jobs bill
BillableTimeInSeconds (net of Spot interruptions), processing jobs end - start; a tuning job is a launcher
and costs nothing of its own (its training jobs do). A job still running has neither yet; a job whose
rate is unknown has compute hours but no spend: it is unpriced, never $0.

The rate is worked out once per distinct (region, instance groups, use), a few hundred at most, and spread
to the jobs by integer codes: millions of jobs cost a few whole-array operations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from isoaudit.metrics.columns import codes
from isoaudit.schema import PRICES, empty_frame

_SECONDS_PER_HOUR = 3600.0
PRICED_KINDS = ("training", "processing")


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
    # One key per distinct place and cluster shape; its cost per hour of the whole cluster.
    place = (
        jobs["region"].astype(str) + "\t" + jobs["job_kind"].astype(str) + "\t" + jobs["instance_groups_json"]
    )
    found, distinct = codes(place)
    per_hour = np.array([*(_cluster_rate(key, rates) for key in distinct), np.nan], dtype=float)
    return hours_each * count, hours_each * per_hour[found]


def _cluster_rate(key: str, rates: Rates) -> float:
    """USD per hour of one cluster shape: each instance type at its own rate; NaN if any is unknown."""
    region, usage, groups_json = key.split("\t", 2)
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


# Sums per (week, scope value) from which the money measures are derived (see `finish_money`).
_SUMS = ("compute_hours", "spend_usd", "exposed_spend_usd", "compliant_spend", "dependency_failure_spend_usd",
         "unpriced_jobs", "priced_jobs")  # fmt: skip
MONEY_MEASURES = ("compute_hours", "spend_usd", "exposed_spend_usd", "isolated_spend_share",
                  "dependency_failure_spend_usd", "unpriced_jobs")  # fmt: skip
DEPENDENCY_CLASSES = ("missing_dependency", "network_blocked")


def money_weights(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per run (JOB_FACTS rows, tuning jobs left out): its contribution to each of _SUMS."""
    hours = runs["compute_hours"].to_numpy(dtype=float, na_value=np.nan)
    spend = runs["spend_usd"].to_numpy(dtype=float, na_value=np.nan)
    priced = ~np.isnan(spend)
    spent = np.where(priced, spend, 0.0)
    compliant = runs["compliant"].to_numpy(dtype=bool)
    dependency = runs["failure_class"].isin(DEPENDENCY_CLASSES).to_numpy(dtype=bool)
    return {
        "compute_hours": np.nan_to_num(hours),
        "spend_usd": spent,
        "exposed_spend_usd": np.where(compliant, 0.0, spent),
        "compliant_spend": np.where(compliant, spent, 0.0),
        "dependency_failure_spend_usd": np.where(dependency, spent, 0.0),
        "unpriced_jobs": (~np.isnan(hours) & ~priced).astype(float),
        "priced_jobs": priced.astype(float),
    }


def money_sums(
    weights: dict[str, np.ndarray], *, value: np.ndarray | None, labels: list[str], week: np.ndarray,
    weeks: list[str],
) -> pd.DataFrame:  # fmt: skip
    """_SUMS per (week, scope value): `value` the runs' codes in `labels` (None: one value, the org),
    `week` their position in `weeks` (-1: another week). One bincount per sum."""
    inside = week >= 0
    key = week[inside] if value is None else value[inside].astype(np.int64) * len(weeks) + week[inside]
    bins = len(labels) * len(weeks)
    found = np.bincount(key, minlength=bins) > 0
    sums = {name: np.bincount(key, weights=weights[name][inside], minlength=bins)[found] for name in _SUMS}
    value_, week_ = np.divmod(np.flatnonzero(found), len(weeks))
    index = pd.MultiIndex.from_arrays(
        [np.asarray(weeks, dtype=object)[week_], np.asarray(labels, dtype=object)[value_]]
    )
    return pd.DataFrame(sums, index=index)


def finish_money(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The money measures from the sums; a scope whose runs are all unpriced has no spend (NaN), not $0."""
    priced = table["priced_jobs"].fillna(0).to_numpy(dtype=float) > 0
    spend = table["spend_usd"].fillna(0).to_numpy(dtype=float)

    def money(column: str) -> np.ndarray:
        unpriced_only = ~priced & (table["unpriced_jobs"].fillna(0).to_numpy(dtype=float) > 0)
        return np.where(unpriced_only, np.nan, table[column].fillna(0).to_numpy(dtype=float))

    return {
        "compute_hours": table["compute_hours"].fillna(0).to_numpy(dtype=float),
        "spend_usd": money("spend_usd"),
        "exposed_spend_usd": money("exposed_spend_usd"),
        "isolated_spend_share": np.divide(
            100 * table["compliant_spend"].fillna(0).to_numpy(dtype=float),
            spend,
            out=np.full(len(spend), np.nan),
            where=spend > 0,
        ),
        "dependency_failure_spend_usd": money("dependency_failure_spend_usd"),
        "unpriced_jobs": table["unpriced_jobs"].fillna(0).to_numpy(dtype=np.int64),
    }
