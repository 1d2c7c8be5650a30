"""The executive page and the report's email, from the hand-built report: what they show, that AWS text
stays text, that a team's slice holds only its rows, and what a real browser draws (headless Chromium)."""

from __future__ import annotations

import dataclasses
import email
import re
import shutil
import struct
import subprocess
import zlib
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.email_message import Attachment, build_message, subject
from isoaudit.publish.html_page import render_page, write_page
from isoaudit.publish.team_slice import team_report
from tests.report_factory import LEGACY, WEEK, build_report

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def report() -> WeeklyReport:
    built = build_report()
    return dataclasses.replace(built, trend=built.trend.assign(audit_coverage=80.0))


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    return elements


def test_page_shows_the_headline_with_its_change_the_trend_the_exposed_teams_and_the_gaps(
    report: WeeklyReport,
) -> None:
    text = " ".join(parsed(render_page(report)).text)
    assert f"week {WEEK}" in text
    assert f"{report.org['isolation_rate']:.1f} %" in text
    change = report.org["isolation_rate"] - report.previous_org["isolation_rate"]
    assert f"{change:+.1f} pp" in text
    for week in report.trend["week"]:
        assert week in text
    assert "fraud-detection" in text
    # legacy-data failed in both its regions for one reason: one line.
    assert text.count(LEGACY) == 1
    assert "all 2 regions" in text


def test_trend_bars_are_css_widths_of_the_isolation_rate(report: WeeklyReport) -> None:
    widths = [
        float(match)
        for _, attrs in parsed(render_page(report)).tags
        # Each bar is a colored div inside a grey track of full width.
        for match in re.findall(
            r"^background:#(?!F3F4F6)\w+;width:([\d.]+)%;height:12px$", attrs.get("style") or ""
        )
    ]
    assert widths == pytest.approx(list(report.trend["isolation_rate"].round(1)))


def test_page_loads_nothing_and_runs_nothing(report: WeeklyReport) -> None:
    elements = parsed(render_page(report))
    tags = {tag for tag, _ in elements.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "style"}
    for _, attrs in elements.tags:
        assert not any(name.startswith("on") for name in attrs)
        assert not {"src", "href"} & set(attrs)


def hostile(report: WeeklyReport) -> WeeklyReport:
    return dataclasses.replace(
        report,
        teams=report.teams.assign(scope_value=HOSTILE, episodes_open=3),
        coverage=report.coverage.assign(account_name=HOSTILE, reason=HOSTILE),
        audience=HOSTILE,
    )


def test_aws_text_is_escaped_never_markup(report: WeeklyReport) -> None:
    page = render_page(hostile(report))
    elements = parsed(page)
    assert "<script" not in page.lower()
    assert {tag for tag, _ in elements.tags}.isdisjoint({"script", "img"})
    assert HOSTILE in "".join(elements.text)  # shown to the reader as it is, as text


def test_page_is_written_where_asked(report: WeeklyReport, tmp_path: Path) -> None:
    path = write_page(report, path=tmp_path / f"isoaudit-{WEEK}.html", workbook_note="Workbook: s3://b/k")
    assert path.read_text(encoding="utf-8") == render_page(report, workbook_note="Workbook: s3://b/k")


def test_a_team_slice_holds_only_that_teams_rows(report: WeeklyReport) -> None:
    team = "fraud-detection"
    sliced = team_report(report, team)
    assert sliced.audience == team
    for frame in (sliced.violations, sliced.open_exposures, sliced.failure_causes):
        assert set(frame["team"]) == {team}
    assert list(sliced.teams["scope_value"]) == [team]
    assert sliced.accounts.empty and sliced.environments.empty and sliced.job_kinds.empty
    row = report.teams.set_index("scope_value").loc[team]
    assert sliced.org["violations"] == row["violations"]
    assert sliced.org["audit_coverage"] == report.org["audit_coverage"]
    assert len(sliced.violations) == int((report.violations["team"] == team).sum())


def test_a_team_without_jobs_gets_zero_counts_and_unknown_rates(report: WeeklyReport) -> None:
    sliced = team_report(report, "no-such-team")
    assert sliced.org["jobs"] == 0 and sliced.org["violations"] == 0
    assert pd.isna(sliced.org["isolation_rate"])
    assert sliced.violations.empty and sliced.teams.empty


def message(raw: bytes) -> EmailMessage:
    parsed_message = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed_message, EmailMessage)
    return parsed_message


WORKBOOK = Attachment("isoaudit-2026-W47.xlsx", b"PK\x03\x04" + bytes(300_000), "s3://lake/r/k.xlsx")


def test_the_workbook_is_attached_under_the_size_limit(report: WeeklyReport) -> None:
    raw, attached = build_message(
        report, sender="a@b.example", recipients=["c@d.example"], attachment=WORKBOOK, size_limit=10**7
    )
    sent = message(raw)
    assert attached
    (part,) = list(sent.iter_attachments())
    assert part.get_filename() == WORKBOOK.filename
    assert part.get_content() == WORKBOOK.content
    assert sent["Subject"] == subject(report)


def test_over_the_size_limit_the_workbook_is_named_by_its_s3_key_instead(report: WeeklyReport) -> None:
    raw, attached = build_message(
        report, sender="a@b.example", recipients=["c@d.example"], attachment=WORKBOOK, size_limit=200_000
    )
    sent = message(raw)
    assert not attached
    assert list(sent.iter_attachments()) == []
    assert len(raw) <= 200_000
    for kind in ("plain", "html"):
        body = sent.get_body(preferencelist=(kind,)).get_content()
        assert "too large to attach" in body and WORKBOOK.s3_uri in body


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (apt-get install -y chromium)")
def test_chromium_renders_the_page(report: WeeklyReport, tmp_path: Path) -> None:
    page = write_page(hostile(report), path=tmp_path / "page.html")
    png = tmp_path / "page.png"
    subprocess.run(
        [str(ROOT / "scripts" / "render_page.sh"), str(page), str(png), "900x1200"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert png_size(png) == (900, 1200)
    # Not a blank page: the compressed image data is far larger than a white canvas's.
    assert len(zlib.compress(png.read_bytes())) > 20_000
