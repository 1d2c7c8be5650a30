"""A long listing's rows (RowKeeper): the same rows as the records' own, each job once, its last record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.emulator import AccountSpec, Emulator, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.organization import management_session
from isoaudit.job_kinds import TRAINING
from isoaudit.records import RowKeeper, job_rows

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
SAME_MOMENT = NOW - timedelta(days=3)


@pytest.fixture(scope="module")
def searched(emulator: Emulator) -> list[dict]:
    """Every training job record of one account-region, as Search returns it: three jobs created at the
    same moment (a tuning job's children are), the others a day apart, some in a VPC, tagged or not."""
    emulator.reset()
    jobs = tuple(
        JobSpec(
            "ml",
            "us-east-1",
            f"job-{number}",
            SAME_MOMENT if number < 3 else NOW - timedelta(days=10 + number),
            network_isolation=number % 2 == 0,
            vpc=number % 3 == 0,
            tags={"team": "ml"} if number % 4 else {},
        )
        for number in range(12)
    )
    built = build_organization(
        endpoint_url=emulator.url,
        spec=OrganizationSpec(
            accounts=(AccountSpec("ml", "ml", "/Workloads/Production"),), jobs=jobs, regions=("us-east-1",)
        ),
    )
    auditor = assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=role_arn(account_id=built.account_ids["ml"], role_name=built.spec.audit_role_name),
        session_name="isoaudit-test",
    )
    results = auditor.client("sagemaker", region="us-east-1").search(Resource="TrainingJob", MaxResults=100)
    yield [result["TrainingJob"] for result in results["Results"]]
    emulator.reset()


def keeper() -> RowKeeper:
    return RowKeeper(kind=TRAINING, account_id="123456789012", region="us-east-1", seen_at=NOW)


def by_arn(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("job_arn", ignore_index=True)


def test_pages_kept_give_the_rows_of_the_records_themselves(searched: list[dict]) -> None:
    assert len(searched) == 12
    kept = keeper()
    marks = kept(searched[:5]) + kept(searched[5:])
    rows, notes = kept.frame(marks)

    expected = job_rows(searched, kind=TRAINING, account_id="123456789012", region="us-east-1", seen_at=NOW)
    assert notes == []
    pd.testing.assert_frame_equal(by_arn(rows), by_arn(expected))
    assert rows["creation_time"].eq(pd.Timestamp(SAME_MOMENT)).sum() == 3


def test_a_job_read_twice_at_a_slices_edge_is_kept_once_with_its_last_record(searched: list[dict]) -> None:
    # Two slices of one listing share their edge: the job at the edge comes back in both, changed between.
    edge = next(record for record in searched if record["CreationTime"] == SAME_MOMENT)
    later = {**edge, "TrainingJobStatus": "Stopped", "LastModifiedTime": NOW}
    others = [record for record in searched if record is not edge]
    kept = keeper()
    marks = kept([*others[:6], edge]) + kept([later, *others[6:]])
    rows, _ = kept.frame(marks)

    assert len(rows) == len(searched)
    assert rows["job_arn"].is_unique
    again = rows.set_index("job_arn").loc[edge["TrainingJobArn"]]
    assert again["status"] == "Stopped"
    assert again["last_modified_time"] == pd.Timestamp(NOW)
    # The two other jobs created at the same moment are different jobs: both kept.
    assert rows["creation_time"].eq(pd.Timestamp(SAME_MOMENT)).sum() == 3
