"""The report reaches its readers, through the real flow on the emulator: the archive read back from S3, the
messages read back from the emulator's SES and parsed with `email`, their workbooks opened with openpyxl,
the alert read from an SQS queue subscribed to the topic; a re-run sends nothing, --resend sends again."""

from __future__ import annotations

import email
import io
import json
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import openpyxl
import pytest

from isoaudit.emulator.mail import sent_messages, verify_sender
from isoaudit.emulator.organization import build_organization, management_session
from tests.test_excel import read_table
from tests.test_weekly_audit import REGIONS, WEEK, spec

pytestmark = pytest.mark.prefect

SENDER = "isoaudit@acme.example"
FINOPS = ["finops@acme.example", "cfo@acme.example"]
TEAMS = {"fraud": ["fraud-lead@acme.example"], "vision": ["vision-lead@acme.example"]}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse(raw: str) -> EmailMessage:
    message = email.message_from_string(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def workbook_of(message: EmailMessage) -> openpyxl.Workbook:
    (attachment,) = [part for part in message.iter_attachments() if part.get_content_type() == XLSX]
    return openpyxl.load_workbook(io.BytesIO(attachment.get_content()))


@pytest.fixture(scope="module")
def delivered(emulator, prefect_harness, tmp_path_factory):
    from flows.weekly_audit import weekly_audit

    emulator.reset()
    organization = build_organization(endpoint_url=emulator.url, spec=spec())
    verify_sender(endpoint_url=emulator.url, sender=SENDER)
    aws = management_session(endpoint_url=emulator.url)
    key_id = aws.client("kms").create_key(Description="isoaudit lake")["KeyMetadata"]["KeyId"]
    topic_arn = aws.client("sns").create_topic(Name="isoaudit-alerts")["TopicArn"]
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="isoaudit-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["QueueArn"])

    reports = tmp_path_factory.mktemp("reports")
    overrides = {
        "bucket": organization.bucket,
        "endpoint_url": emulator.url,
        "role_name": organization.spec.audit_role_name,
        "regions": list(REGIONS),
        "reports_dir": str(reports),
        "kms_key_id": key_id,
        "sns_topic_arn": topic_arn,
        "email": {"sender": SENDER, "finops": FINOPS, "teams": TEAMS},
    }
    first = weekly_audit(week=WEEK, overrides=overrides)
    first_messages = [parse(raw) for raw in sent_messages()]
    first_page = Path(first["page"]).read_text()
    rerun = weekly_audit(week=WEEK, overrides=overrides)
    after_rerun = len(sent_messages())
    resent = weekly_audit(week=WEEK, overrides=overrides, resend=True)
    alerts = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    return {
        "first": first,
        "first_page": first_page,
        "messages": first_messages,
        "rerun": rerun,
        "after_rerun": after_rerun,
        "resent": resent,
        "all_messages": len(sent_messages()),
        "alerts": [json.loads(alert["Body"])["Message"] for alert in alerts],
        "reports": reports,
        "aws": aws,
        "bucket": organization.bucket,
    }


def by_recipient(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {message["To"]: message for message in messages}


def test_one_message_per_audience_with_the_week_and_headline_in_its_subject(delivered) -> None:
    messages = by_recipient(delivered["messages"])
    assert set(messages) == {", ".join(FINOPS), *(", ".join(to) for to in TEAMS.values())}
    org = delivered["first"]["org"]
    finops = messages[", ".join(FINOPS)]
    assert finops["From"] == SENDER
    assert finops["Subject"] == (
        f"isoaudit {WEEK}: isolation rate {org['isolation_rate']:.1f} %, {org['violations']} violations · "
        f"${org['exposed_spend_usd']:,.2f} exposed spend"
    )
    fraud = messages[TEAMS["fraud"][0]]
    team = next(row for row in delivered["first"]["teams"] if row["team"] == "fraud")
    assert fraud["Subject"] == (
        f"isoaudit {WEEK} · fraud: isolation rate {team['isolation_rate']:.1f} %, "
        f"{team['violations']} violation · "  # one this week: ranker
        f"${team['exposed_spend_usd']:,.2f} exposed spend"
    )


def test_each_message_has_an_html_page_a_text_alternative_and_the_workbook(delivered) -> None:
    for message in delivered["messages"]:
        html = message.get_body(preferencelist=("html",))
        text = message.get_body(preferencelist=("plain",))
        assert html is not None and text is not None
        assert "<script" not in html.get_content().lower()
        assert f"isoaudit {WEEK}" in text.get_content()
        assert "is attached" in text.get_content()
        assert workbook_of(message).sheetnames[0] == "Summary"


def test_finops_workbook_is_the_whole_organizations(delivered) -> None:
    finops = by_recipient(delivered["messages"])[", ".join(FINOPS)]
    book = workbook_of(finops)
    local = openpyxl.load_workbook(delivered["first"]["workbook"])
    assert book.sheetnames == local.sheetnames
    assert len(read_table(book["Violations"])) == delivered["first"]["org"]["violations"]
    assert {row["Team"] for row in read_table(book["Teams"])} == {"fraud", "vision", "nlp"}
    assert read_table(book["Accounts"]) == read_table(local["Accounts"])


def test_a_team_receives_only_its_own_rows(delivered) -> None:
    book = workbook_of(by_recipient(delivered["messages"])[TEAMS["vision"][0]])
    assert "team vision" in book["Summary"]["A1"].value
    assert [row["Team"] for row in read_table(book["Teams"])] == ["vision"]
    violations = read_table(book["Violations"])
    # The vision team's only violation of the week (detector, fixed later that week), with its link.
    assert [row["Team"] for row in violations] == ["vision"]
    assert all(row["Console"] for row in violations)
    # Open exposures: fraud's ranker and vision's late job; one failed job, nlp's tokenizer.
    finops = workbook_of(by_recipient(delivered["messages"])[", ".join(FINOPS)])
    assert teams_in(finops["Open exposures"]) == {"fraud", "vision"}
    assert teams_in(finops["Failure causes"]) == {"nlp"}
    assert teams_in(book["Open exposures"]) == {"vision"}
    assert teams_in(book["Failure causes"]) == set()
    # Per-account KPIs mix teams: a slice has none.
    assert [row["Account id"] for row in read_table(book["Accounts"])] == ["None this week."]
    fraud = workbook_of(by_recipient(delivered["messages"])[TEAMS["fraud"][0]])
    assert teams_in(fraud["Open exposures"]) == {"fraud"}
    assert teams_in(fraud["Violations"]) == {"fraud"}
    assert teams_in(fraud["Failure causes"]) == set()


def teams_in(sheet) -> set[str]:
    """The Team column of a data sheet; an empty sheet holds one note ("No ...") instead of rows."""
    return {row["Team"] for row in read_table(sheet) if not str(row["Team"]).startswith("No ")}


def test_each_message_is_saved_in_the_outbox(delivered) -> None:
    outbox = delivered["reports"] / "outbox"
    assert sorted(path.name for path in outbox.glob("*.eml")) == [
        "finops.eml",
        "team-fraud.eml",
        "team-vision.eml",
    ]
    saved = parse((outbox / "finops.eml").read_text())
    assert saved["To"] == ", ".join(FINOPS)


def test_a_rerun_of_the_week_sends_nothing_and_resend_sends_again(delivered) -> None:
    sent = len(delivered["messages"])
    assert sent == 3
    assert delivered["after_rerun"] == sent
    assert {email["status"] for email in delivered["rerun"]["emails"]} == {"already sent"}
    assert {email["status"] for email in delivered["resent"]["emails"]} == {"sent"}
    assert delivered["all_messages"] == 2 * sent


def test_workbook_and_json_summary_are_archived_encrypted_and_replaced_by_a_rerun(delivered) -> None:
    s3 = delivered["aws"].client("s3")
    prefix = f"isoaudit/reports/{WEEK}"
    assert (
        delivered["first"]["archive"]["workbook"]
        == f"s3://{delivered['bucket']}/{prefix}/isoaudit-{WEEK}.xlsx"
    )
    workbook = s3.get_object(Bucket=delivered["bucket"], Key=f"{prefix}/isoaudit-{WEEK}.xlsx")
    assert workbook["ServerSideEncryption"] == "aws:kms"
    book = openpyxl.load_workbook(io.BytesIO(workbook["Body"].read()))
    assert book.sheetnames == openpyxl.load_workbook(delivered["resent"]["workbook"]).sheetnames
    summary = json.loads(
        s3.get_object(Bucket=delivered["bucket"], Key=f"{prefix}/isoaudit-{WEEK}.json")["Body"].read()
    )
    assert summary["period"]["week"] == WEEK
    assert summary["org"] == delivered["resent"]["org"]
    assert summary["workbook"] == delivered["resent"]["archive"]["workbook"]
    # One workbook and one summary for the week, whatever the number of runs.
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=delivered["bucket"], Prefix=prefix)["Contents"]]
    assert sorted(key for key in keys if key.count("/") == 3) == [
        f"{prefix}/isoaudit-{WEEK}.json",
        f"{prefix}/isoaudit-{WEEK}.xlsx",
    ]


def test_the_executive_page_is_written_beside_the_workbook(delivered) -> None:
    page = Path(delivered["first"]["page"])
    assert page == delivered["reports"] / f"isoaudit-{WEEK}.html"
    finops = by_recipient(delivered["messages"])[", ".join(FINOPS)]
    body = finops.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    # The same page; only its last line says where the workbook is (attached, or in S3).
    footnote = "Compliant means network isolation on"
    assert delivered["first_page"].split(footnote)[0] == body.split(footnote)[0]


def test_the_new_violations_alert_names_the_reports_key(delivered) -> None:
    (alert,) = delivered["alerts"]  # the re-runs found nothing new
    assert f"s3://{delivered['bucket']}/isoaudit/reports/{WEEK}/isoaudit-{WEEK}.xlsx" in alert
