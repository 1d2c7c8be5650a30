"""The temporary Prefect server of `isoaudit run`: the services it runs (as the server reports them), and how
it is launched with the command and serves only once the input is valid."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from isoaudit import prefect_server

pytestmark = pytest.mark.prefect


def test_the_temporary_server_runs_no_automations_or_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PREFECT_API_URL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    # As in a command's process: no Prefect API named (this session's harness names one).
    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        prefect_server.started_early(prefect_server.launch()) as server,
    ):
        assert server is not None
        with prefect_server.serving(server):
            settings = httpx.get(f"{server.api_url}/admin/settings", timeout=30).json()
    assert settings["server"]["analytics_enabled"] is False
    assert settings["server"]["services"]["triggers"]["enabled"] is False  # automations and their actions
    # What the run needs stays on: its task runs and events are recorded in Prefect's database.
    assert settings["server"]["services"]["task_run_recorder"]["enabled"] is True
    assert settings["server"]["services"]["event_persister"]["enabled"] is True


def test_a_server_never_told_to_serve_ends_having_written_nothing(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_API")}
    finished = subprocess.run(  # its stdin ends without the line that lets it serve
        [sys.executable, "-m", "isoaudit.prefect_server_process"],
        stdin=subprocess.DEVNULL,
        env={**environment, "PREFECT_HOME": str(home)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert not (home / "prefect.db").exists()


def test_bad_input_to_a_run_exits_2_and_stops_the_server_launched_with_the_command(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_API")}
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("isoaudit")), "run", "--bucket", "Not_A_Bucket"],
        env={**environment, "PREFECT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "isoaudit: invalid configuration: bucket: expected an S3 bucket name "
        "(3-63 lowercase letters, digits, dots, hyphens)"
    ]
    deadline = time.monotonic() + 30
    while _processes_with(f"PREFECT_HOME={home}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(f"PREFECT_HOME={home}") == []
    assert not (home / "prefect.db").exists()


def _processes_with(variable: str) -> list[int]:
    """Live processes whose environment holds `variable` (NAME=value), from Linux's /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            alive = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
            if (
                entry.name.isdigit()
                and alive
                and variable.encode() in (entry / "environ").read_bytes().split(b"\0")
            ):
                found.append(int(entry.name))
    return found
