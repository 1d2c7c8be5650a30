"""The Methodology sheet: how every number of the workbook is computed, in plain words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from isoaudit.metrics.failures import FAILURE_CLASSES
from isoaudit.metrics.measures import RUN_KINDS, stored
from isoaudit.publish.excel_cells import (
    BODY_CHARACTERS_PER_WIDTH,
    NOTE_FONT,
    WRAPPED,
    Column,
    Kind,
    cell_font,
    fit_row_height,
    set_print_layout,
    wrapped_lines,
    write_table,
    write_text,
)

# How to read each failure class, in one line (shown beside the counts on the Failure causes sheet).
FAILURE_MEANINGS = {
    "missing_dependency": "A package is missing from the image; if isolated: update the base image",
    "network_blocked": "The code reached for the network: bring data and packages in",
    "credentials_unavailable": "No AWS credentials in the container: the script calls AWS itself",
    "data_access": "The script reads or writes S3 itself instead of using the job's channels",
    "other": "Any other failure: not a cost of isolation",
}

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "What is counted",
        (
            f"Every SageMaker {RUN_KINDS} job created in the week, in every account and region "
            "of the organization that isoaudit audits. A week is the ISO week (Monday to Sunday) of the "
            "job's creation time, in UTC. Every date and time in this workbook is UTC; Excel has no time "
            "zones, so they are written as plain UTC wall-clock times.",
            "Each run is counted once. A hyperparameter tuning job is a launcher: the training jobs it "
            "launched are its runs and are counted; the tuning job itself is listed on the Violations sheet "
            "(with its number of training jobs and the isolation of its training job definition) but never "
            "counted again in jobs, violations, rates or episodes.",
            "Each job is attributed to a team (its team tag, else its account's tag in AWS Organizations, "
            "else the mapping file, else 'unattributed': a job is never dropped) and to an environment "
            "(production, non-production, sandbox or unknown). 'Production' figures count production alone.",
        ),
    ),
    (
        "Isolation: the only compliant setting",
        (
            "A job is compliant when it was created with network isolation on (EnableNetworkIsolation). Its "
            "container then has no network access: it cannot download code, call out, or send data out. A "
            "job created without the setting is not isolated.",
            "Isolation rate = compliant jobs / jobs created in the week, in percent, for all jobs and for "
            "production jobs. It is empty when there was no job. Rates below 80 % are shown in red.",
        ),
    ),
    (
        "Posture tiers: a VPC is not isolation",
        (
            "isolated+vpc: isolated and placed in a VPC. Best practice.",
            "isolated: isolated, not in a VPC. Compliant.",
            "vpc-only: in a VPC without isolation. NOT compliant: a VPC with a NAT gateway or an internet "
            "route still reaches the internet, so the VPC alone proves nothing. Highlighted in orange.",
            "open: neither isolated nor in a VPC. Not compliant.",
        ),
    ),
    (
        "Violations: new and repeat",
        (
            "A violation is a non-compliant job created in the week. Jobs are grouped into families: the "
            "line of runs that one fix repairs (a pipeline tag, else the job name without the timestamp the "
            "SageMaker SDK appends, else the hyperparameter tuning job's name), within one account and "
            "region.",
            "new: the violation opened an exposure episode (the family's first violation, or its first after"
            " a fix). repeat: the family's episode was already open. Many repeats and few new violations "
            "mean known problems keep running, rather than new ones appearing.",
        ),
    ),
    (
        "Exposure episodes and time to remediate",
        (
            "An episode opens with a family's first non-compliant job, stays open through its further non-"
            "compliant runs, and closes with the family's first compliant job. Time to remediate = close "
            "time - open time.",
            "MTTR is the mean time to remediate of the episodes closed in the week, in hours. It is always "
            "shown beside the median (half the episodes were fixed faster), the 90th percentile (nine in ten"
            " were fixed faster) and the number of episodes closed: one slow fix pulls the mean up, many "
            "quick fixes hide a slow tail, and a mean over two episodes says little.",
            "MTTR alone flatters: it only measures what was fixed. An exposure that is never fixed never "
            "enters it, so the open episodes, their age and the dormant ones are always reported next to it.",
        ),
    ),
    (
        "Open and dormant episodes",
        (
            "Open episodes are counted at the end of the week, dormant ones included; their age is measured "
            "at the time of the report. An episode is dormant when its family has not run for the dormancy "
            "period (90 days unless configured otherwise). A family that stopped running has not been "
            "remediated: if it runs again, it runs exposed.",
        ),
    ),
    (
        "Dependency failures: the cost side of isolation",
        (
            "Failed jobs are classified from their failure reason: missing_dependency (ModuleNotFoundError, "
            "'No module named', pip or conda install errors), network_blocked (could not resolve host, "
            "connection timed out or refused), credentials_unavailable (no credentials found inside the "
            "container), data_access (S3 access from the script), else other. Dependency failures count the "
            "classes missing_dependency and network_blocked.",
            "The Failure causes sheet shows every class by team, isolated or not: isolated jobs failing for "
            "missing_dependency say that a base image needs updating, not that isolation should be switched "
            "off.",
            *(f"{name}: {FAILURE_MEANINGS[name]}." for name in FAILURE_CLASSES),
        ),
    ),
    (
        "Money: list-price spend, exposed spend",
        (
            "Compute hours of a run = billable seconds x instances / 3600: BillableTimeInSeconds for "
            "training (net of Spot interruptions) plus warm-pool retained time, end - start for processing; "
            "a heterogeneous cluster adds its groups, each at its own instance type. A running job has none "
            "yet.",
            "Spend = those hours at the on-demand list price of each instance type, in the job's region, for "
            "training or processing, from the AWS Price List API (or a configured negotiated rate). Exposed "
            "spend is the spend of non-compliant runs; the isolated share is compliant spend / spend.",
            "A run whose price is unknown is unpriced: counted, shown empty, never $0. List price is not the "
            "bill (discounts, credits and Savings Plans are not in it): the job_billed_cost view shows the "
            "billed cost where a Cost and Usage Report is configured.",
        ),
    ),
    (
        "Images: which to rebuild first",
        (
            "The Images sheet takes every run ever seen, per container image (registry account, region, "
            "repository and tag): runs, teams, isolated share, failed runs by class, first and last use. "
            "Images are ranked by their isolated runs that failed for a missing package (the image lacks "
            "what the job tries to install at start-up: bake it in), then by every missing-package failure, "
            "network-blocked failures and runs.",
            "Images from AWS's own registries are named as such: AWS Deep Learning Containers, and AWS "
            "SageMaker images (built-in algorithms, XGBoost, scikit-learn...), from the registry accounts "
            "the SageMaker Python SDK knows. A missing package there is fixed by an image of yours built "
            "on top.",
        ),
    ),
    (
        "Preventive coverage",
        (
            "Share of member accounts on which a service control policy in effect (attached to the account, "
            "an OU above it or the root) denies creating training jobs without network isolation (IAM "
            "condition key sagemaker:NetworkIsolation). A policy counts only if it also denies requests that"
            " omit the parameter: a plain Bool test lets those through, so it takes BoolIfExists false, or "
            "Bool false together with a Null true statement.",
        ),
    ),
    (
        "Audit coverage and stale data",
        (
            "Audit coverage = account-regions audited successfully / account-regions in scope. An account-"
            "region that could not be audited is a gap: it is listed by name and reason, and never counted "
            "as compliant. 'skipped' means the region is not enabled in the account.",
            "In trends, an account missed in a week carries its last known state forward and is counted as "
            "stale, so a partial run does not make the trend jump.",
        ),
    ),
)

TEXT_WIDTH = 134  # characters across the merged A:C text block
HEADING_FONT = cell_font(bold=True, size=12, color="1F4E78")
TITLE_FONT = cell_font(bold=True, size=16, color="1F4E78")
DICTIONARY_COLUMNS = (
    Column("Column", "column", Kind.TEXT, "Column header on the data sheets", 26),
    Column(
        "Meaning",
        "meaning",
        Kind.TEXT,
        "What the column holds, from isoaudit's table definitions",
        78,
        wrap=True,
    ),
    Column("Sheets", "sheet", Kind.TEXT, "Sheets that have the column", 30, wrap=True),
)


def write_methodology(sheet: Worksheet, *, columns_by_sheet: Mapping[str, Sequence[Column]]) -> None:
    """Definitions first, then every column of the data sheets with its meaning from isoaudit.schema."""
    listed = pd.DataFrame(
        [
            {"sheet": sheet_name, "column": column.header, "meaning": column.description}
            for sheet_name, columns in columns_by_sheet.items()
            for column in columns
        ]
    )
    # A column shared by several sheets (Teams and Accounts have the same measures) is listed once.
    dictionary = listed.groupby(["column", "meaning"], sort=False)["sheet"].agg(", ".join).reset_index()
    row = 1
    write_text(sheet.cell(row=row, column=1), "How each number is computed")
    sheet.cell(row=row, column=1).font = TITLE_FONT
    for heading, paragraphs in (*SECTIONS, measure_section()):
        row += 2
        write_text(sheet.cell(row=row, column=1), heading)
        sheet.cell(row=row, column=1).font = HEADING_FONT
        for paragraph in paragraphs:
            row += 1
            _write_paragraph(sheet, row=row, text=paragraph)
    row += 2
    write_text(sheet.cell(row=row, column=1), "Column definitions")
    sheet.cell(row=row, column=1).font = HEADING_FONT
    row += 1
    note = sheet.cell(row=row, column=1)
    write_text(note, "The same meanings appear as a comment on each column header of the data sheets.")
    note.font = NOTE_FONT
    area = write_table(sheet, frame=dictionary, columns=DICTIONARY_COLUMNS, header_row=row + 1)
    # No frozen or repeated header here: the prose above the dictionary is read from the top.
    sheet.auto_filter.ref = area.ref
    set_print_layout(sheet, title_rows=None, fit_height=0)


def measure_section() -> tuple[str, tuple[str, ...]]:
    """Every weekly measure, as declared (isoaudit.metrics.measures): its header, column and definition."""
    return (
        "Weekly measures (the columns of weekly_kpis and of the scorecard views)",
        tuple(
            f"{measure.header} ({measure.name}, {measure.unit.name}): {measure.definition}."
            for measure in stored()
        ),
    )


def _write_paragraph(sheet: Worksheet, *, row: int, text: str) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    cell = sheet.cell(row=row, column=1)
    write_text(cell, text)
    cell.alignment = WRAPPED
    fit_row_height(
        sheet, row=row, lines=wrapped_lines(text, characters=TEXT_WIDTH * BODY_CHARACTERS_PER_WIDTH)
    )
