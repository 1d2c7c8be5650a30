"""The production path end to end, as README's "Schedule it" says: a real Prefect server, the `isoaudit`
process work pool, `prefect deploy --all` from prefect.yaml, a run of the deployment picked up by a worker.

Slow (about a minute): a Prefect server starts from an empty SQLite database in a temporary PREFECT_HOME,
and the worker runs the flow in its own subprocess, which imports Prefect, awswrangler and pandas anew.
The flow audits an organization built in the emulator of this test session, through its URL; the worker
gets dummy AWS credentials and none of the variables that would redirect or pin boto3
(AWS_ENDPOINT_URL, MOTO_ACCOUNT_ID, profiles). Every subprocess is bounded in time and its process group
is ended by the test that started it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization

pytestmark = pytest.mark.prefect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
DEPLOYMENT = "weekly_audit/weekly"
SERVER_START_TIMEOUT = 120
COMMAND_TIMEOUT = 120
WORKER_TIMEOUT = 420


@dataclass(frozen=True)
class PrefectServer:
    env: dict[str, str]  # what a Prefect command needs to reach this server, and only this one


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str


def run_bounded(args: list[str], *, env: dict[str, str], timeout: float) -> Finished:
    """Run a command from the project root; past `timeout`, end its whole process group and fail."""
    process = subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(args[1:])} took more than {timeout} s:\n{output[-4000:]}")
    return Finished(returncode=process.returncode, output=output)


def prefect(*args: str, env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> str:
    finished = run_bounded([PREFECT, *args], env=env, timeout=timeout)
    assert finished.returncode == 0, f"prefect {' '.join(args)} failed:\n{finished.output[-4000:]}"
    return finished.output


def isolated_env(*, home: Path, api_url: str) -> dict[str, str]:
    """This machine's environment without its Prefect and AWS settings, plus the test's own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "AWS_")) and name != "MOTO_ACCOUNT_ID"
    }
    return env | {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The emulator accepts any credentials; boto3 only needs some to sign.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = isolated_env(home=home, api_url=f"http://127.0.0.1:{port}/api")
    log = home / "server.log"
    started = time.monotonic()
    with log.open("w") as output:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
            cwd=home,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/api/health", process=process, log=log)
        print(f"\nprefect server ready in {time.monotonic() - started:.1f} s")
        yield PrefectServer(env=env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _wait_healthy(url: str, *, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prefect server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def deployed(server: PrefectServer) -> PrefectServer:
    prefect_yaml = (PROJECT_ROOT / "prefect.yaml").read_bytes()
    prefect("work-pool", "create", "isoaudit", "--type", "process", env=server.env)
    started = time.monotonic()
    prefect("--no-prompt", "deploy", "--all", env=server.env)
    print(f"prefect deploy --all took {time.monotonic() - started:.1f} s")
    assert (PROJECT_ROOT / "prefect.yaml").read_bytes() == prefect_yaml, "deploy rewrote prefect.yaml"
    return server


def inspect(kind: str, name: str, *, env: dict[str, str]) -> dict:
    return json.loads(prefect(kind, "inspect", name, "--output", "json", env=env))


def test_deployment_runs_every_monday_at_six_utc_on_the_isoaudit_pool(deployed: PrefectServer) -> None:
    deployment = inspect("deployment", DEPLOYMENT, env=deployed.env)
    (schedule,) = deployment["schedules"]
    assert schedule["schedule"]["cron"] == "0 6 * * 1"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["active"] is True
    assert deployment["work_pool_name"] == "isoaudit"
    assert deployment["entrypoint"] == "flows/weekly_audit.py:weekly_audit"
    assert deployment["parameters"] == {"config_file": "isoaudit.toml"}
    # Two runs of the deployment never overlap: the second waits (issue 11).
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"


def test_a_run_of_the_deployment_audits_the_organization_and_writes_the_workbook(
    deployed: PrefectServer, emulator, tmp_path: Path
) -> None:
    created = datetime.now(UTC) - timedelta(days=7)
    year, week_number, _ = created.isocalendar()
    week = f"{year}-W{week_number:02d}"
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(
            AccountSpec("prod", "ml-prod", "/Workloads/Production", {"team": "fraud", "environment": "prod"}),
            AccountSpec("dev", "ml-dev", "/Workloads/NonProduction", {"team": "vision"}),
        ),
        jobs=(
            JobSpec("prod", "us-east-1", "churn-a", created, network_isolation=True, vpc=True),
            JobSpec("prod", "us-east-1", "churn-b", created + timedelta(hours=2), network_isolation=None),
            JobSpec("dev", "us-east-1", "detector-a", created, network_isolation=False),
        ),
        bucket="isoaudit-deployment-lake",
        regions=("us-east-1",),
    )
    organization = build_organization(endpoint_url=emulator.url, spec=spec)
    config_file = tmp_path / "isoaudit.toml"
    config_file.write_text(
        f'bucket = "{organization.bucket}"\nrole_name = "{spec.audit_role_name}"\nregions = ["us-east-1"]\n'
    )
    reports = tmp_path / "reports"
    parameters = {
        "config_file": str(config_file),
        "week": week,
        "overrides": {"endpoint_url": emulator.url, "reports_dir": str(reports)},
    }
    created_run = prefect(
        "deployment", "run", DEPLOYMENT, "--params", json.dumps(parameters), env=deployed.env
    )
    found = re.search(r"UUID: ([0-9a-f-]{36})", created_run)
    assert found, created_run
    flow_run_id = found[1]

    started = time.monotonic()
    worker = run_bounded(
        [PREFECT, "worker", "start", "--pool", "isoaudit", "--run-once"],
        env=deployed.env,
        timeout=WORKER_TIMEOUT,
    )
    print(f"worker --run-once took {time.monotonic() - started:.1f} s")
    flow_run = inspect("flow-run", flow_run_id, env=deployed.env)
    assert flow_run["state_type"] == "COMPLETED", (
        f"flow run {flow_run['state_name']}: {flow_run['state'].get('message')}\n{worker.output[-6000:]}"
    )
    assert worker.returncode == 0
    assert flow_run["parameters"]["week"] == week
    assert (reports / f"isoaudit-{week}.xlsx").is_file()
    assert list((reports / "lake" / "jobs").rglob("*.parquet"))
