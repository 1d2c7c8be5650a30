"""A team's slice of the weekly report: what its lead needs to act on, and nothing of other teams.

The slice keeps the team's KPI row (shown as the Summary's indicators, with its trend and its change from
last week), its violations (with console links), its open exposures, its failed jobs and the images it
ran (with their organization-wide health). Per-account, per-environment and per-job-kind KPIs mix teams,
so a slice has none. The audit coverage and the SCP
coverage stay whole: which accounts could not be read concerns every team, and holds no job.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa

from isoaudit.metrics.report import WeeklyReport
from isoaudit.metrics.weeks import trailing_weeks
from isoaudit.schema import WEEKLY_KPIS

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COUNTS = frozenset(field.name for field in WEEKLY_KPIS if pa.types.is_integer(field.type))


def team_report(report: WeeklyReport, team: str) -> WeeklyReport:
    """The report of one team (a `team` value of the job facts, e.g. "fraud-ml")."""
    previous_week = trailing_weeks(report.week, 2)[0]
    trend = report.team_trend.loc[report.team_trend["scope_value"] == team]
    org_coverage = report.trend.set_index("week")["audit_coverage"]
    this_week = trend.loc[trend["week"] == report.week]
    last_week = trend.loc[trend["week"] == previous_week]
    return replace(
        report,
        audience=team,
        org=_with_org_coverage(this_week, report.org),
        previous_org=(
            None
            if report.previous_org is None or last_week.empty
            else _with_org_coverage(last_week, report.previous_org)
        ),
        teams=report.teams.loc[report.teams["scope_value"] == team].reset_index(drop=True),
        accounts=report.accounts.iloc[0:0],
        environments=report.environments.iloc[0:0],
        job_kinds=report.job_kinds.iloc[0:0],
        trend=trend.assign(audit_coverage=trend["week"].map(org_coverage)).reset_index(drop=True),
        team_trend=trend.reset_index(drop=True),
        violations=_rows_of(report.violations, team),
        open_exposures=_rows_of(report.open_exposures, team),
        failure_causes=_rows_of(report.failure_causes, team),
        images=_images_of(report.images, team),
    )


def file_safe(team: str) -> str:
    """A team name as it may appear in a file name or an S3 key (team names are tag values from AWS)."""
    return _UNSAFE.sub("-", team).strip("-.") or "team"


def _rows_of(frame: pd.DataFrame, team: str) -> pd.DataFrame:
    return frame.loc[frame["team"].astype(str) == team].reset_index(drop=True)


def _images_of(images: pd.DataFrame, team: str) -> pd.DataFrame:
    """The images the team ran, with their organization-wide health (an image fails for all who use it)."""
    ran = images["team_names"].astype(str).str.split(", ").map(lambda names: team in names)
    return images.loc[ran.to_numpy(dtype=bool)].reset_index(drop=True)


def _with_org_coverage(rows: pd.DataFrame, org: pd.Series) -> pd.Series:
    """The team's KPI row with the organization's audit and preventive coverage; a team without a job that
    week has every count at zero and every rate unknown."""
    if rows.empty:
        row = pd.Series({key: (0 if key in _COUNTS else np.nan) for key in org.index}, dtype=object)
    else:
        row = rows.iloc[0].copy()
    for key in ("preventive_coverage", "audit_coverage"):
        row[key] = org.get(key, np.nan)
    return row
