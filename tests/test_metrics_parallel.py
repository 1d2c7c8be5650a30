"""kpi_tables runs stages on worker threads (the weekly counts beside the episodes, the episodes as of the
report time beside the episodes' weekly measures, the history beside the money) and orders each family's runs
with one sort of packed integers: the same tables as the stages one after the other, and the same order as a
stable argsort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.coverage import account_audits
from isoaudit.metrics.episodes import _stable_order, exposure_episodes
from isoaudit.metrics.kpis import weekly_kpis
from isoaudit.metrics.predicates import runs_only
from isoaudit.metrics.report import kpi_tables
from isoaudit.metrics.weeks import trailing_weeks
from isoaudit.schema import COVERAGE, conform
from tests.test_shards import ACCOUNTS_IDS, AS_OF, accounts, history

WEEK = "2026-W47"


def _coverage() -> pd.DataFrame:
    """Weekly runs of the trailing weeks; the third account unreachable two weeks running (stale there)."""
    rows = [
        {
            "audit_week": week,
            "run_id": f"run-{week}",
            "account_id": account,
            "account_name": account,
            "region": "us-east-1",
            "status": "failed"
            if account == ACCOUNTS_IDS[2] and week in ("2026-W45", "2026-W46")
            else "audited",
            "reason": "",
            "listing": "full",
            "jobs_seen": 3,
            "api_calls": 4,
            "audited_at": pd.Timestamp("2026-11-23T06:10:00Z"),
        }
        for week in trailing_weeks(WEEK, 8)
        for account in ACCOUNTS_IDS
    ]
    return conform(pd.DataFrame(rows), COVERAGE)


def test_kpi_tables_on_worker_threads_equal_the_stages_one_after_the_other() -> None:
    config = AuditConfig(bucket="parallel")
    jobs, known, coverage = history(), accounts(), _coverage()

    tables = kpi_tables(
        jobs=jobs, accounts=known, coverage=coverage, config=config, week=WEEK, generated_at=AS_OF
    )

    # The line of stages in one thread, each finding what it needs itself: weekly_kpis counts the runs and
    # finds the episodes and dormant spans, exposure_episodes finds its own episodes.
    facts = job_facts(jobs, known, config=config)
    runs = runs_only(facts)
    weeks = sorted({trailing_weeks(WEEK, 2)[0], *trailing_weeks(WEEK, config.trend_weeks)})
    kpis = weekly_kpis(
        runs, weeks=weeks, dormant_days=config.dormant_days, audits=account_audits(coverage, weeks=weeks)
    )
    episodes = exposure_episodes(runs, as_of=AS_OF, dormant_days=config.dormant_days)
    pdt.assert_frame_equal(tables.facts, facts)
    pdt.assert_frame_equal(tables.kpis, kpis)
    pdt.assert_frame_equal(tables.episodes, episodes)
    # Every kind of measure has something to count here: stale accounts, closed and open episodes.
    assert tables.kpis["stale_accounts"].sum() > 0
    assert tables.kpis["episodes_closed"].sum() > 0 and tables.kpis["episodes_open"].sum() > 0
    assert {"closed", "open"} <= set(tables.episodes["state"])


@pytest.mark.parametrize("high", [1, 7, 1 << 20, 1 << 40, 1 << 61])
def test_packed_order_is_the_stable_argsort(high: int) -> None:
    """Many ties (small keys), wide keys, and keys too wide to pack with their positions (argsort then)."""
    keys = np.random.default_rng(high % 1000).integers(0, high, size=5_000, dtype=np.int64)

    order, sorted_keys = _stable_order(keys)

    expected = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(sorted_keys, keys[expected])


def test_packed_order_of_no_keys() -> None:
    order, sorted_keys = _stable_order(np.zeros(0, dtype=np.int64))

    assert len(order) == 0 and len(sorted_keys) == 0
