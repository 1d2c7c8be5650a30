"""Progress while a run collects: rich's live bar on a terminal, plain log lines otherwise, nothing with
--json; the command line run for real (Prefect, emulator) with its output captured."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from rich.console import Console

from isoaudit import cli, progress
from isoaudit.emulator.organization import build_organization
from tests.test_weekly_audit import REGIONS, WEEK, spec


def test_the_live_bar_shows_accounts_jobs_gaps_elapsed_and_remaining() -> None:
    screen = io.StringIO()
    bar = progress.LiveBar(Console(file=screen, force_terminal=True, width=160))
    bar.started(accounts=3)
    bar.collected(done=1, jobs_seen=1_200, gaps=0)
    bar.collected(done=3, jobs_seen=2_396, gaps=20)
    bar.finished()
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()).rsplit("\r", 1)[-1]
    assert "collecting" in last and "3/3 accounts" in last
    assert "2,396 jobs seen" in last and "20 gaps" in last
    assert "elapsed" in last and "remaining" in last


def test_log_lines_come_at_the_start_now_and_then_and_at_the_end(caplog) -> None:
    caplog.set_level(logging.INFO, logger="isoaudit.progress")
    lines = progress.LogLines(every_seconds=3600)
    lines.started(accounts=3)
    lines.collected(done=1, jobs_seen=10, gaps=0)  # too soon after the last line: not logged
    lines.collected(done=3, jobs_seen=25, gaps=2)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "collecting 3 accounts"
    assert len(messages) == 2
    assert messages[1].startswith("collected 3/3 accounts, 25 jobs seen, 2 gaps, ")
    assert messages[1].endswith("elapsed, 0s remaining")


def test_the_reporter_follows_the_output() -> None:
    assert isinstance(progress.for_terminal(as_json=True, interactive=True), progress.Silent)
    assert isinstance(progress.for_terminal(as_json=False, interactive=False), progress.LogLines)
    assert isinstance(progress.for_terminal(as_json=False, interactive=True), progress.LiveBar)


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def progress_lines() -> Iterator[list[str]]:
    """What the progress logger says, recorded on the logger itself (Prefect reconfigures the root's
    handlers when a flow starts)."""
    logger = logging.getLogger("isoaudit.progress")
    handler = Recorded()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(scope="module")
def run_argv(emulator, prefect_harness, tmp_path_factory) -> list[str]:
    emulator.reset()
    organization = build_organization(endpoint_url=emulator.url, spec=spec())
    return [
        "run",
        "--bucket",
        organization.bucket,
        "--endpoint-url",
        emulator.url,
        "--role-name",
        organization.spec.audit_role_name,
        "--regions",
        ",".join(REGIONS),
        "--week",
        WEEK,
        "--out",
        str(tmp_path_factory.mktemp("reports")),
    ]


@pytest.mark.prefect
def test_run_without_a_terminal_logs_plain_progress_lines(run_argv, capsys, progress_lines) -> None:
    assert cli.main(run_argv) == 0
    lines = progress_lines
    assert lines[0] == "collecting 4 accounts"
    assert lines[-1].startswith("collected 4/4 accounts, ")
    assert ", 2 gaps, " in lines[-1]  # the account without the audit role, in both regions
    out = capsys.readouterr().out
    assert f"isoaudit {WEEK}" in out and "executive page: " in out
    assert "\x1b[" not in out  # no bar drawn into a pipe


@pytest.mark.prefect
def test_run_with_json_prints_only_json(run_argv, capsys, progress_lines) -> None:
    assert cli.main([*run_argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["period"]["week"] == WEEK
    assert document["gap_groups"][0]["where"] == "all 2 regions"
    assert progress_lines == []
