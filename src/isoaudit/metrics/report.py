"""The weekly report: everything the publishers show, computed once."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class WeeklyReport:
    """One ISO week's KPIs. Frames follow the schemas in isoaudit.schema where named.

    - org: the WEEKLY_KPIS row of scope "org" for the week, plus `preventive_coverage` and
      `audit_coverage` (percent, 0-100).
    - previous_org: the same for the week before (None when there is no history).
    - teams / accounts / environments / job_kinds: WEEKLY_KPIS rows of that scope for the week
      (accounts carry an extra `account_name` column).
    - trend: WEEKLY_KPIS rows of scope "org" for the trailing weeks, oldest first.
    - team_trend: WEEKLY_KPIS rows of scope "team" for the trailing weeks.
    - violations: JOB_FACTS rows of non-compliant jobs created in the week, plus `violation`
      ("new" or "repeat"), `account_name` and `console_url`.
    - open_exposures: EPISODES rows whose state is "open" or "dormant", as of the report time.
    - failure_causes: failed jobs of the week by team, failure_class and network_isolation, column `jobs`.
    - coverage: COVERAGE rows of the run for the week.
    - preventive: one row per member account: account_id, account_name, covered (bool), policies (str).
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
