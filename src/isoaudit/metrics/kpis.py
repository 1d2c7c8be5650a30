"""WEEKLY_KPIS: the KPIs of each ISO week for the org, each team, account, environment and job kind.

Every count is of runs (training and processing jobs; a tuning job counts through the training jobs it
launched) *created* in the week (stored history, whatever run collected them), so the team,
account, environment and job-kind rows of a week each add up to the org's. Episodes count for the scope of
the job that opened them. Jobs are counted with one integer key per row and scope (week, scope value and
one of 48 job classes: posture x violation x dependency failure x production) and a bincount, so millions
of jobs cost a few whole-array operations; everything after works on the small counted table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.core.groupby import SeriesGroupBy

from isoaudit.metrics.columns import NAT, as_text, codes
from isoaudit.metrics.coverage import account_audits
from isoaudit.metrics.episodes import HISTORY_COLUMNS, dormant_spans, every_episode_table, with_history
from isoaudit.metrics.measures import MEASURES, Kind, of_kind
from isoaudit.metrics.predicates import DIMENSIONS, Dimension, class_matrix, runs_only
from isoaudit.metrics.weeks import ONE_WEEK, week_start
from isoaudit.schema import KPI_SCOPES, WEEKLY_KPIS, conform

_SCOPE_COLUMNS = {"org": "org", "team": "team", "account": "account_id", "environment": "environment",
                  "job_kind": "job_kind"}  # fmt: skip
_HOUR_US = 3_600_000_000
_END_OF_TIME = np.iinfo(np.int64).max
_DENSE_BINS = 1 << 23
# CLOSED_EPISODES statistics, each one whole-array operation over the grouped hours to remediate.
_STATISTICS: dict[str, Callable[[SeriesGroupBy], pd.Series]] = {
    "count": lambda hours: hours.size(),
    "mean": lambda hours: hours.mean(),
    "median": lambda hours: hours.median(),
    "p90": lambda hours: hours.quantile(0.9),
}


def weekly_kpis(
    facts: pd.DataFrame,
    *,
    weeks: Sequence[str],
    dormant_days: int,
    coverage: pd.DataFrame | None = None,
    every_episode: pd.DataFrame | None = None,
    dormant: pd.DataFrame | None = None,
    audits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """WEEKLY_KPIS rows for `weeks` (any ISO weeks; sorted in the output): every stored measure of
    isoaudit.metrics.measures, per scope.

    `facts` is job_facts' output (HISTORY_COLUMNS are computed if absent). Episodes are derived from it
    with every job known: an episode is open at the end of a week when it opened before the week's end
    and closed at or after it; it is dormant there when the family's last run before the end is
    `dormant_days` or more before it. `coverage` gives stale_accounts (0 without it). One org row per
    week; other scopes have a row when the scope value has jobs, closed/open episodes or stale accounts
    in the week. `every_episode` is every_episode_table(facts), `dormant` dormant_spans(facts) and `audits`
    account_audits(coverage) of the same weeks, when the caller's earlier stages have them already.
    """
    selected = sorted(set(weeks))
    if not selected:
        raise ValueError("weeks: at least one ISO week is needed")
    starts = np.array([week_start(week).value // 1000 for week in selected], dtype=np.int64)
    ends = starts + ONE_WEEK.value // 1000
    if not set(HISTORY_COLUMNS) <= set(facts.columns):  # e.g. JOB_FACTS read back from the lake
        facts = with_history(facts)
    facts = runs_only(facts)  # a tuning job is counted through its training jobs only
    counted = _Counted.of(facts, selected)
    if every_episode is None:
        every_episode = every_episode_table(facts)
    episodes = every_episode.assign(org="org")
    if dormant is None:
        dormant = dormant_spans(facts, dormant_days=dormant_days)
    spans = _dormant_episodes(dormant, episodes)
    if audits is None and coverage is not None:
        audits = account_audits(coverage, weeks=selected)
    stale = _stale(audits, facts) if audits is not None and of_kind(Kind.STALE_ACCOUNTS) else None
    intervals = {"open": (episodes["opened"], episodes["closed"], episodes, False),
                 "dormant": (spans["dormant_from"], spans["dormant_until"], spans, True)}  # fmt: skip
    frames = [
        _scope_rows(
            scope, facts=facts, counted=counted, episodes=episodes, intervals=intervals, stale=stale,
            weeks=selected, starts=starts, ends=ends,
        )
        for scope in KPI_SCOPES
    ]  # fmt: skip
    result = pd.concat(frames, ignore_index=True)
    result["scope"] = pd.Categorical(result["scope"], categories=KPI_SCOPES)
    return conform(result.sort_values(["week", "scope", "scope_value"], ignore_index=True), WEEKLY_KPIS)


def _scope_rows(
    scope: str,
    *,
    facts: pd.DataFrame,
    counted: _Counted,
    episodes: pd.DataFrame,
    intervals: dict[str, tuple[pd.Series, pd.Series, pd.DataFrame, bool]],
    stale: dict[str, pd.Series] | None,
    weeks: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
) -> pd.DataFrame:
    """Every measure of one scope, one row per week and scope value."""
    column = _SCOPE_COLUMNS[scope]
    parts = [
        counted.per_scope(facts, column=column),
        _closed(episodes, column=column, weeks=weeks, starts=starts, ends=ends),
        *(
            _active(begin, until, table[column], weeks=weeks, ends=ends, name=measure.name,
                    from_inclusive=inclusive)
            for measure in of_kind(Kind.OPEN_EPISODES)
            for begin, until, table, inclusive in [intervals[str(measure.statistic)]]
        ),
    ]  # fmt: skip
    if stale is not None:
        parts.extend(stale[column].rename(measure.name) for measure in of_kind(Kind.STALE_ACCOUNTS))
    table = pd.concat(parts, axis=1)
    if scope == "org":
        table = table.reindex(pd.MultiIndex.from_product([weeks, ["org"]]))
    table.index = table.index.set_names(["week", "scope_value"])
    return _finish(table.reset_index(), scope=scope)


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
        value, labels = _labels(facts[column].iloc[self.rows]) if column != "org" else (None, ["org"])
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


def _closed(
    episodes: pd.DataFrame, *, column: str, weeks: list[str], starts: np.ndarray, ends: np.ndarray
) -> pd.DataFrame:
    """The CLOSED_EPISODES measures (count, mean, median or 90th percentile, linear, of the hours to
    remediate) of the episodes closed in each week."""
    closed = episodes["closed"].to_numpy()
    position = np.searchsorted(starts, closed, side="right") - 1
    inside = (closed != NAT) & (position >= 0) & (closed < ends[np.maximum(position, 0)])
    value, labels = _labels(episodes[column])
    rows = pd.DataFrame(
        {
            "week": position[inside],
            "value": value[inside],
            "hours": (closed[inside] - episodes["opened"].to_numpy()[inside]) / _HOUR_US,
        }
    )
    hours = rows.groupby(["week", "value"])["hours"]
    stats = pd.DataFrame(
        {
            measure.name: _STATISTICS[str(measure.statistic)](hours)
            for measure in of_kind(Kind.CLOSED_EPISODES)
        },
        index=hours.size().index,
    )
    week, value = (stats.index.get_level_values(level).to_numpy() for level in (0, 1))
    stats.index = pd.MultiIndex.from_arrays(
        [np.asarray(weeks, dtype=object)[week], np.asarray(labels, dtype=object)[value]]
    )
    return stats


def _active(
    begin: pd.Series,
    until: pd.Series,
    labels: pd.Series,
    *,
    weeks: list[str],
    ends: np.ndarray,
    name: str,
    from_inclusive: bool = False,
) -> pd.Series:
    """Per week and label: intervals (int microseconds; `until` NAT = still running) that contain the
    week's end. Open episodes: opened < end <= closed; dormant spans: dormant_from <= end <= until."""
    until_ = np.where(until.to_numpy() == NAT, _END_OF_TIME, until.to_numpy())
    first = np.searchsorted(ends, begin.to_numpy(), side="left" if from_inclusive else "right")
    stop = np.searchsorted(ends, until_, side="right")
    found, distinct = _labels(labels)
    width = len(weeks) + 1
    starts_at = np.bincount(found * width + first, minlength=len(distinct) * width)
    stops_at = np.bincount(found * width + stop, minlength=len(distinct) * width)
    active = np.cumsum((starts_at - stops_at).reshape(len(distinct), width), axis=1)[:, :-1]
    label, week = np.nonzero(active)
    index = pd.MultiIndex.from_arrays(
        [np.asarray(weeks, dtype=object)[week], np.asarray(distinct, dtype=object)[label]]
    )
    return pd.Series(active[label, week], index=index, name=name)


def _labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes from 0 and their labels as text; a missing value is the label ""."""
    found, distinct = codes(values)
    found += 1  # codes() gives a fresh array
    return found, ["", *distinct.astype(str)]


def _dormant_episodes(spans: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Dormant spans (int microseconds) with the labels of the episode they belong to."""
    keys = ["account_id", "region", "family"]
    spans = spans.astype(dict.fromkeys(keys, str))
    labels = episodes[[*keys, "opened", "team", "environment", "job_kind", "org"]]
    labels = labels.assign(**{key: as_text(labels[key]) for key in keys})
    owned = pd.merge_asof(
        spans.sort_values("last_run"),
        labels.sort_values("opened"),
        left_on="last_run",
        right_on="opened",
        by=keys,
        suffixes=("", "_episode"),
    )
    return owned.dropna(subset=["opened"])


def _stale(audits: pd.DataFrame, facts: pd.DataFrame) -> dict[str, pd.Series]:
    """Per scope column, per week and scope value: stale accounts; for teams, environments and kinds,
    those of the stale accounts where the value had jobs created by the end of that week (its last known
    state)."""
    stale = audits.loc[audits["stale"], ["week", "account_id"]].assign(org="org")
    jobs = _StaleJobs.of(facts, accounts=stale["account_id"].unique())
    counts = {}
    for column in _SCOPE_COLUMNS.values():
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


def _finish(table: pd.DataFrame, *, scope: str) -> pd.DataFrame:
    """Fill absent additive measures with 0, derive the ratios (NaN when the denominator is 0) and empty
    the sums that are unknown."""
    missing = [measure.name for measure in MEASURES if measure.name not in table.columns]
    table = table.reindex(columns=[*table.columns, *missing])
    for measure in MEASURES:
        if measure.additive:
            table[measure.name] = table[measure.name].fillna(0).astype(measure.unit.arrow_type)
    ratios = {
        measure.name: _percent(table[measure.ratio[0]], table[measure.ratio[1]])
        for measure in of_kind(Kind.RATIO)
        if measure.ratio
    }
    # A sum over runs none of which is priced is unknown, not $0 (only once the ratios have their zeros).
    unknown = {
        measure.name: table[measure.name].where(
            ~((table[measure.unknown_when[0]] == 0) & (table[measure.unknown_when[1]] > 0))
        )
        for measure in MEASURES
        if measure.unknown_when
    }
    return table.assign(scope=scope, **ratios, **unknown)


def _percent(part: pd.Series, whole: pd.Series) -> np.ndarray:
    whole_ = whole.to_numpy(dtype=float)
    return np.divide(
        100 * part.to_numpy(dtype=float), whole_, out=np.full(len(whole_), np.nan), where=whole_ > 0
    )
