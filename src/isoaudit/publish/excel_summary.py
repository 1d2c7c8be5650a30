"""The Summary sheet: the week on one landscape page, each KPI beside its change since last week."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pandas as pd
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from isoaudit.job_kinds import run_kinds
from isoaudit.metrics.coverage import gap_groups
from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.excel_cells import (
    BAD_COLOR,
    GOOD_COLOR,
    NOTE_FONT,
    THIN_BOTTOM,
    WARN_FILL,
    WARN_FONT,
    Column,
    Kind,
    cell_font,
    highlight,
    is_missing,
    naive_utc,
    place_chart,
    set_print_layout,
    write_header,
    write_table,
    write_text,
    write_value,
)
from isoaudit.schema import COVERAGE, JOB_FACTS, WEEKLY_KPIS, descriptions

# Below this isolation rate (a fraction, as written in the cells) a rate is shown as bad.
LOW_ISOLATION_RATE = 0.8
TOP_EXPOSED_TEAMS = 5
# More gaps than this are left to the Coverage sheet, so the summary stays on one page.
MAX_SUMMARY_GAPS = 10
# Characters of a gap's reason that fit between its column and the right edge of the page.
MAX_SUMMARY_REASON = 80
NO_VALUE = "—"

KPI = descriptions(WEEKLY_KPIS)
TITLE_FONT = cell_font(bold=True, size=16, color="1F4E78")
SECTION_FONT = cell_font(bold=True, size=12, color="1F4E78")
IMPROVED_FONT = cell_font(color=GOOD_COLOR)
WORSENED_FONT = cell_font(color=BAD_COLOR)

# Summary layout: KPIs on the left (A-D), the trend chart on the right (G-K), full-width sections below;
# the chart's source table sits outside the print area (M onwards).
COLUMN_WIDTHS = {
    "A": 36,
    "B": 13,
    "C": 13,
    "D": 13,
    "E": 13,
    "F": 2,
    "G": 12,
    "H": 12,
    "I": 12,
    "J": 12,
    "K": 12,
}
PRINT_LAST_COLUMN = "K"
CHART_COLUMNS = ("G", "K")
TREND_FIRST_COLUMN = 13


class Better(Enum):
    """Which direction of change is an improvement, to color the change."""

    HIGHER = "higher"
    LOWER = "lower"
    NEITHER = "neither"


@dataclass(frozen=True)
class Indicator:
    label: str
    source: str
    kind: Kind
    better: Better
    detail: bool = False


INDICATORS = (
    Indicator(f"Jobs created ({' + '.join(run_kinds())})", "jobs", Kind.INTEGER, Better.NEITHER),
    Indicator("Isolation rate, all jobs", "isolation_rate", Kind.RATE, Better.HIGHER),
    Indicator("Isolation rate, production jobs", "production_isolation_rate", Kind.RATE, Better.HIGHER),
    Indicator("Violations (of those, not isolated)", "violations", Kind.INTEGER, Better.LOWER),
    Indicator("new (opened an exposure)", "new_violations", Kind.INTEGER, Better.LOWER, detail=True),
    Indicator("repeat (exposure already open)", "repeat_violations", Kind.INTEGER, Better.LOWER, detail=True),
    Indicator("MTTR, mean time to remediate (hours)", "mttr_hours", Kind.HOURS, Better.LOWER),
    Indicator("median (hours)", "median_ttr_hours", Kind.HOURS, Better.LOWER, detail=True),
    Indicator("90th percentile (hours)", "p90_ttr_hours", Kind.HOURS, Better.LOWER, detail=True),
    Indicator("episodes closed", "episodes_closed", Kind.INTEGER, Better.NEITHER, detail=True),
    Indicator("Open exposure episodes", "episodes_open", Kind.INTEGER, Better.LOWER),
    Indicator("of which dormant", "episodes_dormant", Kind.INTEGER, Better.LOWER, detail=True),
    Indicator("Dependency failures", "dependency_failures", Kind.INTEGER, Better.LOWER),
    Indicator("Spend, list price (USD)", "spend_usd", Kind.USD, Better.NEITHER),
    Indicator("Exposed spend (ran without isolation)", "exposed_spend_usd", Kind.USD, Better.LOWER),
    Indicator("isolated share of spend", "isolated_spend_share", Kind.RATE, Better.HIGHER, detail=True),
    Indicator(
        "burnt by dependency failures", "dependency_failure_spend_usd", Kind.USD, Better.LOWER, detail=True
    ),
    Indicator("unpriced jobs (price unknown)", "unpriced_jobs", Kind.INTEGER, Better.LOWER, detail=True),
    Indicator("Preventive coverage (SCP)", "preventive_coverage", Kind.RATE, Better.HIGHER),
    Indicator("Audit coverage", "audit_coverage", Kind.RATE, Better.HIGHER),
    Indicator("stale accounts (last known state)", "stale_accounts", Kind.INTEGER, Better.LOWER, detail=True),
)
INDICATOR_COLUMNS = (
    Column("Indicator", "label", Kind.TEXT, "See the Methodology sheet for how each number is computed"),
    Column("This week", "current", Kind.TEXT, "The value for the week of this report"),
    Column("Last week", "previous", Kind.TEXT, "The value for the week before"),
    Column("Change", "change", Kind.TEXT, "This week - last week; rates change in percentage points (pp)"),
)
CHANGE_FORMATS = {
    Kind.INTEGER: "+#,##0;-#,##0;0",
    Kind.RATE: '+0.0" pp";-0.0" pp";0.0" pp"',
    Kind.HOURS: "+#,##0.0;-#,##0.0;0.0",
    Kind.USD: '+"$"#,##0.00;-"$"#,##0.00;"$"0.00',
}
EXPOSED_TEAM_COLUMNS = (
    Column("Team", "scope_value", Kind.TEXT, descriptions(JOB_FACTS)["team"], COLUMN_WIDTHS["A"]),
    Column("Open episodes", "episodes_open", Kind.INTEGER, KPI["episodes_open"], COLUMN_WIDTHS["B"]),
    Column("of which dormant", "episodes_dormant", Kind.INTEGER, KPI["episodes_dormant"], COLUMN_WIDTHS["C"]),
    Column("Violations", "violations", Kind.INTEGER, KPI["violations"], COLUMN_WIDTHS["D"]),
    Column("Isolation rate", "isolation_rate", Kind.RATE, KPI["isolation_rate"], COLUMN_WIDTHS["E"]),
)
AUDIT = descriptions(COVERAGE)
GAP_COLUMNS = (
    Column("Account name", "account_name", Kind.TEXT, AUDIT["account_name"], COLUMN_WIDTHS["A"]),
    Column("Account id", "account_id", Kind.TEXT, AUDIT["account_id"], COLUMN_WIDTHS["B"]),
    Column(
        "Regions",
        "where",
        Kind.TEXT,
        "The region that failed, or how many did (all: every region in scope) for the same reason",
        COLUMN_WIDTHS["C"],
    ),
    Column("Status", "status", Kind.TEXT, AUDIT["status"], COLUMN_WIDTHS["D"]),
    Column("Reason", "reason", Kind.TEXT, AUDIT["reason"], COLUMN_WIDTHS["E"]),
)
# (WEEKLY_KPIS column, tier name, compliant), best posture first.
POSTURE_TIERS = (
    ("tier_isolated_vpc", "isolated+vpc", True),
    ("tier_isolated", "isolated", True),
    ("tier_vpc_only", "vpc-only", False),
    ("tier_open", "open", False),
)
POSTURE_COLUMNS = (
    Column("Posture tier", "tier", Kind.TEXT, descriptions(JOB_FACTS)["posture"], COLUMN_WIDTHS["G"]),
    Column("Jobs", "jobs", Kind.INTEGER, "Jobs created in the week with this posture", COLUMN_WIDTHS["H"]),
    Column(
        "Share of jobs", "share", Kind.RATE, "Jobs of the tier / jobs created in the week", COLUMN_WIDTHS["I"]
    ),
    Column(
        "Compliant",
        "compliant",
        Kind.FLAG,
        "Only network isolation makes a job compliant",
        COLUMN_WIDTHS["J"],
    ),
)
TREND_COLUMNS = (
    Column("Week", "week", Kind.TEXT, KPI["week"], 10),
    Column("Isolation rate", "isolation_rate", Kind.RATE, KPI["isolation_rate"], 15),
    Column("Production", "production_isolation_rate", Kind.RATE, KPI["production_isolation_rate"], 12),
    Column("Jobs", "jobs", Kind.INTEGER, KPI["jobs"], 9),
    Column("Violations", "violations", Kind.INTEGER, KPI["violations"], 10),
    Column("Exposed spend", "exposed_spend_usd", Kind.USD, KPI["exposed_spend_usd"], 13),
)


def _period_text(report: WeeklyReport) -> str:
    # period_end may be the exclusive next Monday or the last instant of Sunday: one microsecond back
    # lands on the week's last day either way.
    start = naive_utc(report.period_start)
    last = naive_utc(report.period_end - pd.Timedelta(microseconds=1))
    generated = naive_utc(report.generated_at)
    assert start is not None and last is not None and generated is not None
    return f"{start:%a %d %b %Y} to {last:%a %d %b %Y} (UTC) · generated {generated:%Y-%m-%d %H:%M} UTC"


def write_summary(sheet: Worksheet, *, report: WeeklyReport) -> None:
    sheet.sheet_view.showGridLines = False
    team = f" · team {report.audience}" if report.audience else ""
    write_text(sheet["A1"], f"SageMaker network isolation · week {report.week}{team}")
    sheet["A1"].font = TITLE_FONT
    write_text(sheet["A2"], _period_text(report))
    sheet["A2"].font = NOTE_FONT

    _section(sheet, row=4, column="A", title="Key indicators")
    last_indicator_row = _write_indicators(sheet, report=report, header_row=5)
    _write_trend(
        sheet, report=report, chart_cells=f"{CHART_COLUMNS[0]}5:{CHART_COLUMNS[1]}{last_indicator_row}"
    )

    exposed_row = last_indicator_row + 2
    _section(sheet, row=exposed_row, column="A", title="Teams with the most open exposure")
    exposed = report.teams[report.teams["episodes_open"].fillna(0) > 0].sort_values(
        ["episodes_open", "violations", "scope_value"], ascending=[False, False, True]
    )
    exposed_area = write_table(
        sheet,
        frame=exposed.head(TOP_EXPOSED_TEAMS),
        columns=EXPOSED_TEAM_COLUMNS,
        header_row=exposed_row + 1,
        empty_note="No open exposure episode.",
    )

    posture_last_row = _write_posture(sheet, report=report, first_row=exposed_row)

    last_row = _write_audit_coverage(
        sheet, report=report, first_row=max(exposed_area.last_row, posture_last_row) + 2
    )
    footnote = sheet.cell(row=last_row + 2, column=1)
    write_text(
        footnote,
        "Compliant means network isolation on: a VPC is not isolation. Spend is compute at AWS list prices "
        f"(not the bill). {report.pricing_note} How every number is computed: see the Methodology sheet.",
    )
    footnote.font = NOTE_FONT

    for letter, width in COLUMN_WIDTHS.items():
        sheet.column_dimensions[letter].width = width
    sheet.print_area = f"A1:{PRINT_LAST_COLUMN}{last_row + 2}"
    set_print_layout(sheet, title_rows=None, fit_height=1)


def _section(sheet: Worksheet, *, row: int, column: str, title: str) -> None:
    cell = sheet[f"{column}{row}"]
    write_text(cell, title)
    cell.font = SECTION_FONT


def _value(series: pd.Series | None, source: str) -> object:
    if series is None or source not in series.index or is_missing(series[source]):
        return None
    return series[source]


def _write_indicators(sheet: Worksheet, *, report: WeeklyReport, header_row: int) -> int:
    write_header(sheet, row=header_row, columns=INDICATOR_COLUMNS)
    row = header_row
    for indicator in INDICATORS:
        row += 1
        label = sheet.cell(row=row, column=1)
        write_text(label, indicator.label)
        label.alignment = Alignment(horizontal="left", indent=2 if indicator.detail else 0)
        label.font = cell_font(bold=not indicator.detail)
        current = _value(report.org, indicator.source)
        previous = _value(report.previous_org, indicator.source)
        for column, value in ((2, current), (3, previous)):
            cell = sheet.cell(row=row, column=column)
            if value is None:
                write_text(cell, NO_VALUE)
            else:
                write_value(cell, value, indicator.kind)
            cell.alignment = Alignment(horizontal="right")
        _write_change(sheet.cell(row=row, column=4), indicator=indicator, current=current, previous=previous)
        for column in range(1, 5):
            sheet.cell(row=row, column=column).border = THIN_BOTTOM
    return row


def _write_change(cell: Cell, *, indicator: Indicator, current: object, previous: object) -> None:
    cell.alignment = Alignment(horizontal="right")
    if current is None or previous is None:
        write_text(cell, NO_VALUE)
        return
    # Rates are 0-100 in the report, so their difference is already in percentage points.
    change = float(current) - float(previous)  # type: ignore[arg-type]
    cell.value = round(change) if indicator.kind is Kind.INTEGER else change
    cell.number_format = CHANGE_FORMATS[indicator.kind]
    if change and indicator.better is not Better.NEITHER:
        improved = (change > 0) == (indicator.better is Better.HIGHER)
        cell.font = IMPROVED_FONT if improved else WORSENED_FONT


def _write_trend(sheet: Worksheet, *, report: WeeklyReport, chart_cells: str) -> None:
    _section(sheet, row=4, column="G", title="Isolation rate and exposed spend, trailing weeks")
    source_title = sheet.cell(row=4, column=TREND_FIRST_COLUMN)
    write_text(source_title, "Chart data (not printed)")
    source_title.font = NOTE_FONT
    area = write_table(
        sheet,
        frame=report.trend,
        columns=TREND_COLUMNS,
        header_row=5,
        first_column=TREND_FIRST_COLUMN,
        empty_note="No history yet.",
    )
    if report.trend.empty:
        return
    chart = LineChart()
    chart.title = None
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.legend.position = "b"
    rates = Reference(
        sheet,
        min_col=TREND_FIRST_COLUMN + 1,
        max_col=TREND_FIRST_COLUMN + 2,
        min_row=area.header_row,
        max_row=area.last_row,
    )
    chart.add_data(rates, titles_from_data=True)
    chart.set_categories(
        Reference(sheet, min_col=TREND_FIRST_COLUMN, min_row=area.first_data_row, max_row=area.last_row)
    )
    for series in chart.series:
        series.smooth = False
        series.marker.symbol = "circle"
    # The money of the same weeks beside the rates: bars of exposed spend on their own (right) axis.
    exposed = BarChart()
    exposed.add_data(
        Reference(
            sheet,
            min_col=TREND_FIRST_COLUMN + len(TREND_COLUMNS) - 1,
            min_row=area.header_row,
            max_row=area.last_row,
        ),
        titles_from_data=True,
    )
    exposed.y_axis.axId = 200
    exposed.y_axis.number_format = '"$"#,##0'
    exposed.y_axis.crosses = "max"
    exposed.y_axis.delete = False
    chart += exposed
    place_chart(sheet, chart=chart, cells=chart_cells)


def _write_posture(sheet: Worksheet, *, report: WeeklyReport, first_row: int) -> int:
    """The week's jobs by posture tier, beside the exposed teams; returns the last row written."""
    _section(sheet, row=first_row, column="G", title="Posture of the week's jobs")
    counts = [_value(report.org, source) or 0 for source, _, _ in POSTURE_TIERS]
    jobs = _value(report.org, "jobs") or 0
    tiers = pd.DataFrame(
        {
            "tier": [tier for _, tier, _ in POSTURE_TIERS],
            "jobs": counts,
            "share": [100 * count / jobs if jobs else None for count in counts],  # type: ignore[operator]
            "compliant": [compliant for *_, compliant in POSTURE_TIERS],
        }
    )
    area = write_table(sheet, frame=tiers, columns=POSTURE_COLUMNS, header_row=first_row + 1, first_column=7)
    highlight(sheet, area=area, source="tier", condition='{cell}="vpc-only"', fill=WARN_FILL, font=WARN_FONT)
    return area.last_row


def _shorten(reason: object) -> object:
    if is_missing(reason) or len(str(reason)) <= MAX_SUMMARY_REASON:
        return reason
    return f"{str(reason)[: MAX_SUMMARY_REASON - 1]}…"


def _write_audit_coverage(sheet: Worksheet, *, report: WeeklyReport, first_row: int) -> int:
    """Counts by status, then the gaps by name and reason; returns the last row written."""
    _section(sheet, row=first_row, column="A", title="Audit coverage: what could not be audited")
    statuses = report.coverage["status"].value_counts()
    counts = sheet.cell(row=first_row + 1, column=1)
    write_text(
        counts,
        f"{statuses.get('audited', 0)} audited · {statuses.get('failed', 0)} failed · "
        f"{statuses.get('skipped', 0)} skipped (region not enabled), "
        f"of {len(report.coverage)} account-regions. "
        "A gap is never counted as compliant.",
    )
    # One row per account and reason (the CLI prints the same grouping).
    gaps = gap_groups(report.coverage).assign(status="failed")
    shown = gaps.head(MAX_SUMMARY_GAPS)
    area = write_table(
        sheet,
        frame=shown.assign(reason=shown["reason"].map(_shorten)),
        columns=GAP_COLUMNS,
        header_row=first_row + 2,
        empty_note="No gap: every account-region in scope was audited.",
    )
    last_row = area.last_row
    if len(gaps) > MAX_SUMMARY_GAPS:
        last_row += 1
        more = sheet.cell(row=last_row, column=1)
        write_text(more, f"… and {len(gaps) - MAX_SUMMARY_GAPS} more gaps: see the Coverage sheet.")
        more.font = NOTE_FONT
    return last_row
