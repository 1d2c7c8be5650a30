"""Array helpers shared by the metrics: integer codes and microsecond times, so that work on millions of
rows is done once per distinct value or with whole-array operations."""

from __future__ import annotations

import numpy as np
import pandas as pd

NAT = np.iinfo(np.int64).min


def micros(times: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch; NaT becomes `NAT`."""
    return pd.to_datetime(times, utc=True).dt.as_unit("us").array.asi8


def from_micros(values: np.ndarray) -> pd.DatetimeIndex:
    """Inverse of `micros`."""
    return pd.to_datetime(values, unit="us", utc=True).as_unit("us")


def codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer code of each value (-1 for missing) and the distinct values; free for categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64), values.cat.categories
    found, distinct = pd.factorize(values)
    return found.astype(np.int64), pd.Index(distinct)


def categorical(codes_: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes_, categories=categories)
