"""Audit coverage: which account-regions each week's audit run reached, and which accounts it missed.

The run of a week is the COVERAGE rows whose audit_week is that week. When an account-region appears more
than once (a re-run), its latest row (by audited_at) counts. Statuses:

- audited: counted in the numerator and the denominator;
- failed: a gap, counted in the denominator only (never as compliant);
- skipped: the region is not enabled in the account: out of scope, counted nowhere.

An account is *stale* in a week when the run tried it (it has rows), none of its account-regions was
audited and at least one failed: its jobs of that week could not be refreshed. Its stored history is kept
as it is (nothing is added or removed); the week's KPI rows say how many such accounts they include.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from isoaudit.schema import COVERAGE


def latest_status(coverage: pd.DataFrame, *, weeks: Sequence[str]) -> pd.DataFrame:
    """COVERAGE rows of the runs of `weeks`, one per (audit_week, account_id, region): the latest."""
    rows = coverage.loc[coverage["audit_week"].isin(list(weeks)), COVERAGE.names]
    rows = rows.sort_values("audited_at", kind="stable", na_position="first")
    return rows.drop_duplicates(["audit_week", "account_id", "region"], keep="last").reset_index(drop=True)


def account_audits(coverage: pd.DataFrame, *, weeks: Sequence[str]) -> pd.DataFrame:
    """Per (week, account_id): account-regions `audited` and `failed`, and whether the account is `stale`."""
    rows = latest_status(coverage, weeks=weeks)
    # A grouped count, not pd.crosstab: the same table without crosstab's per-group Python aggregation.
    counts = (
        rows.groupby(["audit_week", "account_id", "status"])
        .size()
        .unstack("status", fill_value=0)
        .reindex(columns=["audited", "failed"], fill_value=0)
        .rename_axis(index=["week", "account_id"], columns=None)
        .reset_index()
    )
    return counts.assign(stale=(counts["audited"] == 0) & (counts["failed"] > 0))


def audit_coverage(coverage: pd.DataFrame, *, week: str) -> float:
    """Audited / (audited + failed) account-regions of the week's run, in %; NaN without a run."""
    rows = latest_status(coverage, weeks=[week])
    audited = int((rows["status"] == "audited").sum())
    tried = audited + int((rows["status"] == "failed").sum())
    return 100 * audited / tried if tried else np.nan


GAP_GROUP_COLUMNS = ("account_id", "account_name", "reason", "regions", "where", "audited_at")


def gap_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """The failed account-regions of one run (COVERAGE rows, e.g. WeeklyReport.coverage), one row per
    account and reason: an account that failed everywhere for one reason is one line, not one per region.

    `regions` lists the regions (sorted); `where` says it for a reader: the region when there is one,
    "all 20 regions" when the account failed in every region in scope (audited or failed), else
    "3 regions". `audited_at` is the latest attempt. Sorted by account id, then reason.
    """
    in_scope = rows.loc[rows["status"].isin(["audited", "failed"])].groupby("account_id")["region"].nunique()
    failed = rows.loc[rows["status"] == "failed"]
    if failed.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in GAP_GROUP_COLUMNS})
    grouped = (
        failed.assign(reason=failed["reason"].fillna(""), account_name=failed["account_name"].fillna(""))
        .groupby(["account_id", "reason"], sort=True)
        .agg(
            account_name=("account_name", "last"),
            regions=("region", lambda regions: tuple(sorted(set(regions)))),
            audited_at=("audited_at", "max"),
        )
        .reset_index()
    )
    counts = grouped["regions"].map(len)
    everywhere = counts == grouped["account_id"].map(in_scope)
    grouped["where"] = [
        regions[0] if count == 1 else f"all {count} regions" if whole else f"{count} regions"
        for regions, count, whole in zip(grouped["regions"], counts, everywhere, strict=True)
    ]
    return grouped[list(GAP_GROUP_COLUMNS)]
