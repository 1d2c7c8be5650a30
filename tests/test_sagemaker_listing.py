"""A long listing is read as slices of creation time side by side: every job exactly once, in a chain of
calls much shorter than its pages one after the other. On the emulator, whose Search and List* page, sort and
filter by time as AWS does."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isoaudit.aws import sagemaker, sts
from isoaudit.aws.session import AwsSession
from isoaudit.emulator import AccountSpec, Emulator, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.organization import management_session

NOW = datetime(2026, 11, 23, 6, tzinfo=UTC)
REGION = "us-east-1"


def member_session(emulator: Emulator, jobs: list[JobSpec]) -> AwsSession:
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(AccountSpec("big", "big", "/Workloads/Production"),), jobs=tuple(jobs), regions=(REGION,)
    )
    built = build_organization(endpoint_url=emulator.url, spec=spec)
    return sts.assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=sts.role_arn(account_id=built.account_ids["big"], role_name=spec.audit_role_name),
        session_name="listing-test",
    )


def jobs_created(times: list[datetime]) -> list[JobSpec]:
    return [JobSpec("big", REGION, f"job-{number:05d}", moment, False) for number, moment in enumerate(times)]


class Requests:
    """The parameters of every call of one operation, as the client sent them."""

    def __init__(self, aws: AwsSession, operation: str) -> None:
        self.sent: list[dict[str, Any]] = []
        aws.client("sagemaker", region=REGION).meta.events.register(
            f"provide-client-params.sagemaker.{operation}", self._record
        )

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.sent.append(dict(params))

    def chain(self, window_of) -> int:
        """Calls that had to follow one another: the two end pages, then the pages of the longest window."""
        windows = Counter(window_of(params) for params in self.sent[2:])
        return 2 + max(windows.values(), default=0)


def search_window(params: dict[str, Any]) -> tuple[str, ...]:
    filters = params.get("SearchExpression", {}).get("Filters", [])
    return tuple(sorted(f"{f['Name']}{f['Operator']}{f['Value']}" for f in filters))


def list_window(params: dict[str, Any]) -> tuple[str, ...]:
    return (str(params.get("CreationTimeAfter")), str(params.get("CreationTimeBefore")))


def test_jobs_created_in_the_same_second_are_all_read(emulator: Emulator) -> None:
    # Before the module's fixture is built: this test resets the emulator.
    # A pipeline's fan-out: 250 jobs with one creation time, so the newest and the oldest page meet there.
    member = member_session(emulator, jobs_created([NOW - timedelta(days=2)] * 250))

    searched = sagemaker.search_jobs(aws=member, region=REGION)
    listed = sagemaker.list_jobs(aws=member, region=REGION, kind=sagemaker.TRAINING)

    expected = [f"job-{number:05d}" for number in range(250)]
    assert sorted(record["TrainingJobName"] for record in searched) == expected
    assert sorted(summary["TrainingJobName"] for summary in listed) == expected


@pytest.fixture(scope="module")
def thirteen_hundred_jobs(emulator: Emulator) -> tuple[AwsSession, list[str]]:
    times = [NOW - timedelta(days=30) + timedelta(minutes=20 * number) for number in range(1_300)]
    member = member_session(emulator, jobs_created(times))
    return member, [f"job-{number:05d}" for number in range(1_300)]


def test_search_reads_every_job_once_in_a_short_chain(thirteen_hundred_jobs) -> None:
    member, names = thirteen_hundred_jobs
    member = member.counted()
    searches = Requests(member, "Search")

    records = sagemaker.search_jobs(aws=member, region=REGION)

    assert sorted(record["TrainingJobName"] for record in records) == names
    sequential_pages = math.ceil(len(names) / sagemaker.PAGE_SIZE)
    assert searches.chain(search_window) <= sequential_pages // 2
    # Slicing costs at most one partly filled page per slice.
    assert member.counter.count <= sequential_pages + 2 + sagemaker.MAX_SLICES


def test_list_reads_every_job_once_in_a_short_chain(thirteen_hundred_jobs) -> None:
    member, names = thirteen_hundred_jobs
    member = member.counted()
    lists = Requests(member, "ListTrainingJobs")

    summaries = sagemaker.list_jobs(aws=member, region=REGION, kind=sagemaker.TRAINING)

    assert sorted(summary["TrainingJobName"] for summary in summaries) == names
    assert lists.chain(list_window) <= math.ceil(len(names) / sagemaker.PAGE_SIZE) // 2


def test_slices_cover_the_gap_between_the_end_pages() -> None:
    newest = [NOW - timedelta(minutes=minute) for minute in range(100)]
    oldest = [NOW - timedelta(minutes=minute) for minute in range(5_000, 4_900, -1)]

    windows = sagemaker.slice_windows(newest=newest, oldest=oldest)

    assert windows[0].start == max(oldest) and windows[-1].end == min(newest)
    assert all(left.end == right.start for left, right in itertools.pairwise(windows))
    # About 4,800 jobs expected between the pages: as many slices as allowed.
    assert len(windows) == sagemaker.MAX_SLICES
    assert sagemaker.slice_windows(newest=newest, oldest=[NOW - timedelta(minutes=50)]) == []


def test_the_emulator_filters_by_time_before_cutting_pages(thirteen_hundred_jobs) -> None:
    member, names = thirteen_hundred_jobs
    client = member.client("sagemaker", region=REGION)
    after = NOW - timedelta(days=30) + timedelta(minutes=20 * 1_000)

    page = client.list_training_jobs(
        MaxResults=100, CreationTimeAfter=after, SortBy="CreationTime", SortOrder="Descending"
    )

    listed = [summary["TrainingJobName"] for summary in page["TrainingJobSummaries"]]
    assert listed == names[:1_000:-1][:100]
    assert all(summary["CreationTime"] > after for summary in page["TrainingJobSummaries"])


@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=100),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=100),
)
def test_slice_windows_cover_exactly_the_times_between_the_end_pages(
    newest_seconds: list[int], oldest_seconds: list[int]
) -> None:
    newest = [NOW + timedelta(seconds=value) for value in newest_seconds]
    oldest = [NOW + timedelta(seconds=value) for value in oldest_seconds]

    windows = sagemaker.slice_windows(newest=newest, oldest=oldest)

    low, high = max(oldest), min(newest)
    if low > high:
        assert windows == []  # the end pages overlap: nothing lies between them
        return
    assert 1 <= len(windows) <= sagemaker.MAX_SLICES
    assert windows[0].start == low and windows[-1].end == high
    assert all(left.end == right.start for left, right in itertools.pairwise(windows))
    assert all(window.start <= window.end for window in windows)


def test_a_server_that_ignores_sort_order_still_yields_every_job(
    emulator: Emulator, thirteen_hundred_jobs
) -> None:
    # Plain moto (and any server that ignores SortOrder) answers the "newest" and the "oldest" page with the
    # same page: nothing can be concluded about what lies between, so the listing follows NextToken.
    member, names = thirteen_hundred_jobs
    emulator.faults.ignore_sort_order = True
    try:
        listed = sagemaker.list_jobs(aws=member, region=REGION, kind=sagemaker.TRAINING)
        searched = sagemaker.search_jobs(aws=member, region=REGION, kind=sagemaker.TRAINING)
    finally:
        emulator.faults.ignore_sort_order = False
    assert sorted(summary["TrainingJobName"] for summary in listed) == names
    assert sorted(record["TrainingJobName"] for record in searched) == names
