"""WEEKLY_KPIS: the KPIs of each ISO week for the org, each team, account, environment and job kind.

Every count is of runs (training and processing jobs; a tuning job counts through the training jobs it
launched) *created* in the week (stored history, whatever run collected them), so the team,
account, environment and job-kind rows of a week each add up to the org's. Episodes count for the scope of
the job that opened them. Jobs are counted with one integer key per row and scope (week, scope value and
one of 48 job classes: posture x violation x dependency failure x production) and a bincount, so millions
of jobs cost a few whole-array operations; everything after works on the small counted table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from isoaudit.metrics.attribution import POSTURES
from isoaudit.metrics.columns import NAT, as_text, codes, micros
from isoaudit.metrics.coverage import account_audits
from isoaudit.metrics.episodes import VIOLATIONS, dormant_spans, every_episode_table, runs_only, with_history
from isoaudit.metrics.money import finish_money, money_sums, money_weights
from isoaudit.metrics.weeks import ONE_WEEK, week_start
from isoaudit.schema import KPI_SCOPES, WEEKLY_KPIS, conform

_SCOPE_COLUMNS = {"org": "org", "team": "team", "account": "account_id", "environment": "environment",
                  "job_kind": "job_kind"}  # fmt: skip
_COUNTS = (
    "jobs", "compliant", "production_jobs", "production_compliant", "violations", "new_violations",
    "repeat_violations", "tier_isolated_vpc", "tier_isolated", "tier_vpc_only", "tier_open",
    "dependency_failures",
)  # fmt: skip
_EPISODE_COUNTS = ("episodes_closed", "episodes_open", "episodes_dormant", "stale_accounts")
_DEPENDENCY = ("missing_dependency", "network_blocked")
_HOUR_US = 3_600_000_000
_END_OF_TIME = np.iinfo(np.int64).max
_DENSE_BINS = 1 << 23


def _class_measures() -> np.ndarray:
    """For each job class (posture, violation, dependency failure, production), its 0/1 row of _COUNTS."""
    rows = []
    for posture in POSTURES:
        for violation in VIOLATIONS:
            for dependency in (0, 1):
                for production in (0, 1):
                    compliant = int(posture in ("isolated+vpc", "isolated"))
                    rows.append(
                        [1, compliant, production, production * compliant, 1 - compliant,
                         int(violation == "new"), int(violation == "repeat"),
                         *(int(posture == tier) for tier in POSTURES), dependency]
                    )  # fmt: skip
    return np.array(rows, dtype=np.int64)


_CLASS_MEASURES = _class_measures()


def weekly_kpis(
    facts: pd.DataFrame,
    *,
    weeks: Sequence[str],
    dormant_days: int,
    coverage: pd.DataFrame | None = None,
    every_episode: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """WEEKLY_KPIS rows for `weeks` (any ISO weeks; sorted in the output).

    `facts` is job_facts' output (HISTORY_COLUMNS are computed if absent). Episodes are derived from it
    with every job known: an episode is open at the end of a week when it opened before the week's end
    and closed at or after it; it is dormant there when the family's last run before the end is
    `dormant_days` or more before it. `coverage` gives stale_accounts (0 without it). One org row per
    week; other scopes have a row when the scope value has jobs, closed/open episodes or stale accounts
    in the week. `every_episode` is every_episode_table(facts) when the caller has it already
    (exposure_episodes needs it too).
    """
    selected = sorted(set(weeks))
    if not selected:
        raise ValueError("weeks: at least one ISO week is needed")
    starts = np.array([week_start(week).value // 1000 for week in selected], dtype=np.int64)
    ends = starts + ONE_WEEK.value // 1000
    facts = runs_only(with_history(facts))  # a tuning job is counted through its training jobs only
    week_class = _row_classes(facts, selected)
    if every_episode is None:
        every_episode = every_episode_table(facts)
    episodes = every_episode.assign(org="org")
    spans = _dormant_episodes(facts, episodes, dormant_days=dormant_days)
    audits = account_audits(coverage, weeks=selected) if coverage is not None else None
    stale = _stale(audits, facts) if audits is not None else None
    weights = money_weights(facts)
    week_position = _positions(facts["week"], selected, missing=-1)
    frames = []
    for scope in KPI_SCOPES:
        column = _SCOPE_COLUMNS[scope]
        value, labels = _labels(facts[column]) if column != "org" else (None, ["org"])
        parts = [
            _job_counts(facts, column=column, week_class=week_class, weeks=selected),
            money_sums(weights, value=value, labels=labels, week=week_position, weeks=selected),
            _closed(episodes, column=column, weeks=selected, starts=starts, ends=ends),
            _active(episodes["opened"], episodes["closed"], episodes[column], weeks=selected, ends=ends,
                    name="episodes_open"),
            _active(spans["dormant_from"], spans["dormant_until"], spans[column], weeks=selected, ends=ends,
                    name="episodes_dormant", from_inclusive=True),
        ]  # fmt: skip
        if stale is not None:
            parts.append(stale[column])
        table = pd.concat(parts, axis=1)
        if scope == "org":
            table = table.reindex(pd.MultiIndex.from_product([selected, ["org"]]))
        table.index = table.index.set_names(["week", "scope_value"])
        frames.append(_finish(table.reset_index(), scope=scope))
    result = pd.concat(frames, ignore_index=True)
    result["scope"] = pd.Categorical(result["scope"], categories=KPI_SCOPES)
    return conform(result.sort_values(["week", "scope", "scope_value"], ignore_index=True), WEEKLY_KPIS)


def _row_classes(facts: pd.DataFrame, weeks: list[str]) -> np.ndarray:
    """Per job: its week and class as one integer, week * classes + class, where week is 1 + the position
    of its week in `weeks` (0: another week) and class its row of _CLASS_MEASURES."""
    # ((posture * violations + violation) * 2 + dependency) * 2 + production, in place.
    job_class = _positions(facts["posture"], POSTURES)
    job_class *= len(VIOLATIONS)
    job_class += _positions(facts["violation"], VIOLATIONS)
    job_class *= 2
    job_class += facts["failure_class"].isin(_DEPENDENCY).to_numpy(dtype=bool)
    job_class *= 2
    job_class += (facts["environment"] == "production").to_numpy(dtype=bool)
    week = _positions(facts["week"], weeks, missing=-1)
    week += 1
    week *= len(_CLASS_MEASURES)
    week += job_class
    return week


def _positions(values: pd.Series, labels: Sequence[str], *, missing: int = 0) -> np.ndarray:
    """Position of each value in `labels` (`missing` when absent), computed once per distinct value; 32
    bits, as the per-job arrays built from them (labels are few)."""
    found, distinct = codes(values)
    index = {label: position for position, label in enumerate(labels)}
    table = np.array([*(index.get(str(value), missing) for value in distinct), missing], dtype=np.int32)
    return table[found]


def _job_counts(
    facts: pd.DataFrame, *, column: str, week_class: np.ndarray, weeks: list[str]
) -> pd.DataFrame:
    """_COUNTS per (week, scope value); `week_class` as _row_classes gives it."""
    value, labels = _labels(facts[column]) if column != "org" else (None, ["org"])
    classes = len(_CLASS_MEASURES)
    per_value = (len(weeks) + 1) * classes
    bins = len(labels) * per_value
    # value * per_value + week_class, computed in place in the value's codes (a fresh array): the week and
    # class part is shared by every scope, so each scope costs two passes over the jobs and a bincount.
    key = week_class
    if value is not None:
        key = value
        key *= per_value
        key += week_class
    if bins <= _DENSE_BINS:
        counts = np.bincount(key, minlength=bins)
        distinct = np.flatnonzero(counts)
        counts = counts[distinct]
    else:
        ids, distinct = pd.factorize(key)
        distinct, counts = np.asarray(distinct), np.bincount(ids)
    value_, week_class_ = np.divmod(distinct, per_value)
    week_, job_class_ = np.divmod(week_class_, classes)
    kept = week_ > 0
    measures = counts[kept, None] * _CLASS_MEASURES[job_class_[kept]]
    index = pd.MultiIndex.from_arrays(
        [np.asarray(weeks, dtype=object)[week_[kept] - 1], np.asarray(labels, dtype=object)[value_[kept]]]
    )
    return pd.DataFrame(measures, index=index, columns=list(_COUNTS)).groupby(level=[0, 1]).sum()


def _closed(
    episodes: pd.DataFrame, *, column: str, weeks: list[str], starts: np.ndarray, ends: np.ndarray
) -> pd.DataFrame:
    """episodes_closed and the mean, median and 90th percentile (linear) hours to remediate per week."""
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
            "episodes_closed": hours.size(),
            "mttr_hours": hours.mean(),
            "median_ttr_hours": hours.median(),
            "p90_ttr_hours": hours.quantile(0.9),
        }
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
    return found + 1, ["", *distinct.astype(str)]


def _dormant_episodes(facts: pd.DataFrame, episodes: pd.DataFrame, *, dormant_days: int) -> pd.DataFrame:
    """Dormant spans (int microseconds) with the labels of the episode they belong to."""
    spans = dormant_spans(facts, dormant_days=dormant_days)
    keys = ["account_id", "region", "family"]
    spans = spans.astype(dict.fromkeys(keys, str)).assign(
        last_run=micros(spans["last_run_at"]),
        dormant_from=micros(spans["dormant_from"]),
        dormant_until=micros(spans["dormant_until"]),
    )
    labels = episodes[[*keys, "opened", "team", "environment", "job_kind", "org"]]
    labels = labels.assign(**{key: as_text(labels[key]) for key in keys})
    owned = pd.merge_asof(
        spans.drop(columns=["last_run_at"]).sort_values("last_run"),
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
    """Fill absent counts with 0 and derive the rates (NaN when there is no job)."""
    counts = [*_COUNTS, *_EPISODE_COUNTS]
    table = table.reindex(columns=[*table.columns, *(c for c in WEEKLY_KPIS.names if c not in table.columns)])
    table[counts] = table[counts].fillna(0).astype(np.int64)
    return table.assign(
        **finish_money(table),
        scope=scope,
        isolation_rate=_percent(table["compliant"], table["jobs"]),
        production_isolation_rate=_percent(table["production_compliant"], table["production_jobs"]),
    )


def _percent(part: pd.Series, whole: pd.Series) -> np.ndarray:
    whole_ = whole.to_numpy(dtype=float)
    return np.divide(
        100 * part.to_numpy(dtype=float), whole_, out=np.full(len(whole_), np.nan), where=whole_ > 0
    )
