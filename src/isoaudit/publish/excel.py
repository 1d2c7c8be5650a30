"""The weekly Excel workbook for FinOps teams, written from a WeeklyReport with openpyxl.

Sheets, in order: Summary (one landscape page), Teams, Accounts, Violations, Open exposures, Failure causes,
Images, Coverage, Methodology. Every column carries the meaning given in isoaudit.schema.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from isoaudit.metrics.coverage import gap_groups
from isoaudit.metrics.failures import FAILURE_CLASSES
from isoaudit.metrics.measures import HOURS, PERCENT, USD, Measure, stored
from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.excel_cells import (
    BAD_FILL,
    BAD_FONT,
    MUTED_FILL,
    WARN_FILL,
    WARN_FONT,
    Column,
    Kind,
    finish_data_sheet,
    highlight,
    place_chart,
    write_table,
)
from isoaudit.publish.excel_images import IMAGE_COLUMNS, write_images
from isoaudit.publish.excel_methodology import FAILURE_MEANINGS, write_methodology
from isoaudit.publish.excel_summary import LOW_ISOLATION_RATE, write_summary
from isoaudit.schema import ACCOUNTS, COVERAGE, EPISODES, JOB_FACTS, descriptions

FACT = descriptions(JOB_FACTS)
EPISODE = descriptions(EPISODES)
AUDIT = descriptions(COVERAGE)
ACCOUNT = descriptions(ACCOUNTS)

# An exposure open for longer than this is flagged on the Open exposures sheet.
LONG_EXPOSURE_DAYS = 30
FAILURE_CHART_ROWS = 16
# Gaps first: an account-region that could not be audited matters more than one that was.
COVERAGE_STATUS_ORDER = {"failed": 0, "skipped": 1, "audited": 2}


def measure_column(measure: Measure) -> Column:
    """A weekly measure's column on the Teams and Accounts sheets, as its declaration says."""
    kind = {PERCENT: Kind.RATE, HOURS: Kind.HOURS, USD: Kind.USD}.get(measure.unit, Kind.INTEGER)
    return Column(
        measure.header,
        measure.name,
        kind,
        measure.definition,
        measure.width,
        number_format=measure.unit.number_format,
    )


SCOPE_MEASURES = tuple(measure_column(measure) for measure in stored() if measure.on_sheets)
TEAM_COLUMNS = (Column("Team", "scope_value", Kind.TEXT, FACT["team"], 24), *SCOPE_MEASURES)
ACCOUNT_COLUMNS = (
    Column("Account id", "scope_value", Kind.TEXT, ACCOUNT["account_id"], 15),
    Column("Account name", "account_name", Kind.TEXT, ACCOUNT["account_name"], 24),
    *SCOPE_MEASURES,
)
VIOLATION_COLUMNS = (
    Column("Team", "team", Kind.TEXT, FACT["team"], 18),
    Column("Environment", "environment", Kind.TEXT, FACT["environment"], 14),
    Column("Account id", "account_id", Kind.TEXT, FACT["account_id"], 15),
    Column("Account name", "account_name", Kind.TEXT, ACCOUNT["account_name"], 22),
    Column("Region", "region", Kind.TEXT, FACT["region"], 13),
    Column("Posture tier", "posture", Kind.TEXT, FACT["posture"], 12),
    Column("Family", "family", Kind.TEXT, FACT["family"], 28),
    Column("Job name", "job_name", Kind.TEXT, FACT["job_name"], 40),
    Column(
        "Violation",
        "violation",
        Kind.TEXT,
        "new: opened an exposure episode (the family's first violation, or its first after a fix); "
        "repeat: the family's episode was already open; tuning job: listed, not counted (its training "
        "jobs are the runs)",
        10,
    ),
    Column(
        "Training jobs",
        "training_jobs",
        Kind.INTEGER,
        "Of a tuning job: the training jobs it launched, each counted as a run; empty for other jobs",
        9,
    ),
    Column("Created (UTC)", "creation_time", Kind.TIMESTAMP, FACT["creation_time"], 17),
    Column("Status", "status", Kind.TEXT, FACT["status"], 11),
    Column("Instance type", "instance_type", Kind.TEXT, FACT["instance_type"], 16),
    Column("Instances", "instance_count", Kind.INTEGER, FACT["instance_count"], 9),
    Column("Compute hours", "compute_hours", Kind.HOURS, FACT["compute_hours"], 10),
    Column("Spend (USD)", "spend_usd", Kind.USD, FACT["spend_usd"], 11),
    Column(
        "Console",
        "console_url",
        Kind.CONSOLE_LINK,
        "The job in the AWS console (link built by isoaudit from the region and job name)",
        15,
    ),
    Column("Tags", "tags_json", Kind.TEXT, FACT["tags_json"], 40),
)
EXPOSURE_COLUMNS = (
    Column("Team", "team", Kind.TEXT, EPISODE["team"], 18),
    Column("Environment", "environment", Kind.TEXT, EPISODE["environment"], 14),
    Column("Account id", "account_id", Kind.TEXT, EPISODE["account_id"], 15),
    Column("Account name", "account_name", Kind.TEXT, ACCOUNT["account_name"], 22),
    Column("Region", "region", Kind.TEXT, EPISODE["region"], 13),
    Column("Family", "family", Kind.TEXT, EPISODE["family"], 28),
    Column("Opened (UTC)", "opened_at", Kind.TIMESTAMP, EPISODE["opened_at"], 17),
    Column("Age (days)", "age_days", Kind.DAYS, "Report time - opened_at, in days", 10),
    Column("Last run (UTC)", "last_run_at", Kind.TIMESTAMP, EPISODE["last_run_at"], 17),
    Column("Non-compliant runs", "non_compliant_runs", Kind.INTEGER, EPISODE["non_compliant_runs"], 13),
    Column("Exposed spend (USD)", "exposed_spend_usd", Kind.USD, EPISODE["exposed_spend_usd"], 12),
    Column("State", "state", Kind.TEXT, EPISODE["state"], 10),
    Column("First job", "first_job_name", Kind.TEXT, EPISODE["first_job_name"], 40),
)
FAILURE_COLUMNS = (
    Column("Team", "team", Kind.TEXT, FACT["team"], 22),
    Column("Failure class", "failure_class", Kind.TEXT, FACT["failure_class"], 24),
    Column("Isolated jobs", "isolated", Kind.INTEGER, "Failed jobs of the week that ran with isolation", 11),
    Column(
        "Not isolated jobs", "not_isolated", Kind.INTEGER, "Failed jobs of the week without isolation", 11
    ),
    Column("Total", "total", Kind.INTEGER, "Failed jobs of the week", 9),
    Column(
        "Spend wasted (USD)",
        "spend_usd",
        Kind.USD,
        "Spend of those failed jobs at list price (priced jobs; empty when none is priced)",
        12,
    ),
)
FAILURE_CLASS_COLUMNS = (
    Column("Failure class", "failure_class", Kind.TEXT, FACT["failure_class"], 24),
    Column("Isolated", "isolated", Kind.INTEGER, "Failed jobs of the week that ran with isolation", 10),
    Column("Not isolated", "not_isolated", Kind.INTEGER, "Failed jobs of the week without isolation", 10),
    Column("Total", "total", Kind.INTEGER, "Failed jobs of the week", 9),
    Column("What it usually means", "meaning", Kind.TEXT, "How to read the class", 68),
)
COVERAGE_COLUMNS = (
    Column("Account id", "account_id", Kind.TEXT, AUDIT["account_id"], 15),
    Column("Account name", "account_name", Kind.TEXT, AUDIT["account_name"], 24),
    Column(
        "Region",
        "region",
        Kind.TEXT,
        f"{AUDIT['region']}. The failed regions of an account are one row per reason: the region, or "
        "how many (all 20 regions: every region in scope)",
        14,
    ),
    Column("Status", "status", Kind.TEXT, AUDIT["status"], 10),
    Column("Reason", "reason", Kind.TEXT, AUDIT["reason"], 50, wrap=True),
    Column("Listing", "listing", Kind.TEXT, AUDIT["listing"], 11),
    Column("Jobs seen", "jobs_seen", Kind.INTEGER, AUDIT["jobs_seen"], 10),
    Column("Audited at (UTC)", "audited_at", Kind.TIMESTAMP, AUDIT["audited_at"], 17),
)
PREVENTIVE_COLUMNS = (
    Column("Account id", "account_id", Kind.TEXT, ACCOUNT["account_id"], 15),
    Column("Account name", "account_name", Kind.TEXT, ACCOUNT["account_name"], 24),
    Column(
        "Covered by SCP",
        "covered",
        Kind.FLAG,
        "A service control policy in effect denies training jobs without network isolation, "
        "including requests that omit the parameter",
        10,
    ),
    Column("Policies", "policies", Kind.TEXT, "The policies that provide the coverage", 40),
)
COLUMNS_BY_SHEET = {
    "Teams": TEAM_COLUMNS,
    "Accounts": ACCOUNT_COLUMNS,
    "Violations": VIOLATION_COLUMNS,
    "Open exposures": EXPOSURE_COLUMNS,
    "Failure causes": (*FAILURE_COLUMNS, FAILURE_CLASS_COLUMNS[-1]),
    "Images": IMAGE_COLUMNS,
    "Coverage": (*COVERAGE_COLUMNS, *PREVENTIVE_COLUMNS[2:]),
}


def write_workbook(report: WeeklyReport, *, path: Path) -> Path:
    """Write the week's workbook to `path` (e.g. reports/isoaudit-2026-W47.xlsx) and return it."""
    workbook = Workbook()
    workbook.properties.title = f"isoaudit {report.week}"
    workbook.properties.creator = "isoaudit"
    summary = workbook.active
    summary.title = "Summary"
    write_summary(summary, report=report)
    _write_scope_sheet(workbook.create_sheet("Teams"), frame=report.teams, columns=TEAM_COLUMNS)
    _write_scope_sheet(workbook.create_sheet("Accounts"), frame=report.accounts, columns=ACCOUNT_COLUMNS)
    _write_violations(workbook.create_sheet("Violations"), report=report)
    _write_open_exposures(workbook.create_sheet("Open exposures"), report=report)
    _write_failure_causes(workbook.create_sheet("Failure causes"), report=report)
    write_images(workbook.create_sheet("Images"), report=report)
    _write_coverage(workbook.create_sheet("Coverage"), report=report)
    write_methodology(workbook.create_sheet("Methodology"), columns_by_sheet=COLUMNS_BY_SHEET)

    path.parent.mkdir(parents=True, exist_ok=True)
    # Save next to the target and rename, so a reader never opens a half-written workbook.
    partial = path.with_name(f".{path.name}.partial")
    workbook.save(partial)
    partial.replace(path)
    return path


def _write_scope_sheet(sheet: Worksheet, *, frame: pd.DataFrame, columns: tuple[Column, ...]) -> None:
    # Largest exposure first: the rows a reader should act on are at the top.
    ordered = frame.sort_values(
        ["violations", "episodes_open", "scope_value"], ascending=[False, False, True], na_position="last"
    )
    area = write_table(sheet, frame=ordered, columns=columns)
    key_columns = len(columns) - len(SCOPE_MEASURES)
    finish_data_sheet(sheet, area=area, frozen_columns=key_columns)
    for rate in ("isolation_rate", "production_isolation_rate"):
        highlight(
            sheet,
            area=area,
            source=rate,
            condition=f"AND(ISNUMBER({{cell}}),{{cell}}<{LOW_ISOLATION_RATE})",
            fill=BAD_FILL,
            font=BAD_FONT,
        )
    highlight(sheet, area=area, source="new_violations", condition="{cell}>0", font=BAD_FONT)
    highlight(sheet, area=area, source="tier_vpc_only", condition="{cell}>0", fill=WARN_FILL, font=WARN_FONT)
    highlight(sheet, area=area, source="tier_open", condition="{cell}>0", font=BAD_FONT)
    highlight(sheet, area=area, source="episodes_open", condition="{cell}>0", fill=BAD_FILL, font=BAD_FONT)
    highlight(
        sheet, area=area, source="episodes_dormant", condition="{cell}>0", fill=WARN_FILL, font=WARN_FONT
    )
    highlight(
        sheet, area=area, source="dependency_failures", condition="{cell}>0", fill=WARN_FILL, font=WARN_FONT
    )


def _write_violations(sheet: Worksheet, *, report: WeeklyReport) -> None:
    ordered = report.violations.sort_values(["team", "account_id", "creation_time"], na_position="last")
    area = write_table(sheet, frame=ordered, columns=VIOLATION_COLUMNS, empty_note="No violation this week.")
    finish_data_sheet(sheet, area=area, frozen_columns=1)
    highlight(sheet, area=area, source="violation", condition='{cell}="new"', font=BAD_FONT)
    # A VPC without isolation is the posture most often mistaken for compliant.
    highlight(
        sheet, area=area, source="posture", condition='{cell}="vpc-only"', fill=WARN_FILL, font=WARN_FONT
    )


def _account_names(report: WeeklyReport) -> dict[str, str]:
    """Account id -> name, from every frame that carries names (episodes do not)."""
    names: dict[str, str] = {}
    pairs = (
        (report.coverage, "account_id"),
        (report.preventive, "account_id"),
        (report.violations, "account_id"),
        (report.accounts, "scope_value"),
    )
    for frame, id_column in pairs:
        known = frame.dropna(subset=[id_column, "account_name"])
        names.update(zip(known[id_column], known["account_name"], strict=True))
    return names


def _write_open_exposures(sheet: Worksheet, *, report: WeeklyReport) -> None:
    episodes = report.open_exposures
    shaped = episodes.assign(
        account_name=episodes["account_id"].map(_account_names(report)),
        age_days=episodes["age_hours"] / 24,
    ).sort_values(["age_days", "team"], ascending=[False, True], na_position="last")
    area = write_table(sheet, frame=shaped, columns=EXPOSURE_COLUMNS, empty_note="No open exposure.")
    finish_data_sheet(sheet, area=area, frozen_columns=1)
    highlight(
        sheet,
        area=area,
        source="age_days",
        condition=f"{{cell}}>{LONG_EXPOSURE_DAYS}",
        fill=BAD_FILL,
        font=BAD_FONT,
    )
    highlight(sheet, area=area, source="state", condition='{cell}="dormant"', fill=MUTED_FILL)


def _class_order(failure_class: pd.Series) -> pd.Series:
    known = {name: rank for rank, name in enumerate(FAILURE_CLASSES)}
    return failure_class.map(known).fillna(len(known))


def _failure_table(failure_causes: pd.DataFrame, *, by: list[str]) -> pd.DataFrame:
    """Failed jobs summed by `by`: isolated, not isolated and total counts, classes in their fixed order."""
    isolated = failure_causes["network_isolation"].eq(True)
    shaped = failure_causes.assign(
        isolated=failure_causes["jobs"].where(isolated, 0),
        not_isolated=failure_causes["jobs"].where(~isolated, 0),
    )
    grouped = shaped.groupby(by, as_index=False, dropna=False)
    table = grouped[["isolated", "not_isolated"]].sum()
    table["spend_usd"] = grouped["spend_usd"].sum(min_count=1)["spend_usd"].to_numpy()
    table = table.assign(
        total=table["isolated"] + table["not_isolated"], class_rank=_class_order(table["failure_class"])
    )
    sort_by = ["class_rank" if column == "failure_class" else column for column in by]
    return table.sort_values(sort_by).drop(columns="class_rank")


def _write_failure_causes(sheet: Worksheet, *, report: WeeklyReport) -> None:
    by_team = _failure_table(report.failure_causes, by=["team", "failure_class"])
    area = write_table(sheet, frame=by_team, columns=FAILURE_COLUMNS, empty_note="No failed job this week.")
    finish_data_sheet(sheet, area=area, frozen_columns=1)
    # Isolated jobs missing a package point at a base image to update: the actionable cost of isolation.
    highlight(
        sheet,
        area=area,
        source="isolated",
        condition=f'AND({{cell}}>0,${area.first_cell("failure_class")}="missing_dependency")',
        fill=WARN_FILL,
        font=WARN_FONT,
    )

    by_class = _failure_table(report.failure_causes, by=["failure_class"])
    by_class = by_class.assign(meaning=by_class["failure_class"].map(FAILURE_MEANINGS))
    first_column = len(FAILURE_COLUMNS) + 2
    class_area = write_table(
        sheet, frame=by_class, columns=FAILURE_CLASS_COLUMNS, first_column=first_column, empty_note="—"
    )
    if by_class.empty:
        return
    chart = BarChart()
    # Horizontal bars leave room for the class names; maxMin keeps the table's order from the top.
    chart.type = "bar"
    chart.x_axis.scaling.orientation = "maxMin"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Failed jobs by class"
    chart.y_axis.title = "jobs"
    chart.y_axis.majorGridlines = None
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.legend.position = "b"
    counts = Reference(
        sheet,
        min_col=first_column + 1,
        max_col=first_column + 2,
        min_row=class_area.header_row,
        max_row=class_area.last_row,
    )
    chart.add_data(counts, titles_from_data=True)
    chart.set_categories(
        Reference(sheet, min_col=first_column, min_row=class_area.first_data_row, max_row=class_area.last_row)
    )
    top, left, right = (
        class_area.last_row + 2,
        class_area.letters["failure_class"],
        class_area.letters["total"],
    )
    place_chart(sheet, chart=chart, cells=f"{left}{top}:{right}{top + FAILURE_CHART_ROWS}")


def _write_coverage(sheet: Worksheet, *, report: WeeklyReport) -> None:
    # An account that failed everywhere for one reason is one row, as on the Summary and in the CLI.
    failed = gap_groups(report.coverage).assign(status="failed", region=lambda frame: frame["where"])
    reached = report.coverage[report.coverage["status"] != "failed"]
    coverage = pd.concat([failed, reached], ignore_index=True) if not failed.empty else reached
    ordered = coverage.assign(
        status_rank=coverage["status"].map(COVERAGE_STATUS_ORDER).fillna(len(COVERAGE_STATUS_ORDER))
    ).sort_values(["status_rank", "account_id", "region"])
    area = write_table(sheet, frame=ordered, columns=COVERAGE_COLUMNS, empty_note="No audit run this week.")
    finish_data_sheet(sheet, area=area, frozen_columns=0)
    highlight(sheet, area=area, source="status", condition='{cell}="failed"', fill=BAD_FILL, font=BAD_FONT)
    highlight(sheet, area=area, source="status", condition='{cell}="skipped"', fill=MUTED_FILL)

    preventive = report.preventive.sort_values(["covered", "account_id"])
    preventive_area = write_table(
        sheet,
        frame=preventive,
        columns=PREVENTIVE_COLUMNS,
        first_column=len(COVERAGE_COLUMNS) + 2,
        empty_note="No member account.",
    )
    highlight(
        sheet, area=preventive_area, source="covered", condition='{cell}="no"', fill=BAD_FILL, font=BAD_FONT
    )
