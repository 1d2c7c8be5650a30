"""The workbook's Images sheet: which container images to rebuild first (isoaudit.metrics.images)."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.excel_cells import (
    BAD_FILL,
    BAD_FONT,
    WARN_FILL,
    WARN_FONT,
    Column,
    Kind,
    finish_data_sheet,
    highlight,
    write_table,
)

IMAGE_COLUMNS = (
    Column(
        "Rank",
        "rank",
        Kind.INTEGER,
        "1: rebuild first. Order: isolated runs failing for a missing package, then every missing-package "
        "failure, then network-blocked failures, then runs",
        7,
    ),
    Column("Repository", "repository", Kind.TEXT, "Image repository (the URI without registry and tag)", 34),
    Column("Tag", "tag", Kind.TEXT, "Image tag, or its digest", 28),
    Column(
        "Registry",
        "registry",
        Kind.TEXT,
        "AWS Deep Learning Containers, AWS SageMaker images (built-in algorithms, XGBoost, scikit-learn...), "
        "own ECR (an account of yours) or outside ECR",
        24,
    ),
    Column("Registry account", "registry_account", Kind.TEXT, "Account of the ECR registry", 15),
    Column("Region", "region", Kind.TEXT, "Region of the ECR registry", 12),
    Column(
        "Runs",
        "jobs",
        Kind.INTEGER,
        "Training and processing jobs that ran it (a tuning job counts through its training jobs), ever",
        8,
    ),
    Column("Teams", "teams", Kind.INTEGER, "Teams whose runs used it", 7),
    Column("Team names", "team_names", Kind.TEXT, "Those teams", 28),
    Column("Isolated share", "isolated_share", Kind.RATE, "Runs with network isolation / runs", 10),
    Column("Failed runs", "failed", Kind.INTEGER, "Runs that failed, whatever the cause", 9),
    Column(
        "Missing package, isolated",
        "missing_dependency_isolated",
        Kind.INTEGER,
        "Isolated runs that failed for a missing package: bake it into the image",
        12,
    ),
    Column("Missing package", "missing_dependency", Kind.INTEGER, "Failed runs: missing_dependency", 10),
    Column("Network blocked", "network_blocked", Kind.INTEGER, "Failed runs: network_blocked", 10),
    Column(
        "No credentials", "credentials_unavailable", Kind.INTEGER, "Failed runs: credentials_unavailable", 10
    ),
    Column("Data access", "data_access", Kind.INTEGER, "Failed runs: data_access", 9),
    Column("Other failures", "other", Kind.INTEGER, "Failed runs: other", 9),
    Column("First used (UTC)", "first_used", Kind.TIMESTAMP, "Creation time of its first run", 17),
    Column("Last used (UTC)", "last_used", Kind.TIMESTAMP, "Creation time of its last run", 17),
    Column("Image URI", "image_uri", Kind.TEXT, "The whole image URI, as the jobs name it", 60),
)


def write_images(sheet: Worksheet, *, report: WeeklyReport) -> None:
    area = write_table(
        sheet, frame=report.images, columns=IMAGE_COLUMNS, empty_note="No job has run an image yet."
    )
    finish_data_sheet(sheet, area=area, frozen_columns=3)
    highlight(
        sheet,
        area=area,
        source="missing_dependency_isolated",
        condition="{cell}>0",
        fill=BAD_FILL,
        font=BAD_FONT,
    )
    highlight(
        sheet, area=area, source="network_blocked", condition="{cell}>0", fill=WARN_FILL, font=WARN_FONT
    )
