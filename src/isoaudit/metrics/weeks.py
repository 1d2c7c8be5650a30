"""ISO weeks (UTC): the reporting period of every KPI, labelled "YYYY-Www" (e.g. 2026-W07)."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from isoaudit.metrics.columns import micros

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY_US = 86_400_000_000
ONE_WEEK = pd.Timedelta(days=7)


def week_start(week: str) -> pd.Timestamp:
    """Monday 00:00 UTC that starts `week`; the week ends (exclusive) seven days later."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week (expected e.g. 2026-W07)")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValueError(f"{week!r} is not an ISO week of that year") from None
    return pd.Timestamp(monday, tz="UTC")


def week_of(moment: pd.Timestamp) -> str:
    """ISO week of a moment, in UTC."""
    moment = pd.Timestamp(moment)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(now: pd.Timestamp) -> str:
    """The ISO week that ended most recently before `now` (the week before the one containing `now`)."""
    return week_of(week_start(week_of(now)) - pd.Timedelta(days=1))


def trailing_weeks(week: str, count: int) -> list[str]:
    """`count` consecutive weeks ending with `week`, oldest first."""
    start = week_start(week)
    return [week_of(start - ONE_WEEK * back) for back in range(count - 1, -1, -1)]


def week_labels(times: pd.Series) -> pd.Categorical:
    """ISO week of each timestamp (UTC), as a categorical whose categories sort chronologically.

    Labels are computed once per distinct day, so millions of rows cost a few array operations.
    """
    days = micros(times) // _DAY_US
    first = int(days.min()) if len(days) else 0
    span = np.arange(first, first + (int(days.max()) - first + 1 if len(days) else 0))
    calendar = pd.DatetimeIndex(span.astype("datetime64[D]")).isocalendar()
    labels = calendar["year"].astype(str) + "-W" + calendar["week"].astype(str).str.zfill(2)
    categories, day_codes = np.unique(labels.to_numpy(dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(day_codes[days - first], categories=list(categories))
