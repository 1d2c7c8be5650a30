"""The weekly report: everything the publishers show, computed once."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from isoaudit.config import AuditConfig
from isoaudit.job_kinds import console_url
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.counts import weekly_counts
from isoaudit.metrics.coverage import account_audits, audit_coverage, gap_groups, latest_status
from isoaudit.metrics.episodes import dormant_spans, every_episode_table, exposure_episodes
from isoaudit.metrics.images import image_health
from isoaudit.metrics.kpis import dormant_episodes, weekly_kpis
from isoaudit.metrics.measures import stored
from isoaudit.metrics.money import Rates
from isoaudit.metrics.predicates import launchers, runs_only
from isoaudit.metrics.preventive import PREVENTIVE_COLUMNS, preventive_rate
from isoaudit.metrics.weeks import ONE_WEEK, last_complete_week, trailing_weeks, week_start
from isoaudit.schema import JOB_FACTS, conform

__all__ = [
    "KpiTables",
    "WeeklyReport",
    "build_report",
    "console_url",
    "kpi_tables",
    "last_complete_week",
    "report_from_tables",
    "report_json",
]

_GAP_KEYS = {"account": "account_id", "account_name": "account_name", "region": "region", "status": "status",
             "reason": "reason"}  # fmt: skip


@dataclass(frozen=True)
class WeeklyReport:
    """One ISO week's KPIs. Frames follow the schemas in isoaudit.schema where named.

    - org: the WEEKLY_KPIS row of scope "org" for the week, plus `preventive_coverage` and
      `audit_coverage` (percent, 0-100; NaN when unknown).
    - previous_org: the same for the week before (None when there is no history). Its
      preventive_coverage is NaN: SCPs are read as they are now, not as they were.
    - teams / accounts / environments / job_kinds: WEEKLY_KPIS rows of that scope for the week
      (accounts carry an extra `account_name` column).
    - trend: WEEKLY_KPIS rows of scope "org" for the trailing weeks, oldest first, plus `audit_coverage`.
    - team_trend: WEEKLY_KPIS rows of scope "team" for the trailing weeks.
    - violations: JOB_FACTS rows of non-compliant jobs created in the week, plus `violation`
      ("new" or "repeat"; "tuning job" for a tuning job, listed but not counted: its training jobs are the
      runs), `training_jobs` (for a tuning job, the training jobs it launched; NA otherwise),
      `account_name` and `console_url`.
    - open_exposures: EPISODES rows whose state is "open" or "dormant", as of the report time.
    - failure_causes: failed runs (not tuning jobs) of the week by team, failure_class and network_isolation,
      columns `jobs` and `spend_usd` (their spend, NaN when none is priced).
    - coverage: COVERAGE rows of the run for the week (the latest row of each account-region).
    - preventive: one row per member account: account_id, account_name, covered (bool), policies (str).
    - images: image health (isoaudit.metrics.images.IMAGE_COLUMNS) over every run known, rank order.
    - audience: None for the organization's report, else the team whose slice this is (see
      isoaudit.publish.team_slice).
    - pricing_note: why prices are missing, when the Price List API could not be read ("" otherwise).
    """

    week: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    generated_at: pd.Timestamp
    org: pd.Series
    previous_org: pd.Series | None
    teams: pd.DataFrame
    accounts: pd.DataFrame
    environments: pd.DataFrame
    job_kinds: pd.DataFrame
    trend: pd.DataFrame
    team_trend: pd.DataFrame
    violations: pd.DataFrame
    open_exposures: pd.DataFrame
    failure_causes: pd.DataFrame
    coverage: pd.DataFrame
    preventive: pd.DataFrame
    images: pd.DataFrame
    audience: str | None = None
    # Why some jobs have no price, for the reader ("" when every price was read), e.g. the API refused.
    pricing_note: str = ""


@dataclass(frozen=True)
class KpiTables:
    """What the report is built from, computed once; the pipeline also stores them for Athena.

    - facts: JOB_FACTS rows of every job (plus the working columns `violation`, `remediated_at`,
      `next_run_at`, which conform() drops).
    - kpis: WEEKLY_KPIS rows of the trailing weeks and the week before them.
    - episodes: EPISODES as of the report time.
    """

    facts: pd.DataFrame
    kpis: pd.DataFrame
    episodes: pd.DataFrame


def kpi_tables(
    *,
    jobs: pd.DataFrame,
    accounts: pd.DataFrame,
    coverage: pd.DataFrame,
    config: AuditConfig,
    week: str,
    generated_at: pd.Timestamp,
    prices: pd.DataFrame | None = None,
) -> KpiTables:
    """The metrics' line of stages, each run once, in order:

    1-4. job_facts (isoaudit.metrics.attribution): attribution (team, environment) -> posture -> families
         -> history (each run's place in its family: new or repeat violation, remediation, next run);
    5.   episodes: every exposure episode of the runs (isoaudit.metrics.episodes), found once for both
         the weekly measures and the episodes as of the report time;
    6.   weekly measures (isoaudit.metrics.kpis) of the trend weeks and the week before, every scope: the
         counts of runs (isoaudit.metrics.counts) on a worker thread beside stage 5, then the episodes'
         measures beside the episodes as of the report time;
    then the report (report_from_tables) reads these tables and computes nothing again.

    `prices`: PRICES rows (None: no list price known; negotiated rates still apply).
    """
    facts = job_facts(jobs, accounts, config=config, rates=Rates.from_prices(prices, config.negotiated_rates))
    runs = runs_only(facts)  # a tuning job counts through its training jobs only: the runs, kept once
    weeks = sorted({trailing_weeks(week, 2)[0], *trailing_weeks(week, config.trend_weeks)})
    # Stage 6's counts read the runs alone: counted on a worker thread while the episodes are found, then the
    # episodes as of the report time are made there while stage 6 measures the episodes (the bincounts,
    # sorts and groupings work on whole arrays without holding the GIL).
    with ThreadPoolExecutor(max_workers=1) as worker:
        counts = worker.submit(weekly_counts, runs, weeks=weeks, audits=account_audits(coverage, weeks=weeks))
        every_episode = every_episode_table(runs)
        episodes = worker.submit(  # beside the episodes' weekly measures, once the counts are done
            exposure_episodes,
            runs,
            as_of=generated_at,
            dormant_days=config.dormant_days,
            every_episode=every_episode,
        )
        dormant = dormant_episodes(dormant_spans(runs, dormant_days=config.dormant_days), every_episode)
        kpis = weekly_kpis(
            runs,
            weeks=weeks,
            dormant_days=config.dormant_days,
            every_episode=every_episode,
            dormant=dormant,
            counts=counts.result(),
        )
    return KpiTables(facts=facts, kpis=kpis, episodes=episodes.result())


def build_report(
    *,
    jobs: pd.DataFrame,
    accounts: pd.DataFrame,
    coverage: pd.DataFrame,
    preventive: pd.DataFrame | None,
    config: AuditConfig,
    week: str,
    generated_at: pd.Timestamp,
    prices: pd.DataFrame | None = None,
) -> WeeklyReport:
    """The report of ISO `week` from the whole job history (JOBS), the accounts (ACCOUNTS), the audit
    runs (COVERAGE), preventive_coverage's output (None when the SCPs could not be read) and the prices
    (PRICES; None: none known).

    Open exposures are as of `generated_at`; every other number is about jobs created in the weeks shown.
    """
    tables = kpi_tables(
        jobs=jobs,
        accounts=accounts,
        coverage=coverage,
        config=config,
        week=week,
        generated_at=generated_at,
        prices=prices,
    )
    return report_from_tables(
        tables,
        accounts=accounts,
        coverage=coverage,
        preventive=preventive,
        config=config,
        week=week,
        generated_at=generated_at,
    )


def report_from_tables(
    tables: KpiTables,
    *,
    accounts: pd.DataFrame,
    coverage: pd.DataFrame,
    preventive: pd.DataFrame | None,
    config: AuditConfig,
    week: str,
    generated_at: pd.Timestamp,
) -> WeeklyReport:
    """The report of ISO `week` from tables computed by `kpi_tables`."""
    period_start = week_start(week)
    previous_week = trailing_weeks(week, 2)[0]
    trend_weeks = trailing_weeks(week, config.trend_weeks)
    facts, kpis, episodes = tables.facts, tables.kpis, tables.episodes
    names = _account_names(accounts, coverage)
    if preventive is None:
        preventive = pd.DataFrame({column: pd.Series(dtype=object) for column in PREVENTIVE_COLUMNS})
    preventive = preventive[list(PREVENTIVE_COLUMNS)].assign(
        account_name=lambda frame: frame["account_id"].map(names).fillna(frame["account_name"])
    )
    has_history = bool((facts["creation_time"] < period_start).any() or (coverage["audit_week"] < week).any())
    trend = _scope(kpis, trend_weeks, "org")
    in_week = facts.loc[(facts["week"] == week).to_numpy(dtype=bool)]
    # The coverage stage, once: each week's audit coverage and this week's latest status.
    audited = {label: audit_coverage(coverage, week=label) for label in {week, previous_week, *trend["week"]}}
    status = latest_status(coverage, weeks=[week])
    return WeeklyReport(
        week=week,
        period_start=period_start,
        period_end=period_start + ONE_WEEK,
        generated_at=pd.Timestamp(generated_at),
        org=_org(kpis, week=week, preventive=preventive_rate(preventive), audited=audited[week]),
        previous_org=(
            _org(kpis, week=previous_week, preventive=np.nan, audited=audited[previous_week])
            if has_history
            else None
        ),
        teams=_scope(kpis, [week], "team"),
        accounts=_scope(kpis, [week], "account").assign(
            account_name=lambda frame: frame["scope_value"].map(names)
        ),
        environments=_scope(kpis, [week], "environment"),
        job_kinds=_scope(kpis, [week], "job_kind"),
        trend=trend.assign(audit_coverage=[audited[label] for label in trend["week"]]),
        team_trend=_scope(kpis, trend_weeks, "team"),
        violations=_violations(in_week, names, launched=_launched(facts)),
        open_exposures=episodes.loc[episodes["state"] != "closed"].reset_index(drop=True),
        failure_causes=_failure_causes(in_week),
        coverage=status,
        preventive=preventive,
        images=image_health(facts),
    )


def report_json(report: WeeklyReport) -> dict[str, Any]:
    """The report as JSON-safe data: period, generated_at, org, previous_org, teams, trend, gaps (one per
    account-region not audited), gap_groups (the failed ones, one per account and reason: see
    `gap_groups`) and images; NaN becomes null, timestamps ISO 8601."""
    measures = [measure.name for measure in stored()]
    org_keys = [*measures, "preventive_coverage", "audit_coverage"]
    gaps = report.coverage.loc[report.coverage["status"] != "audited"]
    return {
        "period": {
            "week": report.week,
            "start": _json(report.period_start),
            "end": _json(report.period_end),
        },
        "generated_at": _json(report.generated_at),
        "org": {key: _json(report.org.get(key)) for key in org_keys},
        "previous_org": (
            None
            if report.previous_org is None
            else {key: _json(report.previous_org.get(key)) for key in org_keys}
        ),
        "teams": [
            {"team": row["scope_value"], **{key: _json(row[key]) for key in measures}}
            for row in report.teams.to_dict("records")
        ],
        "trend": [
            {"week": row["week"], **{key: _json(row[key]) for key in [*measures, "audit_coverage"]}}
            for row in report.trend.to_dict("records")
        ],
        "gaps": [
            {key: _json(row[column]) for key, column in _GAP_KEYS.items()}
            for row in gaps.sort_values(["account_id", "region"]).to_dict("records")
        ],
        "gap_groups": [
            {
                "account": row["account_id"],
                "account_name": row["account_name"] or None,
                "where": row["where"],
                "regions": list(row["regions"]),
                "reason": row["reason"],
            }
            for row in gap_groups(report.coverage).to_dict("records")
        ],
        "images": [
            {key: _json(value) for key, value in row.items()} for row in report.images.to_dict("records")
        ],
        "pricing_note": report.pricing_note or None,
    }


def _org(kpis: pd.DataFrame, *, week: str, preventive: float, audited: float) -> pd.Series:
    row = _scope(kpis, [week], "org").iloc[0]
    extra = {"preventive_coverage": preventive, "audit_coverage": audited}
    return pd.concat([row, pd.Series(extra, dtype=float)])


def _scope(kpis: pd.DataFrame, weeks: list[str], scope: str) -> pd.DataFrame:
    rows = kpis.loc[kpis["week"].isin(weeks) & (kpis["scope"] == scope)]
    return rows.sort_values(["week", "scope_value"], ignore_index=True)


def _account_names(accounts: pd.DataFrame, coverage: pd.DataFrame) -> pd.Series:
    """Account id -> name, from Organizations, else from the audit runs."""
    known = pd.concat([coverage[["account_id", "account_name"]], accounts[["account_id", "account_name"]]])
    known = known.dropna().astype(str)
    return known.drop_duplicates("account_id", keep="last").set_index("account_id")["account_name"]


def _launched(facts: pd.DataFrame) -> pd.Series:
    """Training jobs per (account_id, region, tuning job name), over the whole history."""
    children = facts.loc[
        (facts["job_kind"] == "training").to_numpy(dtype=bool) & (facts["tuning_job_name"] != "")
    ]
    keys = [children[column].astype(str) for column in ("account_id", "region", "tuning_job_name")]
    return children.groupby(keys).size()


def _violations(in_week: pd.DataFrame, names: pd.Series, *, launched: pd.Series) -> pd.DataFrame:
    rows = in_week.loc[~in_week["compliant"].to_numpy(dtype=bool)]
    facts = conform(rows, JOB_FACTS)
    tuning = launchers(facts["job_kind"])
    keys = pd.MultiIndex.from_arrays(
        [facts[column].astype(str) for column in ("account_id", "region", "job_name")]
    )
    counts = launched.reindex(keys, fill_value=0).to_numpy() if len(launched) else np.zeros(len(facts))
    training_jobs = pd.array(counts, dtype="Int64")
    training_jobs[~tuning] = pd.NA
    return facts.assign(
        violation=np.where(tuning, "tuning job", rows["violation"].astype(str).to_numpy()),
        training_jobs=training_jobs,
        account_name=facts["account_id"].map(names),
        console_url=[
            console_url(region=region, job_kind=kind, job_name=name)
            for region, kind, name in zip(facts["region"], facts["job_kind"], facts["job_name"], strict=True)
        ],
    )


def _failure_causes(in_week: pd.DataFrame) -> pd.DataFrame:
    failed = runs_only(in_week)
    failed = failed.loc[(failed["status"] == "Failed").to_numpy(dtype=bool)]
    frame = pd.DataFrame(
        {
            "team": failed["team"].astype(str).to_numpy(),
            "failure_class": failed["failure_class"].astype(str).to_numpy(),
            "network_isolation": failed["compliant"].to_numpy(dtype=bool),
            "spend_usd": failed["spend_usd"].to_numpy(dtype=float, na_value=np.nan),
        }
    )
    grouped = frame.groupby(["team", "failure_class", "network_isolation"])
    counts = pd.DataFrame({"jobs": grouped.size(), "spend_usd": grouped["spend_usd"].sum(min_count=1)})
    return counts.reset_index().sort_values(["team", "failure_class", "network_isolation"], ignore_index=True)


def _json(value: Any) -> Any:
    """A JSON-safe scalar: None for missing and NaN, ISO 8601 for timestamps, Python numbers."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value
