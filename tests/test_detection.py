"""Detection in minutes: infra/detect-non-isolated-jobs.yaml (member accounts) and infra/detect-central.yaml
(the auditing account), deployed on the emulator's EventBridge as CloudFormation would create them.

The event patterns, targets and input transformers are read from the templates themselves, then fed with
CloudTrail-shaped "AWS API Call via CloudTrail" events (moto generates none). moto evaluates the patterns
($or, exists) and forwards between accounts' buses, but cannot deliver to SNS: the SNS target of the central
rules is pointed at an SQS queue, with the template's own input transformer, to read the alert it would
publish.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from isoaudit.emulator import Emulator
from tests.test_infra import INFRA, resolved

MEMBER_TEMPLATE = INFRA / "detect-non-isolated-jobs.yaml"
CENTRAL_TEMPLATE = INFRA / "detect-central.yaml"
AUDITING = "999988887777"
MEMBER = "111122223333"
MEMBER_REGION = "eu-west-1"
CENTRAL_REGION = "us-east-1"
CREATOR = f"arn:aws:sts::{MEMBER}:assumed-role/DataScientist/alice"
KINDS = ("training", "processing", "tuning")
ISOLATION = {"true": True, "false": False, "absent": None}


def request_parameters(kind: str, name: str, isolation: bool | None) -> dict[str, Any]:
    """requestParameters of a Create*Job call as CloudTrail records it: lower camel case, and a field only
    when the request had it."""
    flag = {} if isolation is None else {"enableNetworkIsolation": isolation}
    role = f"arn:aws:iam::{MEMBER}:role/SageMakerExecution"
    image = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
    if kind == "training":
        return {
            "trainingJobName": name,
            "algorithmSpecification": {"trainingImage": image, "trainingInputMode": "File"},
            "roleArn": role,
            "resourceConfig": {"instanceType": "ml.g5.xlarge", "instanceCount": 1, "volumeSizeInGB": 50},
            **flag,
        }
    if kind == "processing":
        network = {"networkConfig": flag} if flag else {}
        return {
            "processingJobName": name,
            "appSpecification": {"imageUri": image},
            "roleArn": role,
            **network,
        }
    return {
        "hyperParameterTuningJobName": name,
        "hyperParameterTuningJobConfig": {"strategy": "Bayesian"},
        "trainingJobDefinition": {
            "algorithmSpecification": {"trainingImage": image, "trainingInputMode": "File"},
            "roleArn": role,
            **flag,
        },
    }


EVENT_NAMES = {
    "training": "CreateTrainingJob",
    "processing": "CreateProcessingJob",
    "tuning": "CreateHyperParameterTuningJob",
}


def cloudtrail_detail(kind: str, name: str, isolation: bool | None, **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice",
            "arn": CREATOR,
            "accountId": MEMBER,
        },
        "eventTime": "2026-12-01T10:15:00Z",
        "eventSource": "sagemaker.amazonaws.com",
        "eventName": EVENT_NAMES[kind],
        "awsRegion": MEMBER_REGION,
        "sourceIPAddress": "10.0.0.8",
        "userAgent": "AWS-SageMaker-Python-SDK/2.230.0",
        "requestParameters": request_parameters(kind, name, isolation),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": MEMBER,
        **extra,
    }


def client(emulator: Emulator, service: str, *, account: str, region: str) -> Any:
    """A client whose calls are `account`'s (the emulator hands out credentials scoped to an account)."""
    sts = boto3.client("sts", endpoint_url=emulator.url, region_name=region)
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="detect"
    )["Credentials"]
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


class Deployment:
    """Both templates deployed: the member rule in MEMBER/MEMBER_REGION, the central bus and its rules in
    AUDITING/CENTRAL_REGION, with SQS queues standing for the SNS topic (`alerts`) and the event queue."""

    def __init__(self, emulator: Emulator) -> None:
        self.member_events = client(emulator, "events", account=MEMBER, region=MEMBER_REGION)
        central_events = client(emulator, "events", account=AUDITING, region=CENTRAL_REGION)
        self.sqs = client(emulator, "sqs", account=AUDITING, region=CENTRAL_REGION)
        queues = {name: self._queue(name) for name in ("alerts", "events")}

        central = resolved(CENTRAL_TEMPLATE, OrganizationId="o-a1b2c3d4e5", KeepEventsInQueue="true")
        bus = central["DetectionBus"]["Properties"]["Name"]
        bus_arn = central_events.create_event_bus(Name=bus)["EventBusArn"]
        stand_ins = {"<AlertTopic>": queues["alerts"][1], "<EventQueue.Arn>": queues["events"][1]}
        for name, resource in central.items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            rule = resource["Properties"]
            central_events.put_rule(
                Name=name,
                EventBusName=bus,
                EventPattern=json.dumps(rule["EventPattern"]),
                State=rule["State"],
            )
            targets = [{**target, "Arn": stand_ins[target["Arn"]]} for target in rule["Targets"]]
            central_events.put_targets(Rule=name, EventBusName=bus, Targets=targets)

        member = resolved(MEMBER_TEMPLATE, AuditingAccountId=AUDITING)
        rule = member["NonIsolatedJobRule"]["Properties"]
        (target,) = rule["Targets"]
        assert target["Arn"] == bus_arn  # the member template forwards to the bus the central one creates
        self.member_events.put_rule(
            Name="NonIsolatedJobRule", EventPattern=json.dumps(rule["EventPattern"]), State=rule["State"]
        )
        role = f"arn:aws:iam::{MEMBER}:role/isoaudit-forward"  # the template's ForwardRole
        self.member_events.put_targets(Rule="NonIsolatedJobRule", Targets=[{**target, "RoleArn": role}])
        self.queue_urls = {name: url for name, (url, _) in queues.items()}

    def _queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return url, arn["QueueArn"]

    def job_created(self, detail: dict[str, Any]) -> None:
        """What CloudTrail puts on the member account's default bus after a Create*Job call."""
        answer = self.member_events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "AWS API Call via CloudTrail",
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0

    def received(self, queue: str) -> list[Any]:
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_urls[queue], MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return messages
            for message in batch["Messages"]:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_urls[queue], ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def deployed(emulator: Emulator) -> Iterator[Deployment]:
    emulator.reset()
    yield Deployment(emulator)
    emulator.reset()


def job_name(kind: str, isolation: str) -> str:
    return f"{kind}-{isolation}-isolation"


def test_each_kind_of_job_is_forwarded_when_isolation_is_false_or_absent(deployed: Deployment) -> None:
    for kind in KINDS:
        for label, isolation in ISOLATION.items():
            deployed.job_created(cloudtrail_detail(kind, job_name(kind, label), isolation))

    forwarded = deployed.received("events")
    names = {
        next(value for key, value in event["detail"]["requestParameters"].items() if key.endswith("JobName"))
        for event in forwarded
    }
    expected = {job_name(kind, label) for kind in KINDS for label in ("false", "absent")}
    assert names == expected
    assert len(forwarded) == len(expected)  # each violation once: the $or branches exclude one another


def test_the_alert_names_the_account_region_job_creator_and_console_page(deployed: Deployment) -> None:
    pages = {"training": "jobs", "processing": "processing-jobs", "tuning": "hyper-tuning-jobs"}
    for kind in KINDS:
        deployed.job_created(cloudtrail_detail(kind, job_name(kind, "absent"), None))

    (event, *_) = deployed.received("events")
    alerts = deployed.received("alerts")
    assert len(alerts) == 3
    for kind in KINDS:
        name = job_name(kind, "absent")
        (alert,) = [text for text in alerts if f" {name} " in text]
        lines = alert.splitlines()
        assert lines[0].startswith(f"SageMaker {'hyperparameter tuning' if kind == 'tuning' else kind} job")
        assert "WITHOUT network isolation" in lines[0]
        # moto re-puts a forwarded event as the central account, in its region; on AWS the forwarded event
        # keeps the member's account and region. Either way the alert says what the event carries.
        assert f"Account: {AUDITING}" in lines
        assert f"Region: {event['region']}" in lines
        assert f"Created by: {CREATOR}" in lines
        assert "At: 2026-12-01T10:15:00Z" in lines
        region = event["region"]
        link = f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/{pages[kind]}/{name}"
        assert f"Console: {link}" in lines


def test_calls_that_failed_or_isolate_every_definition_raise_no_alert(deployed: Deployment) -> None:
    # Denied by the SCP: CloudTrail records the call with an errorCode, and no job exists.
    deployed.job_created(
        cloudtrail_detail("training", "denied", None, errorCode="AccessDenied", errorMessage="explicit deny")
    )
    # A tuning job with several algorithms, every definition isolated: no single definition to test.
    several = cloudtrail_detail("tuning", "several-isolated", True)
    definition = several["requestParameters"].pop("trainingJobDefinition")
    several["requestParameters"]["trainingJobDefinitions"] = [definition, definition]
    deployed.job_created(several)
    # Another service's call.
    deployed.job_created({**cloudtrail_detail("training", "other", None), "eventSource": "s3.amazonaws.com"})

    assert deployed.received("events") == []
    assert deployed.received("alerts") == []


def test_only_the_organization_puts_events_on_the_central_bus() -> None:
    central = resolved(CENTRAL_TEMPLATE, OrganizationId="o-a1b2c3d4e5")
    statement = central["DetectionBusPolicy"]["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == "<DetectionBus.Arn>"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    # The queue is optional (KeepEventsInQueue defaults to false); the topic is always a target.
    assert central["EventQueue"]["Condition"] == "WithQueue"
    assert all(len(central[f"NonIsolated{kind}Job"]["Properties"]["Targets"]) == 1
               for kind in ("Training", "Processing", "Tuning"))  # fmt: skip


def test_the_member_role_may_only_put_events_on_the_central_bus() -> None:
    member = resolved(MEMBER_TEMPLATE, AuditingAccountId=AUDITING)
    role = member["ForwardRole"]["Properties"]
    ((statement,),) = [policy["PolicyDocument"]["Statement"] for policy in role["Policies"]]
    assert statement == {
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{CENTRAL_REGION}:{AUDITING}:event-bus/isoaudit-detections",
    }
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
