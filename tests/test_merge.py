import pandas as pd

from isoaudit.merge import changed_rows, merge_history
from tests.jobs_factory import ACCOUNT, REGION, job, jobs_frame

WEEK1 = "2026-11-16T06:00:00Z"
WEEK2 = "2026-11-23T06:00:00Z"


def test_rerun_with_same_jobs_keeps_each_job_once_and_changes_nothing() -> None:
    history = jobs_frame(
        job("a", "2026-11-10T10:00:00Z", seen=WEEK1), job("b", "2026-11-11T10:00:00Z", seen=WEEK1)
    )
    merged = merge_history(
        history=history, fresh=history, fully_listed=[(ACCOUNT, REGION)], listed=set(history["job_arn"])
    )
    assert sorted(merged["job_name"]) == ["a", "b"]
    assert changed_rows(before=history, after=merged).empty


def test_seen_again_keeps_first_seen_and_takes_new_status() -> None:
    history = jobs_frame(job("a", "2026-11-10T10:00:00Z", seen=WEEK1, status="InProgress"))
    fresh = jobs_frame(job("a", "2026-11-10T10:00:00Z", seen=WEEK2, status="Completed"))
    merged = merge_history(history=history, fresh=fresh, fully_listed=[(ACCOUNT, REGION)], listed=set())
    row = merged.iloc[0]
    assert len(merged) == 1
    assert row["status"] == "Completed"
    assert row["first_seen"] == pd.Timestamp(WEEK1)
    assert row["last_seen"] == pd.Timestamp(WEEK2)
    assert list(changed_rows(before=history, after=merged)["job_name"]) == ["a"]


def test_job_gone_from_a_fully_listed_region_is_kept_and_marked_unlisted() -> None:
    history = jobs_frame(job("gone", "2026-11-10T10:00:00Z", seen=WEEK1), job("here", "2026-11-11T10:00:00Z"))
    fresh = jobs_frame(job("here", "2026-11-11T10:00:00Z", seen=WEEK2))
    merged = merge_history(
        history=history, fresh=fresh, fully_listed=[(ACCOUNT, REGION)], listed=set(fresh["job_arn"])
    ).set_index("job_name")
    assert not merged.loc["gone", "listed"]
    assert merged.loc["gone", "last_seen"] == pd.Timestamp(WEEK1)
    assert merged.loc["here", "listed"]


def test_jobs_of_an_unread_account_region_stay_listed() -> None:
    history = jobs_frame(job("a", "2026-11-10T10:00:00Z", seen=WEEK1))
    merged = merge_history(history=history, fresh=jobs_frame(), fully_listed=[], listed=set())
    assert merged["listed"].tolist() == [True]


def test_a_listed_job_not_fetched_again_stays_listed_with_its_last_record() -> None:
    history = jobs_frame(
        job("old", "2026-11-10T10:00:00Z", seen=WEEK1, tuning_job_name="hpo"),
        job("hpo", "2026-11-10T09:00:00Z", seen=WEEK1, job_kind="tuning"),
        job("orphan-hpo", "2026-11-09T09:00:00Z", seen=WEEK1, job_kind="tuning"),
        job("gone", "2026-11-11T10:00:00Z", seen=WEEK1, tuning_job_name="orphan-hpo"),
    )
    # A full listing returned "old" but fetched nothing: it had not changed.
    merged = merge_history(
        history=history,
        fresh=jobs_frame(),
        fully_listed=[(ACCOUNT, REGION)],
        listed={history.set_index("job_name").loc["old", "job_arn"]},
    ).set_index("job_name")

    assert merged.loc["old", "listed"] and merged.loc["old", "last_seen"] == pd.Timestamp(WEEK1)
    assert not merged.loc["gone", "listed"]
    # A tuning job is listed while one of its training jobs is.
    assert merged.loc["hpo", "listed"]
    assert not merged.loc["orphan-hpo", "listed"]
