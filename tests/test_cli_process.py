"""`isoaudit run` leaves no process behind: killed with SIGKILL, its temporary Prefect server dies with it.

A real `isoaudit run` subprocess against the emulator of this test session; the test waits for the Prefect
server child to start, kills the run with SIGKILL (which no handler can catch), and checks the child ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization

pytestmark = pytest.mark.prefect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# How the temporary Prefect server is found among the run's children: the app it serves.
SERVER_APP = "prefect.server.api.server:create_app"


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may never reap an orphan)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def audit_run(
    emulator, tmp_path: Path, *, bucket: str, **environment: str
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a real `isoaudit run` on a one-account organization."""
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(AccountSpec("alpha", "alpha", "/Workloads/Production"),),
        jobs=(JobSpec("alpha", "us-east-1", "alpha-job", datetime.now(UTC) - timedelta(days=3), False),),
        bucket=bucket,
        regions=("us-east-1",),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_API", "AWS_", "ISOAUDIT_")) and name != "MOTO_ACCOUNT_ID"
    } | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [
        str(Path(sys.executable).with_name("isoaudit")), "run", "--bucket", organization.bucket,
        "--endpoint-url", emulator.url, "--role-name", spec.audit_role_name, "--regions", "us-east-1",
        "--out", str(tmp_path / "reports"),
    ]  # fmt: skip
    return command, env | environment


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_run_killed_with_sigkill_leaves_no_prefect_server_behind(emulator, tmp_path) -> None:
    command, env = audit_run(emulator, tmp_path, bucket="isoaudit-kill-lake")
    run = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr").open("w"),
        start_new_session=True,
    )
    server = None
    try:
        deadline = time.monotonic() + 180
        while server is None and time.monotonic() < deadline and run.poll() is None:
            server = next((pid for pid in children(run.pid) if SERVER_APP in command_line(pid)), None)
            time.sleep(0.2)
        assert server is not None, f"no Prefect server started: {(tmp_path / 'stderr').read_text()[-3000:]}"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
        deadline = time.monotonic() + 15
        while running(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(server), f"the Prefect server {server} outlived the killed run"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)  # whatever is left of the run's process group


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CLI starts Prefect's server on Linux")
def test_a_run_that_ends_returns_at_once_and_its_prefect_server_stops_by_itself(emulator, tmp_path) -> None:
    """The run asks its server to stop and does not wait for it (its shutdown is not the user's wait); the
    server still ends, and the run's result was complete when the run returned."""
    command, env = audit_run(emulator, tmp_path, bucket="isoaudit-end-lake")
    run = subprocess.Popen(
        [*command, "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr").open("w"),
        start_new_session=True,
    )
    servers: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while run.poll() is None and time.monotonic() < deadline:
            servers |= {pid for pid in children(run.pid) if SERVER_APP in command_line(pid)}
            time.sleep(0.05)
        output = run.communicate(timeout=30)[0]
        assert run.returncode == 0, (tmp_path / "stderr").read_text()[-3000:]
        assert json.loads(output)["workbook"], "the run returned before its result was complete"
        assert servers, f"no Prefect server started: {(tmp_path / 'stderr').read_text()[-3000:]}"
        deadline = time.monotonic() + 15
        while any(map(running, servers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in servers if running(pid)]
        assert not left, f"the Prefect server {left} outlived the run that ended"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CLI starts Prefect's server on Linux")
def test_a_prefect_server_that_cannot_start_is_one_line_and_exit_3_with_nothing_written(
    emulator, tmp_path
) -> None:
    unreachable = "sqlite+aiosqlite:////nonexistent-folder/prefect.db"
    command, env = audit_run(
        emulator, tmp_path, bucket="isoaudit-no-prefect-lake", PREFECT_API_DATABASE_CONNECTION_URL=unreachable
    )
    finished = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 3, finished.stderr[-3000:]
    lines = [line for line in finished.stderr.splitlines() if line.startswith("isoaudit:")]
    assert len(lines) == 1 and "Traceback" not in finished.stderr, finished.stderr[-3000:]
    assert "Prefect's temporary API server exited" in lines[0]
    assert "unable to open database file" in lines[0] and "PREFECT_API_URL" in lines[0]
    # The lock taken before the flow was given back, and the flow wrote nothing.
    s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="isoaudit-no-prefect-lake").get("Contents", [])]
    assert keys == []
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
