"""WEEKLY_KPIS: the KPIs of each ISO week for the org, each team, account, environment and job kind.

Every count is of runs (training and processing jobs; a tuning job counts through the training jobs it
launched) *created* in the week (stored history, whatever run collected them), so the team,
account, environment and job-kind rows of a week each add up to the org's. Episodes count for the scope of
the job that opened them. The runs are counted by isoaudit.metrics.counts; the episodes' measures are
worked out here, over the episodes (a few per family), not the jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pandas.core.groupby import SeriesGroupBy

from isoaudit.metrics.columns import NAT, as_text, label_codes
from isoaudit.metrics.counts import SCOPE_COLUMNS, WeeklyCounts, weekly_counts
from isoaudit.metrics.coverage import account_audits
from isoaudit.metrics.episodes import HISTORY_COLUMNS, dormant_spans, every_episode_table, with_history
from isoaudit.metrics.measures import MEASURES, Kind, of_kind
from isoaudit.metrics.predicates import runs_only
from isoaudit.metrics.weeks import ONE_WEEK, week_start
from isoaudit.schema import KPI_SCOPES, WEEKLY_KPIS, conform

_HOUR_US = 3_600_000_000
_END_OF_TIME = np.iinfo(np.int64).max
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
    counts: WeeklyCounts | None = None,
) -> pd.DataFrame:
    """WEEKLY_KPIS rows for `weeks` (any ISO weeks; sorted in the output): every stored measure of
    isoaudit.metrics.measures, per scope.

    `facts` is job_facts' output (HISTORY_COLUMNS are computed if absent). Episodes are derived from it
    with every job known: an episode is open at the end of a week when it opened before the week's end
    and closed at or after it; it is dormant there when the family's last run before the end is
    `dormant_days` or more before it. `coverage` gives stale_accounts (0 without it). One org row per
    week; other scopes have a row when the scope value has jobs, closed/open episodes or stale accounts
    in the week. `every_episode` is every_episode_table(facts), `dormant`
    dormant_episodes(dormant_spans(facts), every_episode), `audits` account_audits(coverage) and `counts`
    weekly_counts(facts) of the same weeks, when the caller's earlier stages have them already.
    """
    selected = sorted(set(weeks))
    if not selected:
        raise ValueError("weeks: at least one ISO week is needed")
    starts = np.array([week_start(week).value // 1000 for week in selected], dtype=np.int64)
    ends = starts + ONE_WEEK.value // 1000
    if not set(HISTORY_COLUMNS) <= set(facts.columns):  # e.g. JOB_FACTS read back from the lake
        facts = with_history(facts)
    facts = runs_only(facts)  # a tuning job is counted through its training jobs only
    if every_episode is None:
        every_episode = every_episode_table(facts)
    episodes = every_episode.assign(org="org")
    if dormant is None:
        dormant = dormant_episodes(dormant_spans(facts, dormant_days=dormant_days), every_episode)
    if counts is None:
        if audits is None and coverage is not None:
            audits = account_audits(coverage, weeks=selected)
        counts = weekly_counts(facts, weeks=selected, audits=audits)
    intervals = {"open": (episodes["opened"], episodes["closed"], episodes, False),
                 "dormant": (dormant["dormant_from"], dormant["dormant_until"], dormant, True)}  # fmt: skip
    frames = [
        _scope_rows(
            scope, counts=counts, episodes=episodes, intervals=intervals, weeks=selected, starts=starts,
            ends=ends,
        )
        for scope in KPI_SCOPES
    ]  # fmt: skip
    result = pd.concat(frames, ignore_index=True)
    result["scope"] = pd.Categorical(result["scope"], categories=KPI_SCOPES)
    return conform(result.sort_values(["week", "scope", "scope_value"], ignore_index=True), WEEKLY_KPIS)


def _scope_rows(
    scope: str,
    *,
    counts: WeeklyCounts,
    episodes: pd.DataFrame,
    intervals: dict[str, tuple[pd.Series, pd.Series, pd.DataFrame, bool]],
    weeks: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
) -> pd.DataFrame:
    """Every measure of one scope, one row per week and scope value."""
    column = SCOPE_COLUMNS[scope]
    parts = [
        counts.measures[column],
        _closed(episodes, column=column, weeks=weeks, starts=starts, ends=ends),
        *(
            _active(begin, until, table[column], weeks=weeks, ends=ends, name=measure.name,
                    from_inclusive=inclusive)
            for measure in of_kind(Kind.OPEN_EPISODES)
            for begin, until, table, inclusive in [intervals[str(measure.statistic)]]
        ),
    ]  # fmt: skip
    if counts.stale is not None:
        parts.extend(counts.stale[column].rename(measure.name) for measure in of_kind(Kind.STALE_ACCOUNTS))
    table = pd.concat(parts, axis=1)
    if scope == "org":
        table = table.reindex(pd.MultiIndex.from_product([weeks, ["org"]]))
    table.index = table.index.set_names(["week", "scope_value"])
    return _finish(table.reset_index(), scope=scope)


def _closed(
    episodes: pd.DataFrame, *, column: str, weeks: list[str], starts: np.ndarray, ends: np.ndarray
) -> pd.DataFrame:
    """The CLOSED_EPISODES measures (count, mean, median or 90th percentile, linear, of the hours to
    remediate) of the episodes closed in each week."""
    closed = episodes["closed"].to_numpy()
    position = np.searchsorted(starts, closed, side="right") - 1
    inside = (closed != NAT) & (position >= 0) & (closed < ends[np.maximum(position, 0)])
    value, labels = label_codes(episodes[column])
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
    found, distinct = label_codes(labels)
    width = len(weeks) + 1
    starts_at = np.bincount(found * width + first, minlength=len(distinct) * width)
    stops_at = np.bincount(found * width + stop, minlength=len(distinct) * width)
    active = np.cumsum((starts_at - stops_at).reshape(len(distinct), width), axis=1)[:, :-1]
    label, week = np.nonzero(active)
    index = pd.MultiIndex.from_arrays(
        [np.asarray(weeks, dtype=object)[week], np.asarray(distinct, dtype=object)[label]]
    )
    return pd.Series(active[label, week], index=index, name=name)


def dormant_episodes(spans: pd.DataFrame, every_episode: pd.DataFrame) -> pd.DataFrame:
    """Dormant spans (dormant_spans; int microseconds) with the labels of the episode they belong to
    (`every_episode`: every_episode_table)."""
    keys = ["account_id", "region", "family"]
    spans = spans.astype(dict.fromkeys(keys, str))
    labels = every_episode[[*keys, "opened", "team", "environment", "job_kind"]].assign(org="org")
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
