"""The executive page: one HTML page with the week's headline, written beside the workbook and sent as the
body of the report's email.

Mail clients are the constraint: inline styles and tables only, bars drawn with CSS widths, no script, no
remote image, no external stylesheet. Every text that came from AWS (team, account names, failure reasons)
goes through `html.escape`.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import pandas as pd

from isoaudit.metrics.coverage import gap_groups
from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.excel_cells import Kind
from isoaudit.publish.excel_summary import INDICATORS, TOP_EXPOSED_TEAMS, Better, Indicator

HEADLINE = tuple(indicator for indicator in INDICATORS if not indicator.detail)
MAX_PAGE_GAPS = 10
GOOD, BAD, MUTED, INK, ACCENT = "#2E7D32", "#C62828", "#6B7280", "#1F2937", "#1F4E78"
FONT = "font-family:Segoe UI,Helvetica,Arial,sans-serif"
CELL = f"padding:4px 8px;border-bottom:1px solid #E5E7EB;{FONT};font-size:13px;color:{INK}"
HEAD = f"{CELL};font-weight:600;color:{MUTED};text-align:left"
NUMBER = f"{CELL};text-align:right;white-space:nowrap"


def render_page(report: WeeklyReport, *, workbook_note: str = "") -> str:
    """The page as a complete HTML document; `workbook_note` (plain text) says where the workbook is."""
    audience = f" · team {escape(report.audience)}" if report.audience else ""
    start = report.period_start.strftime("%a %d %b %Y")
    end = (report.period_end - pd.Timedelta(microseconds=1)).strftime("%a %d %b %Y")
    parts = [
        f'<h1 style="{FONT};font-size:22px;color:{ACCENT};margin:0 0 4px">SageMaker network isolation · '
        f"week {escape(report.week)}{audience}</h1>",
        f'<p style="{FONT};font-size:12px;color:{MUTED};margin:0 0 16px">{start} to {end} (UTC) · '
        f"generated {report.generated_at:%Y-%m-%d %H:%M} UTC</p>",
        _section("Headline, with the change from last week"),
        _indicators(report),
        _section(f"Isolation rate and exposed spend, last {len(report.trend)} weeks"),
        _trend(report.trend),
        _section("Teams with the most open exposure"),
        _exposed_teams(report.teams),
        _section("Audit coverage"),
        _coverage(report),
        f'<p style="{FONT};font-size:12px;color:{MUTED};margin:16px 0 0">Compliant means network isolation '
        "on (EnableNetworkIsolation): a VPC is not isolation. Accounts that could not be audited are never "
        "counted as compliant. Spend is compute at AWS list prices, not the bill. "
        f"{escape(report.pricing_note)} {escape(workbook_note)}</p>",
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>isoaudit {escape(report.week)}{audience}</title></head>\n"
        f'<body style="margin:0;padding:24px;background:#FFFFFF">\n'
        f'<div style="max-width:760px;margin:0 auto">\n{body}\n</div>\n</body></html>\n'
    )


def write_page(report: WeeklyReport, *, path: Path, workbook_note: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(report, workbook_note=workbook_note), encoding="utf-8")
    return path


def _section(title: str) -> str:
    return f'<h2 style="{FONT};font-size:15px;color:{ACCENT};margin:20px 0 6px">{escape(title)}</h2>'


def _number(value: object, kind: Kind) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    if kind is Kind.RATE:
        return f"{number:.1f} %"
    if kind is Kind.HOURS:
        return f"{number:,.1f} h"
    if kind is Kind.USD:
        return f"${number:,.2f}"
    return f"{round(number):,}"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _change(indicator: Indicator, current: object, previous: object) -> str:
    if _missing(current) or _missing(previous):
        return f'<span style="color:{MUTED}">—</span>'
    change = float(current) - float(previous)  # type: ignore[arg-type]
    unit = " pp" if indicator.kind is Kind.RATE else (" h" if indicator.kind is Kind.HOURS else "")
    text = f"{change:+.1f}{unit}" if indicator.kind is not Kind.INTEGER else f"{round(change):+,}"
    if indicator.kind is Kind.USD:
        text = f"{'+' if change >= 0 else '-'}${abs(change):,.2f}"
    color = MUTED
    if change and indicator.better is not Better.NEITHER:
        color = GOOD if (change > 0) == (indicator.better is Better.HIGHER) else BAD
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    return f'<span style="color:{color}">{arrow} {escape(text)}</span>'


def _indicators(report: WeeklyReport) -> str:
    rows = []
    for indicator in HEADLINE:
        current = report.org.get(indicator.source)
        previous = None if report.previous_org is None else report.previous_org.get(indicator.source)
        rows.append(
            f'<tr><td style="{CELL}">{escape(indicator.label)}</td>'
            f'<td style="{NUMBER};font-weight:600;font-size:15px">{_number(current, indicator.kind)}</td>'
            f'<td style="{NUMBER}">{_change(indicator, current, previous)}</td></tr>'
        )
    return _table(["Indicator", "This week", "Change"], rows)


def _trend(trend: pd.DataFrame) -> str:
    if trend.empty:
        return _note("No week with jobs yet.")
    rows = []
    for row in trend.itertuples():
        rate = row.isolation_rate
        width = 0 if _missing(rate) else max(0.0, min(100.0, float(rate)))
        color = GOOD if width >= 80 else BAD
        bar = (
            f'<div style="background:#F3F4F6;width:100%;height:12px">'
            f'<div style="background:{color};width:{width:.1f}%;height:12px"></div></div>'
        )
        rows.append(
            f'<tr><td style="{CELL};white-space:nowrap">{escape(str(row.week))}</td>'
            f'<td style="{CELL};width:60%">{bar}</td>'
            f'<td style="{NUMBER}">{_number(rate, Kind.RATE)}</td>'
            f'<td style="{NUMBER}">{_number(row.violations, Kind.INTEGER)}</td>'
            f'<td style="{NUMBER}">{_number(row.exposed_spend_usd, Kind.USD)}</td></tr>'
        )
    return _table(["Week", "Isolation rate", "", "Violations", "Exposed spend"], rows)


def _exposed_teams(teams: pd.DataFrame) -> str:
    exposed = teams[teams["episodes_open"].fillna(0) > 0].sort_values(
        ["episodes_open", "violations", "scope_value"], ascending=[False, False, True]
    )
    if exposed.empty:
        return _note("No open exposure episode.")
    rows = [
        f'<tr><td style="{CELL}">{escape(str(row.scope_value))}</td>'
        f'<td style="{NUMBER}">{_number(row.episodes_open, Kind.INTEGER)}</td>'
        f'<td style="{NUMBER}">{_number(row.episodes_dormant, Kind.INTEGER)}</td>'
        f'<td style="{NUMBER}">{_number(row.violations, Kind.INTEGER)}</td>'
        f'<td style="{NUMBER}">{_number(row.isolation_rate, Kind.RATE)}</td></tr>'
        for row in exposed.head(TOP_EXPOSED_TEAMS).itertuples()
    ]
    return _table(["Team", "Open episodes", "of which dormant", "Violations", "Isolation rate"], rows)


def _coverage(report: WeeklyReport) -> str:
    statuses = report.coverage["status"].value_counts()
    summary = _note(
        f"{_number(report.org.get('audit_coverage'), Kind.RATE)} of the account-regions in scope audited: "
        f"{statuses.get('audited', 0)} audited, {statuses.get('failed', 0)} failed, "
        f"{statuses.get('skipped', 0)} skipped (region not enabled)."
    )
    gaps = gap_groups(report.coverage)
    if gaps.empty:
        return summary + _note("No gap: every account-region in scope was audited.")
    rows = [
        f'<tr><td style="{CELL}">{escape(str(row.account_name))}</td>'
        f'<td style="{CELL}">{escape(str(row.account_id))}</td>'
        f'<td style="{CELL};white-space:nowrap">{escape(str(row.where))}</td>'
        f'<td style="{CELL}">{escape(str(row.reason))}</td></tr>'
        for row in gaps.head(MAX_PAGE_GAPS).itertuples()
    ]
    more = (
        _note(f"… and {len(gaps) - MAX_PAGE_GAPS} more: see the Coverage sheet of the workbook.")
        if len(gaps) > MAX_PAGE_GAPS
        else ""
    )
    return summary + _table(["Account", "Account id", "Regions", "Why it was not audited"], rows) + more


def _table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f'<th style="{HEAD}">{escape(header)}</th>' for header in headers)
    return (
        '<table role="presentation" cellspacing="0" cellpadding="0" '
        f'style="border-collapse:collapse;width:100%"><tr>{head}</tr>{"".join(rows)}</table>'
    )


def _note(text: str) -> str:
    return f'<p style="{FONT};font-size:13px;color:{INK};margin:4px 0">{escape(text)}</p>'
