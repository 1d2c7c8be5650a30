"""The new-violation alert: its text (pure), and one SNS message per run with new violations, read back
from an SQS queue subscribed to the topic in the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from isoaudit.alerts import SUBJECT_LIMIT, Alert, new_violations_message
from isoaudit.aws import sns
from isoaudit.aws.session import AwsSession
from isoaudit.emulator import management_session
from tests.jobs_factory import job, jobs_frame

THIS_RUN = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
EARLIER_RUN = "2026-11-16T06:00:00Z"
PROD = "111111111111"
DEV = "222222222222"


def facts(*rows: dict, teams: list[str]) -> pd.DataFrame:
    """Job facts as isoaudit.metrics.attribution.job_facts gives them: team is a categorical."""
    return jobs_frame(*rows).assign(team=pd.Categorical(teams))


def this_week() -> pd.DataFrame:
    return facts(
        # New violations: first seen by this run, isolation false or absent.
        job("churn-2026-11-20-10-00-00-000", "2026-11-20", account_id=PROD, network_isolation=None),
        job("churn-2026-11-21-10-00-00-000", "2026-11-21", account_id=PROD, network_isolation=False),
        job("ranker 2026/11", "2026-11-21", account_id=PROD, region="eu-west-1"),
        job("detector-2026-11-22-08-00-00-000", "2026-11-22", account_id=DEV),
        job(
            "clean-features",
            "2026-11-22",
            account_id=DEV,
            job_kind="processing",
            job_arn=f"arn:aws:sagemaker:us-east-1:{DEV}:processing-job/clean-features",
        ),
        # Not new: compliant, or first seen by an earlier run.
        job("score-2026-11-22-10-00-00-000", "2026-11-22", account_id=PROD, network_isolation=True),
        job("legacy-2026-11-10-10-00-00-000", "2026-11-10", account_id=DEV, seen=EARLIER_RUN),
        teams=["fraud", "fraud", "fraud", "vision", "vision", "fraud", "vision"],
    )


def test_new_violations_are_counted_by_team_with_the_worst_offenders_and_console_links() -> None:
    alert = new_violations_message(this_week(), run_started_at=THIS_RUN)
    assert alert is not None
    assert alert.new_violations == 5
    assert alert.subject == "isoaudit 2026-11-23: 5 new SageMaker jobs without network isolation (2 teams)"
    lines = alert.message.splitlines()
    by_team = lines[lines.index("New violations by team:") + 1 : lines.index("New violations by team:") + 3]
    assert [line.split() for line in by_team] == [["fraud", "3"], ["vision", "2"]]
    offenders = lines[lines.index("Worst offenders (team / account):") + 1 :]
    assert offenders[0] == f"  fraud / {PROD}: 3 new"
    assert (
        "    - ranker 2026/11 (eu-west-1) https://eu-west-1.console.aws.amazon.com/sagemaker/home"
        "?region=eu-west-1#/jobs/ranker%202026%2F11"
    ) in offenders
    assert f"  vision / {DEV}: 2 new" in offenders
    assert (
        "    - clean-features (us-east-1) https://us-east-1.console.aws.amazon.com/sagemaker/home"
        "?region=us-east-1#/processing-jobs/clean-features"
    ) in offenders
    assert "legacy" not in alert.message
    assert "score" not in alert.message


def test_no_new_violation_means_no_alert() -> None:
    next_run = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert new_violations_message(this_week(), run_started_at=next_run) is None
    assert new_violations_message(this_week().iloc[0:0], run_started_at=THIS_RUN) is None


def test_offenders_and_their_jobs_are_capped_and_the_subject_fits_sns() -> None:
    rows = [
        job(f"job-{team:02d}-{index}", "2026-11-20", account_id=f"{team:012d}")
        for team in range(1, 13)
        for index in range(team)
    ]
    teams = [f"team-{int(row['account_id']):02d}" for row in rows]
    alert = new_violations_message(
        facts(*rows, teams=teams), run_started_at=THIS_RUN, top_offenders=10, jobs_per_offender=5
    )
    assert alert is not None
    offenders = [line for line in alert.message.splitlines() if line.startswith("  team-") and " / " in line]
    assert offenders[0] == f"  team-12 / {12:012d}: 12 new"
    assert len(offenders) == 10
    assert "    ... and 7 more" in alert.message  # team-12: 12 jobs, 5 shown
    assert "  ... and 2 more team / account pairs" in alert.message
    assert len(alert.subject) <= SUBJECT_LIMIT
    assert alert.subject.isascii()


def test_a_naive_run_time_is_refused() -> None:
    with pytest.raises(TypeError):
        new_violations_message(this_week(), run_started_at=datetime(2026, 11, 23, 6, 0))


def publish_if_new(
    *, aws: AwsSession, topic_arn: str, jobs: pd.DataFrame, run_started_at: datetime
) -> Alert | None:
    """What the weekly flow does after computing the job facts."""
    alert = new_violations_message(jobs, run_started_at=run_started_at)
    if alert is not None:
        sns.publish(aws=aws, topic_arn=topic_arn, subject=alert.subject, message=alert.message)
    return alert


def test_one_sns_message_per_run_with_new_violations_and_none_without(emulator) -> None:
    aws = management_session(endpoint_url=emulator.url)
    topic_arn = aws.client("sns", region="eu-west-1").create_topic(Name="isoaudit-alerts")["TopicArn"]
    sqs = aws.client("sqs", region="eu-west-1")
    queue_url = sqs.create_queue(QueueName="isoaudit-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.client("sns", region="eu-west-1").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    sent = publish_if_new(aws=aws, topic_arn=topic_arn, jobs=this_week(), run_started_at=THIS_RUN)
    next_run = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert publish_if_new(aws=aws, topic_arn=topic_arn, jobs=this_week(), run_started_at=next_run) is None

    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert len(received) == 1
    notification = json.loads(received[0]["Body"])
    assert sent is not None
    assert notification["TopicArn"] == topic_arn
    assert notification["Subject"] == sent.subject
    assert notification["Message"] == sent.message


def test_a_malformed_topic_arn_is_named() -> None:
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        sns.topic_region("isoaudit-alerts")
