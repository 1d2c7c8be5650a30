"""Array helpers shared by the metrics: integer codes and microsecond times, so that work on millions of
rows is done once per distinct value or with whole-array operations."""

from __future__ import annotations

import numpy as np
import pandas as pd

NAT = np.iinfo(np.int64).min


def micros(times: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch; NaT becomes `NAT`. Read-only: for time zone
    aware microseconds (as JOBS and JOB_FACTS hold them) it is a view of the column, not a copy."""
    if isinstance(times.dtype, pd.DatetimeTZDtype) and times.dtype.unit == "us":
        values = times.array.asi8.view()  # aware timestamps are stored as UTC microseconds already
    else:
        values = pd.to_datetime(times, utc=True).dt.as_unit("us").array.asi8
    values.flags.writeable = False
    return values


def from_micros(values: np.ndarray) -> pd.DatetimeIndex:
    """Inverse of `micros`."""
    # The integers read as microsecond datetimes (NAT is NaT's value): no unit conversion, no parsing.
    return pd.DatetimeIndex(np.asarray(values, dtype=np.int64).view("datetime64[us]"), tz="UTC")


def codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer code of each value (-1 for missing) and the distinct values; free for categoricals. The
    codes are a fresh array, which the caller may change in place."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64, copy=True), values.cat.categories
    found, distinct = pd.factorize(values)
    return found.astype(np.int64, copy=False), pd.Index(distinct)


def label_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes from 0 and their labels as text; a missing value is the label ""."""
    found, distinct = codes(values)
    found += 1  # codes() gives a fresh array
    return found, ["", *distinct.astype(str)]


def categorical(codes_: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes_, categories=categories)


def text_ranks(values: pd.Series) -> np.ndarray:
    """Rank of each value in the text order of the distinct values (astype(str); missing last), so that
    sorting by it orders rows as sorting by the text would; each distinct value in use is read once."""
    found, distinct = codes(values)
    used = np.unique(found[found >= 0])
    texts = np.asarray(distinct[used].astype(str), dtype=object)
    rank = np.full(len(distinct) + 1, len(used), dtype=np.int64)  # the last entry is for missing (-1)
    rank[used[np.argsort(texts, kind="stable")]] = np.arange(len(used))
    return rank[found]


def as_text(values: pd.Series) -> pd.Series:
    """values.astype(str) (missing stays missing); a categorical's categories are converted, then taken
    by code, instead of converting every row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(str)
    texts = values.cat.categories.astype(str).array
    return pd.Series(
        texts.take(values.cat.codes.to_numpy(), allow_fill=True), index=values.index, name=values.name
    )
