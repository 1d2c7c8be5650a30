"""Fold a run's freshly collected jobs into the history: keyed by ARN, nothing ever dropped."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import pandas as pd

from isoaudit.schema import JOBS, conform


def merge_history(
    *,
    history: pd.DataFrame,
    fresh: pd.DataFrame,
    fully_listed: Iterable[tuple[str, str]],
    listed: Collection[str],
) -> pd.DataFrame:
    """History updated with `fresh`, and the `listed` flag of every job of a fully listed account-region.

    `fresh` holds the records this run fetched (new or changed jobs); `listed` the ARNs that the full
    listings of `fully_listed` account-regions returned, fetched or not. A job of those account-regions that
    is not listed any more keeps its last record with listed=False; a tuning job is listed when Search
    returned it, or while one of its training jobs is. Only full listings prove a disappearance: an
    incremental or failed read proves nothing. A job seen again keeps its `first_seen`.
    """
    fresh = fresh.drop_duplicates("job_arn", keep="last")
    first_seen = history.set_index("job_arn")["first_seen"]
    updated = fresh.copy()
    known = updated["job_arn"].isin(first_seen.index)
    if known.any():
        updated.loc[known, "first_seen"] = updated.loc[known, "job_arn"].map(first_seen)

    # Rows read again are listed by definition; the others are listed when the full listing says so.
    kept = history[~history["job_arn"].isin(updated["job_arn"])].copy()
    scope = pd.MultiIndex.from_tuples(list(fully_listed) or [("", "")], names=["account_id", "region"])
    in_scope = pd.MultiIndex.from_frame(kept[["account_id", "region"]]).isin(scope)
    tuning = (kept["job_kind"] == "tuning").to_numpy()
    kept.loc[in_scope & ~tuning, "listed"] = kept.loc[in_scope & ~tuning, "job_arn"].isin(listed)
    children = pd.concat([kept[~tuning], updated], ignore_index=True)
    children = children[children["listed"].astype(bool) & (children["tuning_job_name"] != "")]
    parents = pd.MultiIndex.from_frame(children[["account_id", "region", "tuning_job_name"]])
    parent_listed = pd.MultiIndex.from_frame(kept[["account_id", "region", "job_name"]]).isin(parents)
    searched = kept["job_arn"].isin(listed).to_numpy()
    kept.loc[in_scope & tuning, "listed"] = (parent_listed | searched)[in_scope & tuning]

    parts = [frame for frame in (kept, updated) if not frame.empty]
    if not parts:
        return conform(history, JOBS)
    merged = pd.concat(parts, ignore_index=True)
    return conform(merged.sort_values(["account_id", "region", "creation_time", "job_arn"]), JOBS)


def changed_rows(*, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Rows of `after` that are new or differ from `before` (to rewrite only the partitions that changed)."""
    if before.empty:
        return after
    joined = after.merge(before, on="job_arn", how="left", suffixes=("", "_before"), indicator=True)
    is_new = joined["_merge"] == "left_only"
    differs = pd.Series(False, index=joined.index)
    for column in JOBS.names:
        if column == "job_arn":
            continue
        now, then = joined[column], joined[f"{column}_before"]
        differs |= ~((now == then) | (now.isna() & then.isna())).fillna(False).astype(bool)
    return after[(is_new | differs).to_numpy()]
