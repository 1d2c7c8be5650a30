"""The weekly counts of runs: the COUNT and SUM measures (isoaudit.metrics.measures) and the stale accounts of
each week, per scope value, for every scope. They read the runs and the audits only, never the episodes, so
kpi_tables counts them on a worker thread while the episodes are found.

Jobs are counted with one integer key per row and scope (week, scope value and one of the job classes over
isoaudit.metrics.predicates' DIMENSIONS) and a bincount, so millions of jobs cost a few whole-array
operations; everything after works on the small counted table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from isoaudit.metrics.columns import codes, label_codes
from isoaudit.metrics.measures import Kind, of_kind
from isoaudit.metrics.predicates import DIMENSIONS, Dimension, class_matrix

# The JOB_FACTS column of each scope ("org": one value for every run).
SCOPE_COLUMNS = {"org": "org", "team": "team", "account": "account_id", "environment": "environment",
                 "job_kind": "job_kind"}  # fmt: skip
_DENSE_BINS = 1 << 23


@dataclass(frozen=True)
class WeeklyCounts:
    """Per scope column (the values of SCOPE_COLUMNS), indexed by (week, scope value): `measures`, the COUNT
    and SUM measures; `stale`, the stale accounts (None when the audits are unknown)."""

    measures: dict[str, pd.DataFrame]
    stale: dict[str, pd.Series] | None


def weekly_counts(
    runs: pd.DataFrame, *, weeks: Sequence[str], audits: pd.DataFrame | None = None
) -> WeeklyCounts:
    """The weekly counts of `weeks` (ISO weeks, sorted, distinct) over `runs`: job_facts' rows that are runs
    (runs_only), with HISTORY_COLUMNS; `audits` is account_audits(coverage) of the same weeks."""
    counted = _Counted.of(runs, list(weeks))
    return WeeklyCounts(
        measures={column: counted.per_scope(runs, column=column) for column in SCOPE_COLUMNS.values()},
        stale=_stale(audits, runs) if audits is not None and of_kind(Kind.STALE_ACCOUNTS) else None,
    )


@dataclass(frozen=True)
class _Counted:
    """The COUNT and SUM measures' inputs, shared by every scope, of the runs created in `weeks` (`rows`,
    their positions: no other run counts, so no scope passes over them): each one's week and class as one
    integer (week * classes + class, where week is 1 + the position of its week in `weeks` and class its
    code over the DIMENSIONS), the 0/1 matrix of the predicates of each class, and the amounts summed."""

    rows: np.ndarray
    week_class: np.ndarray
    weeks: list[str]
    matrix: np.ndarray  # classes x predicates
    predicates: list[str]
    amounts: dict[str, np.ndarray]  # per column summed (float64): one weighted count each, not per measure

    @classmethod
    def of(cls, facts: pd.DataFrame, weeks: list[str]) -> _Counted:
        measures = [*of_kind(Kind.COUNT), *of_kind(Kind.SUM)]
        predicates = list(dict.fromkeys(str(measure.predicate) for measure in measures))
        week = _positions(facts["week"], weeks, missing=-1)
        rows = np.flatnonzero(week >= 0)
        # Mixed radix over the dimensions, the first varying slowest, as job_classes() lists the classes;
        # computed in place in the first dimension's codes (a fresh array).
        job_class = _dimension_codes(facts, DIMENSIONS[0], rows)
        for dimension in DIMENSIONS[1:]:
            job_class *= len(dimension.labels)
            job_class += _dimension_codes(facts, dimension, rows)
        matrix = class_matrix(predicates)
        week = week[rows]
        week += 1
        week *= len(matrix)
        week += job_class
        amounts = {name: facts[name].iloc[rows].to_numpy(dtype=np.float64, na_value=0.0)
                   for name in dict.fromkeys(str(sum_.amount) for sum_ in of_kind(Kind.SUM))}  # fmt: skip
        return cls(rows, week_class=week, weeks=weeks, matrix=matrix, predicates=predicates, amounts=amounts)

    def per_scope(self, facts: pd.DataFrame, *, column: str) -> pd.DataFrame:
        """The COUNT and SUM measures per (week, scope value)."""
        value, labels = label_codes(facts[column].iloc[self.rows]) if column != "org" else (None, ["org"])
        classes = len(self.matrix)
        per_value = (len(self.weeks) + 1) * classes
        bins = len(labels) * per_value
        # value * per_value + week_class, computed in place in the value's codes (a fresh array): the week
        # and class part is shared by every scope, so each scope costs two passes over the jobs and a
        # bincount.
        key = self.week_class
        if value is not None:
            key = value
            key *= per_value
            key += self.week_class
        if bins <= _DENSE_BINS:
            counts = np.bincount(key, minlength=bins)
            distinct = np.flatnonzero(counts)
            counts = counts[distinct]
            sums = {name: np.bincount(key, amount, bins)[distinct] for name, amount in self.amounts.items()}
        else:
            ids, distinct = pd.factorize(key)
            distinct, counts = np.asarray(distinct), np.bincount(ids)
            sums = {name: np.bincount(ids, amount) for name, amount in self.amounts.items()}
        value_, week_class_ = np.divmod(distinct, per_value)
        week_, job_class_ = np.divmod(week_class_, classes)
        matches = self.matrix[job_class_]  # per (value, week, class): 0/1 per predicate
        column_of = {name: at for at, name in enumerate(self.predicates)}
        measures = {
            measure.name: counts * matches[:, column_of[str(measure.predicate)]]
            for measure in of_kind(Kind.COUNT)
        }
        measures |= {
            measure.name: sums[str(measure.amount)] * matches[:, column_of[str(measure.predicate)]]
            for measure in of_kind(Kind.SUM)
        }
        index = pd.MultiIndex.from_arrays(
            [
                np.asarray(self.weeks, dtype=object)[week_ - 1],
                np.asarray(labels, dtype=object)[value_],
            ]
        )
        return pd.DataFrame(measures, index=index).groupby(level=[0, 1]).sum()


def _dimension_codes(facts: pd.DataFrame, dimension: Dimension, rows: np.ndarray) -> np.ndarray:
    """The position in the dimension's labels of each run at `rows`, from its column; computed once per
    distinct value."""
    if dimension.positions is not None:
        return dimension.positions(facts)[rows]
    found, distinct = codes(facts[dimension.column])
    index = {label: position for position, label in enumerate(dimension.labels)}
    table = [index.get(dimension.label_of(str(value)), 0) for value in distinct]
    return np.array([*table, 0], dtype=np.int32)[found[rows]]


def _positions(values: pd.Series, labels: Sequence[str], *, missing: int = 0) -> np.ndarray:
    """Position of each value in `labels` (`missing` when absent), computed once per distinct value; 32
    bits, as the per-job arrays built from them (labels are few)."""
    found, distinct = codes(values)
    index = {label: position for position, label in enumerate(labels)}
    table = np.array([*(index.get(str(value), missing) for value in distinct), missing], dtype=np.int32)
    return table[found]


def _stale(audits: pd.DataFrame, facts: pd.DataFrame) -> dict[str, pd.Series]:
    """Per scope column, per week and scope value: stale accounts; for teams, environments and kinds,
    those of the stale accounts where the value had jobs created by the end of that week (its last known
    state)."""
    stale = audits.loc[audits["stale"], ["week", "account_id"]].assign(org="org")
    jobs = _StaleJobs.of(facts, accounts=stale["account_id"].unique())
    counts = {}
    for column in SCOPE_COLUMNS.values():
        rows = stale
        if column not in ("org", "account_id"):
            rows = rows.merge(jobs.first_weeks(facts[column]), on="account_id")
            rows = rows.loc[rows["first_week"] <= rows["week"]]
        counts[column] = rows.groupby(["week", column]).size().rename("stale_accounts")
    return counts


@dataclass(frozen=True)
class _StaleJobs:
    """The jobs of some accounts (those with an account and a week), found once for every scope: integer
    codes, not the jobs' text, since a few accounts can have millions of rows."""

    rows: np.ndarray  # positions in facts
    account: np.ndarray  # code of each row's account in account_ids
    account_ids: np.ndarray  # text
    week_rank: np.ndarray  # position of each row's week in `weeks`
    weeks: np.ndarray  # text, in time order

    @classmethod
    def of(cls, facts: pd.DataFrame, *, accounts: np.ndarray) -> _StaleJobs:
        (account, account_ids), (week, weeks) = (codes(facts[name]) for name in ("account_id", "week"))
        wanted = np.append(account_ids.isin(accounts), False)[account]  # code -1 (missing): not wanted
        rows = np.flatnonzero(wanted & (week >= 0))
        week_texts = np.asarray(weeks.astype(str), dtype=object)
        chronological = np.argsort(week_texts, kind="stable")  # "YYYY-Www" texts sort in time order
        rank = np.empty(len(weeks), dtype=np.int64)
        rank[chronological] = np.arange(len(weeks))
        return cls(
            rows=rows,
            account=account[rows],
            account_ids=np.asarray(account_ids.astype(str), dtype=object),
            week_rank=rank[week[rows]],
            weeks=week_texts[chronological],
        )

    def first_weeks(self, values: pd.Series) -> pd.DataFrame:
        """Per (value, account id), as text: the first week with a job (rows without a value do not
        count)."""
        column = str(values.name)
        value, distinct = codes(values.iloc[self.rows])
        known = value >= 0
        groups = pd.DataFrame(
            {"value": value[known], "account": self.account[known], "week": self.week_rank[known]}
        )
        first = groups.groupby(["value", "account"], sort=False)["week"].min()
        return pd.DataFrame(
            {
                column: pd.array(distinct.astype(str)[first.index.get_level_values(0)], dtype=str),
                "account_id": pd.array(self.account_ids[first.index.get_level_values(1)], dtype=str),
                "first_week": pd.array(self.weeks[first.to_numpy()], dtype=str),
            }
        )
