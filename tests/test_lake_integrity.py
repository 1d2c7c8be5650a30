"""Never a job twice: two runs at once, a lake already holding duplicate files, the run lock.

Each table holds each key once in S3, in the local copy and through `isoaudit query`, whatever the
interleaving of two writers; a second run while one holds the lake exits 3 on one line naming the holder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import awswrangler as wr
import pandas as pd
import pytest

from isoaudit import audit
from isoaudit.aws import lake, lake_mirror, preflight
from isoaudit.aws.lake import LAYOUTS
from isoaudit.aws.session import AwsSession
from isoaudit.cli import main
from isoaudit.collect import AuditRun
from isoaudit.config import AuditConfig, load_config
from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization
from tests.jobs_factory import job, jobs_frame

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
REGION = "us-east-1"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXIT_ENVIRONMENT = 3  # isoaudit.cli.EXIT_ENVIRONMENT (a literal, so that this module imports on older code)


def spec(bucket: str) -> OrganizationSpec:
    # Jobs of October and November: the jobs tables have two monthly partitions.
    jobs = tuple(
        JobSpec(account, REGION, f"{account}-job-{n:03d}", NOW - timedelta(days=50 - n), n % 2 == 0)
        for account in ("alpha", "beta")
        for n in range(40)
    )
    return OrganizationSpec(
        accounts=(
            AccountSpec("alpha", "alpha", "/Workloads/Production", tags={"team": "alpha"}),
            AccountSpec("beta", "beta", "/Workloads/NonProduction", tags={"team": "beta"}),
        ),
        jobs=jobs,
        bucket=bucket,
        regions=(REGION,),
    )


@pytest.fixture
def organization(emulator):
    emulator.reset()
    return build_organization(endpoint_url=emulator.url, spec=spec("isoaudit-integrity-lake"))


def config_for(emulator, organization, reports: Path) -> AuditConfig:
    return load_config(
        bucket=organization.bucket,
        endpoint_url=emulator.url,
        role_name=organization.spec.audit_role_name,
        regions=[REGION],
        reports_dir=str(reports),
    )


def audit_run(
    config: AuditConfig,
    *,
    at: datetime,
    aws: AwsSession | None = None,
    publish: bool = True,
    surveyed: bool = True,
) -> None:
    """One whole run without Prefect (the flow's steps), on its own session unless given one.

    `surveyed`: the lake is listed once, as under the run lock (preflight.survey_lake); else each read and
    write lists the files it needs right before (the best a run without the lock can do)."""
    run = AuditRun(run_id=f"run-{at:%H%M%S}-{threading.get_ident()}", audit_week="2026-W47", started_at=at)
    aws = aws or audit.management_session(config)
    files = preflight.survey_lake(aws=aws, config=config) if surveyed else None
    organization = audit.discover(aws=aws, config=config, run=run, lake_files=files)
    audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
    stored = audit.store(
        aws=aws, config=config, run=run, accounts=organization.accounts, audits=audits, lake_files=files
    )
    if publish:
        book = audit.price(aws=aws, config=config, run=run, stored=stored, lake_files=files)
        analysis = audit.analyse(config=config, run=run, stored=stored, policies=None, book=book)
        audit.publish(aws=aws, config=config, analysis=analysis, lake_files=files)


def assert_each_key_once(emulator, config: AuditConfig, expected_jobs: int) -> None:
    """In S3 (every file read, no de-duplication), in the local copy and through `isoaudit query`."""
    wr.config.s3_endpoint_url = emulator.url
    local_lake = config.reports_dir / "lake"
    for table, layout in LAYOUTS.items():
        files = wr.s3.list_objects(f"{config.lake_uri}/{table}/")
        folders = Counter(uri.rsplit("/", 1)[0] for uri in files)
        assert set(folders.values()) <= {1}, f"{table}: {folders}"
        on_s3 = wr.s3.read_parquet(files)
        assert not on_s3.duplicated(list(layout.key)).any(), table
        local = pd.concat([pd.read_parquet(path) for path in sorted((local_lake / table).rglob("*.parquet"))])
        assert len(local) == len(on_s3), table
        assert not local.duplicated(list(layout.key)).any(), table
    assert len(wr.s3.read_parquet(f"{config.lake_uri}/jobs/", dataset=True)) == expected_jobs
    for table, layout in LAYOUTS.items():
        keys = ", ".join(layout.key)
        sql = f"SELECT {keys}, count(*) AS n FROM {table} GROUP BY {keys} HAVING count(*) > 1"
        assert main(["query", "--lake", str(local_lake), "--format", "json", sql]) == 0
    assert (
        main(["query", "--lake", str(local_lake), "--format", "csv", "SELECT count(*) AS n FROM jobs"]) == 0
    )


def test_two_runs_writing_at_once_leave_each_key_once(emulator, organization, tmp_path, capsys) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    audit_run(config, at=NOW)
    # Both runs read the lake, then both write: the interleaving that doubled every table before the fix
    # (each run listed the files to replace before writing, and deleted only those).
    both_read = threading.Barrier(2, timeout=60)
    sessions = [audit.management_session(config) for _ in range(2)]
    for session in sessions:
        waited = []

        def wait_once(waited: list[int] = waited, **_: object) -> None:
            if not waited:
                waited.append(1)
                both_read.wait()

        session.boto3_session.events.register("before-call.s3.PutObject", wait_once)
    errors: list[BaseException] = []

    def run(aws: AwsSession, at: datetime) -> None:
        # Each its own local folder: two runs at once in one folder is what the run lock prevents.
        own = config.model_copy(update={"reports_dir": tmp_path / f"run-{at:%H}"})
        try:
            audit_run(own, at=at, aws=aws, surveyed=False)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(session, NOW + timedelta(hours=hour)))
        for hour, session in enumerate(sessions, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    lake_mirror.mirror(aws=sessions[0], config=config, destination=config.reports_dir / "lake")
    capsys.readouterr()
    assert_each_key_once(emulator, config, expected_jobs=80)
    out = capsys.readouterr().out
    assert out.count("[]") == len(LAYOUTS)  # no key with a count above one, in any table
    assert out.rstrip().endswith('"n"\n80')


def test_a_lake_holding_duplicate_files_is_left_with_each_key_once(
    emulator, organization, tmp_path, capsys
) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    audit_run(config, at=NOW)
    # What two unlocked runs left behind before the fix: a second copy of every file of every table.
    s3 = audit.management_session(config).client("s3")
    for table in LAYOUTS:
        for item in s3.list_objects_v2(Bucket=config.bucket, Prefix=f"{config.prefix}/{table}/")["Contents"]:
            copy = item["Key"].replace(".parquet", "-copy.parquet")
            s3.copy_object(
                Bucket=config.bucket, Key=copy, CopySource={"Bucket": config.bucket, "Key": item["Key"]}
            )
    # The next run finds nothing new (incremental, no job changed): it still rewrites the copied months.
    audit_run(config, at=NOW + timedelta(days=1))
    capsys.readouterr()
    assert_each_key_once(emulator, config, expected_jobs=80)
    out = capsys.readouterr().out
    assert out.count("[]") == len(LAYOUTS)


def test_a_second_run_exits_3_naming_the_holder_and_expiry(emulator, organization, tmp_path, capsys) -> None:
    from isoaudit.aws import run_lock

    config = config_for(emulator, organization, tmp_path / "reports")
    aws = audit.management_session(config)
    assert run_lock.acquire(aws=aws, config=config, run_id="first-run")
    try:
        code = main(
            [
                "run",
                "--bucket",
                config.bucket,
                "--endpoint-url",
                emulator.url,
                "--role-name",
                config.role_name,
                "--out",
                str(config.reports_dir),
            ]
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert code == EXIT_ENVIRONMENT
        assert len(err) == 1
        assert "locked by run first-run on " in err[0] and " until " in err[0]
        assert f"delete s3://{config.bucket}/isoaudit/_run.lock" in err[0]
        assert not config.reports_dir.exists()  # nothing written
    finally:
        run_lock.release(aws=aws, config=config, run_id="first-run")
    assert run_lock.acquire(aws=aws, config=config, run_id="next-run")  # released: free again
    run_lock.release(aws=aws, config=config, run_id="next-run")


def test_an_expired_lock_is_taken_over_once(emulator, organization, tmp_path) -> None:
    from isoaudit.aws import run_lock

    config = config_for(emulator, organization, tmp_path / "reports")
    aws = audit.management_session(config)
    killed = NOW - run_lock.LOCK_TTL - timedelta(minutes=1)
    assert run_lock.acquire(aws=aws, config=config, run_id="killed-run", now=killed)
    with pytest.raises(run_lock.LakeLocked, match="killed-run"):
        run_lock.acquire(aws=aws, config=config, run_id="early", now=killed + timedelta(hours=1))
    assert run_lock.acquire(aws=aws, config=config, run_id="new-run", now=NOW)  # If-Match on its ETag
    with pytest.raises(run_lock.LakeLocked, match="new-run"):
        run_lock.acquire(aws=aws, config=config, run_id="other", now=NOW)
    assert not run_lock.acquire(aws=aws, config=config, run_id="new-run", now=NOW)  # re-entrant
    run_lock.release(aws=aws, config=config, run_id="other")  # not the holder: nothing happens
    with pytest.raises(run_lock.LakeLocked):
        run_lock.acquire(aws=aws, config=config, run_id="other", now=NOW)
    run_lock.release(aws=aws, config=config, run_id="new-run")


def test_a_stale_etag_cannot_take_the_lock_over(emulator, organization, tmp_path) -> None:
    from isoaudit.aws import run_lock

    # Two runs found the same expired lock; the first took it over: the second's If-Match now fails.
    config = config_for(emulator, organization, tmp_path / "reports")
    s3 = audit.management_session(config).client("s3")
    key = run_lock.lock_key(config)
    stale = s3.put_object(Bucket=config.bucket, Key=key, Body=b"{}")["ETag"]
    s3.put_object(Bucket=config.bucket, Key=key, Body=b'{"taken": 1}', IfMatch=stale)
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=config.bucket, Key=key, Body=b'{"taken": 2}', IfMatch=stale)
    s3.delete_object(Bucket=config.bucket, Key=key)


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_API", "AWS_", "ISOAUDIT_")) and name != "MOTO_ACCOUNT_ID"
    }
    return env | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def cli_run(emulator, organization, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("isoaudit")),
            "run",
            "--bucket",
            organization.bucket,
            "--endpoint-url",
            emulator.url,
            "--role-name",
            organization.spec.audit_role_name,
            "--regions",
            REGION,
            "--week",
            "2026-W47",
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.prefect
def test_two_real_runs_at_once_one_audits_the_other_exits_3(emulator, organization, tmp_path, capsys) -> None:
    from isoaudit.aws import run_lock

    env = cli_env(tmp_path)
    config = config_for(emulator, organization, tmp_path / "first")
    s3 = audit.management_session(config).client("s3")
    key = run_lock.lock_key(config)

    def locked() -> bool:
        return s3.list_objects_v2(Bucket=config.bucket, Prefix=key).get("KeyCount", 0) > 0

    first = cli_run(emulator, organization, tmp_path / "first", env)
    try:
        wait_for(lambda: locked() or first.poll() is not None, timeout=120, what="the first run's lock")
        second = cli_run(emulator, organization, tmp_path / "second", env)
        _, second_err = second.communicate(timeout=120)
        _, first_err = first.communicate(timeout=600)
    finally:
        for process in (first,):
            if process.poll() is None:
                os.killpg(process.pid, 9)
    assert first.returncode == 0, first_err[-3000:]
    assert second.returncode == EXIT_ENVIRONMENT, second_err[-3000:]
    (line,) = second_err.strip().splitlines()
    assert line.startswith("isoaudit: the lake is locked by run ") and " until " in line
    assert not (tmp_path / "second").exists()
    assert not locked()  # released by the first run
    capsys.readouterr()
    assert_each_key_once(emulator, config, expected_jobs=80)
    assert capsys.readouterr().out.count("[]") == len(LAYOUTS)


def test_a_file_written_before_a_column_existed_reads_with_it_empty(emulator, tmp_path) -> None:
    """The compute fields came with a later version: older job files lack them, and still read."""
    config = load_config(bucket="isoaudit-older-lake", endpoint_url=emulator.url, reports_dir=str(tmp_path))
    aws = audit.management_session(config)
    aws.client("s3").create_bucket(Bucket=config.bucket)
    older = jobs_frame(job("old-2026-11-10-10-00-00-000", "2026-11-10T10:00:00Z"))
    older = older.drop(columns=["instance_groups_json", "billable_seconds", "warm_pool_seconds"])
    wr.config.s3_endpoint_url = emulator.url
    wr.s3.to_parquet(
        older, f"{config.lake_uri}/jobs/creation_month=2026-11/older.parquet", boto3_session=aws.boto3_session
    )
    (row,) = lake.read_table(aws=aws, config=config, table="jobs").to_dict("records")
    assert row["job_name"] == "old-2026-11-10-10-00-00-000"
    assert pd.isna(row["billable_seconds"]) and pd.isna(row["instance_groups_json"])
