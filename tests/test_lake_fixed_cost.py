"""A run's fixed cost in the lake: a run that changes nothing costs a handful of S3 calls, and stays correct.

On the emulator (moto server), counted by the emulator itself: a second run whose table and view
definitions did not change writes only the files whose rows changed (the coverage and the episodes' ages),
calls Glue once and Athena never, and every table reads back as before; a file that is not Parquet, added
after the last run, still stops the next run with exit 3 on one line; the local copy downloads only the
files that changed; the run lock's release leaves a lock another run took over.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import awswrangler as wr
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from isoaudit import audit
from isoaudit.aws import lake, lake_mirror, lake_view, preflight, run_lock
from isoaudit.aws.lake import LAYOUTS
from isoaudit.cli import main
from isoaudit.config import AuditConfig
from isoaudit.emulator import build_organization
from isoaudit.schema import conform
from isoaudit.sql import billed_views, views
from tests.test_lake_integrity import EXIT_ENVIRONMENT, NOW, audit_run, config_for, spec

LAKE_SERVICES = ("s3", "glue", "athena")


@pytest.fixture
def organization(emulator):
    emulator.reset()
    return build_organization(endpoint_url=emulator.url, spec=spec("isoaudit-fixed-cost-lake"))


def locked_run(config: AuditConfig, *, at) -> None:
    """A run as the command line makes it: preflight, the run lock, the lake's survey, the steps."""
    aws = audit.management_session(config)
    preflight.check(aws=aws, config=config)
    with run_lock.held(aws=aws, config=config, run_id=f"run-{at:%d%H%M}"):
        audit_run(config, at=at, aws=aws)


def table_files(config: AuditConfig) -> dict[str, str]:
    """Key -> ETag of every file of the tables' folders."""
    s3 = audit.management_session(config).client("s3")
    found = {}
    for table in LAYOUTS:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=config.bucket, Prefix=f"{config.prefix}/{table}/"
        ):
            found |= {item["Key"]: item["ETag"] for item in page.get("Contents", [])}
    return found


def lake_calls(emulator) -> Counter[tuple[str, str]]:
    return Counter({key: n for key, n in emulator.faults.requests.items() if key[0] in LAKE_SERVICES})


def test_a_run_that_changes_nothing_writes_only_what_changed_and_reads_back_the_same(
    emulator, organization, tmp_path
) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    locked_run(config, at=NOW)
    aws = audit.management_session(config)
    before = {table: lake.read_table(aws=aws, config=config, table=table) for table in LAYOUTS}
    files_before = table_files(config)

    emulator.faults.reset_counts()
    locked_run(config, at=NOW + timedelta(hours=3))
    calls = lake_calls(emulator)

    files_after = table_files(config)
    changed = {key.split("/")[1] for key, _ in set(files_after.items()) ^ set(files_before.items())}
    # The coverage (this run's audit time) and the episodes (an open episode's age) changed; nothing else.
    assert changed == {"coverage", "episodes"}, changed
    assert len([key for key in files_after if key.startswith(f"{config.prefix}/coverage/")]) == 1
    after = {table: lake.read_table(aws=aws, config=config, table=table) for table in LAYOUTS}
    for table in ("jobs", "job_facts", "accounts", "weekly_kpis", "prices"):
        key = list(LAYOUTS[table].key)
        assert_frame_equal(
            after[table].sort_values(key).reset_index(drop=True),
            before[table].sort_values(key).reset_index(drop=True),
        )
    # A re-run of the week replaces its coverage rows, never adds to them.
    assert len(after["coverage"]) == len(before["coverage"])
    assert not after["coverage"].duplicated(list(LAYOUTS["coverage"].key)).any()
    # Glue once (the tables' locations), Athena never: the catalog and the views did not change.
    assert {key: n for key, n in calls.items() if key[0] != "s3"} == {("glue", "GetTables"): 1}
    # The lock (2), the survey (2), 3 files read, 2 tables written (3 each), the state (1), 2 downloads.
    assert sum(calls.values()) <= 18, calls


def test_a_file_that_is_not_parquet_added_after_the_last_run_still_exits_3(
    emulator, organization, tmp_path, capsys
) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    locked_run(config, at=NOW)
    s3 = audit.management_session(config).client("s3")
    month = next(key for key in table_files(config) if key.startswith(f"{config.prefix}/jobs/"))
    bad = f"{month.rsplit('/', 1)[0]}/part-0.parquet"
    s3.put_object(Bucket=config.bucket, Key=bad, Body=b"<html>not parquet</html>")
    before = table_files(config)
    argv = ["run", "--bucket", config.bucket, "--endpoint-url", emulator.url, "--regions", "us-east-1"]
    argv += ["--role-name", organization.spec.audit_role_name, "--out", str(tmp_path / "second")]

    assert main(argv) == EXIT_ENVIRONMENT
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"isoaudit: lake file s3://{config.bucket}/{bad} is not Parquet, and every read of its table would "
        "fail: run `isoaudit lake check --repair` (same --config/--bucket) to move it aside"
    )
    assert table_files(config) == before
    assert not (tmp_path / "second").exists()

    # A file the last run knew, replaced since by one that is not Parquet: its ETag changed, it is read.
    s3.delete_object(Bucket=config.bucket, Key=bad)
    s3.put_object(Bucket=config.bucket, Key=month, Body=b"PAR1 truncated")
    assert main(argv) == EXIT_ENVIRONMENT
    assert f"lake file s3://{config.bucket}/{month} is not Parquet" in capsys.readouterr().err


def test_the_local_copy_downloads_only_the_files_that_changed(emulator, organization, tmp_path) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    audit_run(config, at=NOW)
    aws = audit.management_session(config)
    destination = tmp_path / "copy"
    first = lake_mirror.mirror(aws=aws, config=config, destination=destination)
    assert len(first) == len([key for key in table_files(config) if key.endswith(".parquet")])

    audit_run(config, at=NOW + timedelta(hours=3))  # rewrites the coverage and the episodes only
    (destination / "accounts").rename(destination / "moved")  # a file gone from the copy: fetched again
    emulator.faults.reset_counts()
    copied = lake_mirror.mirror(aws=aws, config=config, destination=destination)

    downloaded = {path.relative_to(destination).parts[0] for path in copied}
    assert downloaded == {"coverage", "episodes", "accounts"}
    # The emulator counts S3 by HTTP method: the listing and the state, then one GET a file.
    assert lake_calls(emulator) == Counter({("s3", "GET"): 2 + len(copied)})
    assert not (destination / "moved").exists()  # not in the lake: removed
    local = {path.relative_to(destination).as_posix() for path in destination.rglob("*.parquet")}
    assert local == {key.removeprefix(f"{config.prefix}/") for key in table_files(config)}
    for table in LAYOUTS:
        on_s3 = lake.read_table(aws=aws, config=config, table=table)
        paths = sorted((destination / table).rglob("*.parquet"))
        if paths:
            copy = conform(pd.concat([pd.read_parquet(path) for path in paths]), LAYOUTS[table].schema)
            assert len(copy) == len(on_s3), table


def test_a_table_is_read_by_get_as_awswrangler_reads_the_dataset(emulator, organization, tmp_path) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    audit_run(config, at=NOW)
    aws = audit.management_session(config)
    files = lake_view.survey(aws=aws, config=config)
    wr.config.s3_endpoint_url = emulator.url
    for table, layout in LAYOUTS.items():
        read = lake.read_table(aws=aws, config=config, table=table, lake=files)
        if read.empty:
            continue
        dataset = wr.s3.read_parquet(
            f"{config.lake_uri}/{table}/", dataset=True, boto3_session=aws.boto3_session
        )
        expected = conform(dataset, layout.schema)
        key = list(layout.key)
        assert_frame_equal(
            read.sort_values(key).reset_index(drop=True), expected.sort_values(key).reset_index(drop=True)
        )


def test_a_glue_table_dropped_since_the_last_run_is_declared_again(emulator, organization, tmp_path) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    locked_run(config, at=NOW)
    aws = audit.management_session(config)
    glue = aws.client("glue")
    glue.delete_table(DatabaseName=config.database, Name="job_facts")

    locked_run(config, at=NOW + timedelta(hours=3))  # the run's write declares it again

    table = glue.get_table(DatabaseName=config.database, Name="job_facts")["Table"]
    location = table["StorageDescriptor"]["Location"].rstrip("/")
    assert location == lake.table_uri(config, "job_facts").rstrip("/")
    assert table["Parameters"]["projection.enabled"] == "true"

    # A table the run writes nothing to (its rows did not change, or it has none) is declared by the
    # publication, which otherwise has nothing to do.
    glue.delete_table(DatabaseName=config.database, Name="accounts")
    files = preflight.survey_lake(aws=aws, config=config)
    emulator.faults.reset_counts()
    billed = billed_views(cur_table=config.cur_table, net_unblended=config.cur_net_unblended)
    lake.publish_views(aws=aws, config=config, views={**views(), **billed}, lake=files)
    assert glue.get_table(DatabaseName=config.database, Name="accounts")["Table"]["Name"] == "accounts"
    # The views are as they were: not created again.
    assert not any(service == "athena" for service, _ in emulator.faults.requests)


def test_releasing_a_lock_taken_over_since_leaves_it_to_its_new_holder(
    emulator, organization, tmp_path
) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    aws = audit.management_session(config)
    killed = NOW - run_lock.LOCK_TTL - timedelta(minutes=1)
    etag = run_lock.acquire(aws=aws, config=config, run_id="slow-run", now=killed)
    assert etag
    assert run_lock.acquire(aws=aws, config=config, run_id="new-run", now=NOW)  # took the expired lock over
    emulator.faults.reset_counts()
    run_lock.release(aws=aws, config=config, run_id="slow-run", etag=etag)  # the slow run ends at last
    assert lake_calls(emulator) == Counter({("s3", "DELETE"): 1})  # one conditional delete, refused
    with pytest.raises(run_lock.LakeLocked, match="locked by run new-run"):
        run_lock.acquire(aws=aws, config=config, run_id="third-run", now=NOW)
    new_etag = run_lock._read(aws.client("s3"), config)[1]
    run_lock.release(aws=aws, config=config, run_id="new-run", etag=new_etag)
    assert run_lock.acquire(aws=aws, config=config, run_id="third-run", now=NOW)


def test_the_state_remembers_only_files_still_in_the_lake(emulator, organization, tmp_path: Path) -> None:
    config = config_for(emulator, organization, tmp_path / "reports")
    locked_run(config, at=NOW)
    state = lake_view.stored(aws=audit.management_session(config), config=config)._stored
    files = table_files(config)
    assert set(state["parquet"]) == set(files)  # every file, each written or checked by isoaudit
    assert all(state["parquet"][key] == etag for key, etag in files.items())
    assert state["definitions"] and state["tables"]
