"""Exposure episodes: per family (account, region, family), the stretch from a non-compliant run until the
family's first compliant run after it.

The order of a family's runs is: creation time, then non-compliant before compliant at the same instant (a
fix created at the very moment of a violation closes it after 0 hours), then input order. All of it is
computed with whole-array operations over the family-sorted jobs: no loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from isoaudit.metrics.columns import NAT, as_text, codes, from_micros, micros, text_ranks
from isoaudit.metrics.predicates import NEW_VIOLATION, VIOLATIONS, launchers, runs_only
from isoaudit.schema import EPISODES, conform

# Columns that job_facts adds after the JOB_FACTS ones: each non-compliant job's place in its family's
# history (see family_history); empty for compliant jobs.
HISTORY_COLUMNS = ("violation", "remediated_at", "next_run_at")
# What episode_table keeps of the job that opened an episode.
_LABELS = ("account_id", "region", "family", "team", "environment", "job_kind", "first_job_name")
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_END_OF_TIME = np.iinfo(np.int64).max


@dataclass(frozen=True)
class FamilyHistory:
    """Per job, in input order: violation code (index into VIOLATIONS) and times in microseconds (NAT)."""

    violation: np.ndarray
    remediated_at: np.ndarray
    next_run_at: np.ndarray


def with_history(facts: pd.DataFrame) -> pd.DataFrame:
    """`facts` with HISTORY_COLUMNS, computed when absent (e.g. JOB_FACTS read back from the lake)."""
    if all(column in facts.columns for column in HISTORY_COLUMNS):
        return facts
    history = runs_history(
        account=codes(facts["account_id"])[0],
        region=codes(facts["region"])[0],
        family=codes(facts["family"])[0],
        created=micros(facts["creation_time"]),
        compliant=facts["compliant"].to_numpy(dtype=bool),
        launcher=launchers(facts["job_kind"]),
    )
    return facts.assign(
        violation=pd.Categorical.from_codes(history.violation, categories=list(VIOLATIONS)),
        remediated_at=from_micros(history.remediated_at),
        next_run_at=from_micros(history.next_run_at),
    )


def family_history(
    *, account: np.ndarray, region: np.ndarray, family: np.ndarray, created: np.ndarray, compliant: np.ndarray
) -> FamilyHistory:
    """The place of each non-compliant job in its family: `new` (opens an episode: the family's first run,
    or the first after a compliant run) or `repeat` violation, the creation time of the family's first
    compliant run after it (remediated_at) and of the family's next run (next_run_at). Compliant jobs get
    no violation and no times.

    account/region/family are integer codes, created int64 microseconds, compliant booleans.
    """
    count = len(created)
    order, group, ok, at = _family_order(_family_keys(account, region, family), created, compliant)
    violating = np.flatnonzero(~ok)  # positions in family order
    after = np.minimum(violating + 1, count - 1)
    same_family_after = (violating + 1 < count) & (group[after] == group[violating])
    before = np.maximum(violating - 1, 0)
    opens = (violating == 0) | (group[before] != group[violating]) | ok[before]

    # Position of the first compliant run at or after each position (count when none).
    fix = np.where(ok, np.arange(count), count)
    np.minimum.accumulate(fix[::-1], out=fix[::-1])
    fix = fix[violating]
    fixed = fix < count
    fixed[fixed] = group[fix[fixed]] == group[violating[fixed]]

    rows = order[violating]
    violation = np.zeros(count, dtype=np.int8)
    violation[rows] = np.where(opens, 1, 2)
    remediated = np.full(count, NAT, dtype=np.int64)
    remediated[rows] = np.where(fixed, at[np.minimum(fix, count - 1)], NAT)
    next_run = np.full(count, NAT, dtype=np.int64)
    next_run[rows] = np.where(same_family_after, at[after], NAT)
    return FamilyHistory(violation=violation, remediated_at=remediated, next_run_at=next_run)


def runs_history(
    *,
    account: np.ndarray,
    region: np.ndarray,
    family: np.ndarray,
    created: np.ndarray,
    compliant: np.ndarray,
    launcher: np.ndarray,
) -> FamilyHistory:
    """family_history of the runs alone; launchers (tuning jobs) get no violation and no times."""
    if not launcher.any():
        return family_history(
            account=account, region=region, family=family, created=created, compliant=compliant
        )
    run = ~launcher
    found = family_history(
        account=account[run],
        region=region[run],
        family=family[run],
        created=created[run],
        compliant=compliant[run],
    )
    count = len(created)
    violation = np.zeros(count, dtype=np.int8)
    remediated = np.full(count, NAT, dtype=np.int64)
    next_run = np.full(count, NAT, dtype=np.int64)
    violation[run], remediated[run], next_run[run] = found.violation, found.remediated_at, found.next_run_at
    return FamilyHistory(violation=violation, remediated_at=remediated, next_run_at=next_run)


def exposure_episodes(
    facts: pd.DataFrame, *, as_of: pd.Timestamp, dormant_days: int, every_episode: pd.DataFrame | None = None
) -> pd.DataFrame:
    """EPISODES as of `as_of` (naive means UTC): only jobs created at or before it count.

    `facts` is job_facts' output (JOB_FACTS; HISTORY_COLUMNS are computed if absent). An open episode is
    dormant when the family's last run is at least `dormant_days` before `as_of`. `every_episode` is
    every_episode_table(facts) when the caller has it already (weekly_kpis needs it too).
    """
    cutoff = _utc_micros(as_of)
    facts = runs_only(with_history(facts))
    if every_episode is not None and _created_by(facts, cutoff=cutoff):
        # No job was created after the cutoff: the episodes are the same, only those closed after the
        # cutoff are still open as of it.
        closed = every_episode["closed"].to_numpy()
        table = every_episode.assign(closed=np.where(closed <= cutoff, closed, NAT))
    else:
        table = episode_table(facts, cutoff=cutoff)
    closed = table["closed"].to_numpy() != NAT
    dormant = ~closed & (table["last_run"].to_numpy() + dormant_days * _DAY_US <= cutoff)
    opened = table["opened"].to_numpy()
    labels = ["account_id", "region", "family", "team", "environment", "first_job_name"]
    episodes = table[labels].assign(
        opened_at=from_micros(opened),
        closed_at=from_micros(table["closed"].to_numpy()),
        non_compliant_runs=table["runs"],
        exposed_spend_usd=table["exposed_spend"],
        last_run_at=from_micros(table["last_run"].to_numpy()),
        state=np.where(closed, "closed", np.where(dormant, "dormant", "open")),
        hours_to_remediate=np.where(closed, (table["closed"].to_numpy() - opened) / _HOUR_US, np.nan),
        age_hours=np.where(closed, np.nan, (cutoff - opened) / _HOUR_US),
    )
    # Sorted by account, region and family as text, then opening time: by the ranks of the labels' texts,
    # so that the labels are turned into text once, in order.
    ranks = [text_ranks(episodes[column]) for column in ("family", "region", "account_id")]
    order = np.lexsort((opened, *ranks))  # the last key sorts first
    episodes = episodes.take(order)
    episodes = episodes.assign(**{column: as_text(episodes[column]) for column in labels})
    return conform(episodes, EPISODES)


def episode_table(facts: pd.DataFrame, *, cutoff: int) -> pd.DataFrame:
    """One row per episode opened at or before `cutoff` (int microseconds): the opening job's labels
    (_LABELS, as in `facts`) and times in microseconds: opened, closed (NAT while open as of the cutoff),
    last_run (last non-compliant run up to the cutoff) and runs. Tuning jobs are not runs: left out."""
    facts = runs_only(facts)
    created = micros(facts["creation_time"])
    rows = np.flatnonzero((created <= cutoff) & ~facts["compliant"].to_numpy(dtype=bool))
    # Codes of the selected rows only (consistent among themselves, which is all the keys need).
    key = _family_keys(*(codes(facts[column].iloc[rows])[0] for column in ("account_id", "region", "family")))
    remediated = micros(facts["remediated_at"].iloc[rows])
    spend = pd.to_numeric(facts["spend_usd"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)[rows]
    runs = pd.DataFrame({"key": key, "remediated": remediated, "created": created[rows], "spend": spend})
    by_episode = runs.groupby(["key", "remediated"], sort=False)  # grouped once for the three measures
    opening = (facts["violation"] == NEW_VIOLATION).to_numpy(dtype=bool)[rows]
    # The measures per episode, read at its opening run (its episode's number): not spread over every run.
    episode = by_episode.ngroup().to_numpy()[opening]
    openers = (
        facts[[*_LABELS[:-1], "job_name"]].iloc[rows[opening]].rename(columns={"job_name": "first_job_name"})
    )
    table = pd.DataFrame(
        {
            **{column: openers[column] for column in _LABELS},
            "opened": created[rows[opening]],
            "closed": np.where(remediated[opening] <= cutoff, remediated[opening], NAT),
            "last_run": by_episode["created"].max().to_numpy()[episode],
            "runs": by_episode.size().to_numpy(dtype=np.int64)[episode],
            # What the open pipeline cost: its priced non-compliant runs' spend (NaN when none is priced).
            "exposed_spend": by_episode["spend"].sum(min_count=1).to_numpy(dtype=float)[episode],
        }
    )
    return table.reset_index(drop=True)


def every_episode_table(facts: pd.DataFrame) -> pd.DataFrame:
    """episode_table of every job known, whatever its creation time."""
    return episode_table(with_history(facts), cutoff=_END_OF_TIME)


def _created_by(facts: pd.DataFrame, *, cutoff: int) -> bool:
    """Whether every job was created at or before `cutoff` (int microseconds)."""
    created = micros(facts["creation_time"])
    return not len(created) or int(created.max()) <= cutoff


def dormant_spans(facts: pd.DataFrame, *, dormant_days: int) -> pd.DataFrame:
    """When families with an open episode were dormant: one row per quiet gap of at least `dormant_days`
    after a non-compliant run (`last_run`), from `dormant_from` (last_run + dormant_days) until
    `dormant_until` (the family's next run; NAT while it has not run again), in int microseconds as the
    weekly measures count them (no round trip through timestamps)."""
    created = micros(facts["creation_time"])
    following = micros(facts["next_run_at"])
    dormant_from = created + dormant_days * _DAY_US
    quiet = ~facts["compliant"].to_numpy(dtype=bool) & ((following == NAT) | (following >= dormant_from))
    rows = facts.loc[quiet, ["account_id", "region", "family"]]
    return pd.DataFrame(
        {
            **{column: as_text(rows[column]).array for column in ("account_id", "region", "family")},
            "last_run": created[quiet],
            "dormant_from": dormant_from[quiet],
            "dormant_until": following[quiet],
        }
    )


def _utc_micros(moment: pd.Timestamp) -> int:
    """A moment (naive means UTC) in microseconds since the epoch."""
    return int(micros(pd.Series([moment]))[0])


def _family_keys(account: np.ndarray, region: np.ndarray, family: np.ndarray) -> np.ndarray:
    """An integer per (account, region, family) triple of codes (-1 allowed), small enough to sort with
    the time in one int64 whenever the organization allows it."""
    pair = account.astype(np.int64)  # a fresh array, then worked on in place: each temporary is per job
    pair += 1
    pair *= int(region.max(initial=-1)) + 2
    pair += region
    pair += 1
    present = np.zeros(int(pair.max(initial=0)) + 1, dtype=np.int64)
    present[pair] = 1
    key = np.cumsum(present)[pair]
    del pair
    key -= 1
    key *= int(family.max(initial=-1)) + 2
    key += family
    key += 1
    return key


def _family_order(
    key: np.ndarray, created: np.ndarray, compliant: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions sorted by family key, creation time, non-compliant first, then input order, and the sorted
    key, compliant and created arrays (the key may be replaced by other integers that group alike)."""
    # Jobs usually come in creation order: then grouping them by family with a stable sort of the key alone
    # (a few linear passes) leaves each family's runs in time order, and only runs of a family at the same
    # instant can still be out of order (compliant first), which is checked.
    if bool(np.all(created[1:] >= created[:-1])):
        order, group = _stable_order(key)
        ok, at = compliant[order], created[order]
        tied = np.flatnonzero(at[1:] == at[:-1])
        if not np.any((group[tied] == group[tied + 1]) & ok[tied] & ~ok[tied + 1]):
            return order, group, ok, at
    return _packed_order(key, created, compliant)


def _stable_order(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.argsort(key, kind="stable") for non-negative integers, and the sorted keys. Each key is packed
    with its position in one int64 and the packed values are sorted: being distinct, any sort of them is
    stable, and numpy sorts int64 values with SIMD instructions several times faster than any argsort of
    its own (a radix sort of 16-bit digits took two passes and six times as long at 5 million jobs)."""
    position_bits = max(len(key) - 1, 0).bit_length()
    if int(key.max(initial=0)).bit_length() + position_bits > 63:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    packed = np.left_shift(key, position_bits, dtype=np.int64)
    packed |= np.arange(len(key), dtype=np.int64)
    packed.sort()
    order = packed & ((1 << position_bits) - 1)
    packed >>= position_bits
    return order, packed


def _packed_order(
    key: np.ndarray, created: np.ndarray, compliant: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """_family_order for jobs in any order: one integer sort of (key, time, compliant) packed in an int64
    when it fits."""
    if not len(created):
        return np.arange(0), key, compliant, created
    start = int(created.min())
    unit = 1000 if not np.any(created % 1000) else 1  # AWS reports whole milliseconds
    span = created - start
    if unit > 1:
        span //= unit
    time_bits = int(span.max()).bit_length() + 1
    if time_bits + int(key.max()).bit_length() > 63:
        key = pd.factorize(key)[0].astype(np.int64, copy=False)
    if time_bits + int(key.max()).bit_length() > 63:
        order = np.lexsort((compliant, created, key))
        return order, key[order], compliant[order], created[order]
    # Packed in place (every temporary is as large as the jobs): key, time, then compliant.
    packed = np.left_shift(key, time_bits, dtype=np.int64)
    span <<= 1
    span |= compliant
    packed |= span
    order = np.argsort(packed, kind="stable")
    group = np.take(packed, order, out=span)
    group >>= time_bits
    return order, group, compliant[order], created[order]
