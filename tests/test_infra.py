"""infra/: the audit role, the auditor's policy and the SCP.

The templates are linted by cfn-lint, then resolved for given parameters (Ref, Fn::Sub, Fn::If and the
conditions) and checked as IAM would read them. The permissions are then cross-checked against what isoaudit
really calls: a collection, a lake write, the report's delivery (archive, emails) and `isoaudit doctor` run
against the emulator, every call is recorded (member
accounts: the emulator's own request count; auditing account: a botocore `before-call` hook on its
session, inherited by every client built from it), mapped to its IAM action, and must be allowed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import lint, lint_file
from cfnlint.decode import cfn_yaml

from isoaudit import delivery, doctor, prices
from isoaudit.aws import ec2, lake, lake_check, lake_mirror, organizations, preflight, run_lock, sns
from isoaudit.aws.session import AwsSession
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.collect import AuditRun, ReadSlots, audit_account
from isoaudit.config import load_config
from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.history import launched_by_tuning_job
from isoaudit.emulator.mail import verify_sender
from isoaudit.emulator.organization import EXECUTION_ROLE, ORGANIZATION_ACCESS_ROLE
from isoaudit.guardrails import read_preventive_coverage
from isoaudit.job_kinds import KINDS
from isoaudit.publish.excel import write_workbook
from tests.report_factory import build_report

INFRA = Path(__file__).resolve().parents[1] / "infra"
AUDIT_ROLE = INFRA / "audit-role.yaml"
AUDITOR_POLICY = INFRA / "auditor-policy.yaml"
SCP = INFRA / "deny-training-without-isolation.json"
DETECT_MEMBER = INFRA / "detect-non-isolated-jobs.yaml"
DETECT_CENTRAL = INFRA / "detect-central.yaml"

# The region list, then what reading each declared job kind takes (isoaudit.job_kinds).
MEMBER_READS = {"ec2:DescribeRegions", *(action for kind in KINDS for action in kind.iam_actions)}
ORGANIZATION_READS = {
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListTagsForResource",
    "organizations:ListPolicies",
    "organizations:DescribePolicy",
    "organizations:ListTargetsForPolicy",
}
WRITE_VERBS = ("Create", "Put", "Delete", "Update", "Start", "Stop", "Tag", "Untag", "Add")
AUDITING_ACCOUNT = "999988887777"
MEMBER_ACCOUNT = "111122223333"
SCP_SIZE_LIMIT = 5120  # characters, AWS Organizations' limit for a service control policy


# --- Reading the templates -------------------------------------------------------------------------


def template(path: Path) -> dict[str, Any]:
    return cfn_yaml.load(str(path))


_NO_VALUE = object()


def resolved(path: Path, **parameters: Any) -> dict[str, Any]:
    """The template's resources as CloudFormation would create them with `parameters` (else defaults)."""
    body = template(path)
    values = {name: spec.get("Default") for name, spec in body["Parameters"].items()}
    values |= parameters
    values |= {"AWS::Partition": "aws", "AWS::AccountId": MEMBER_ACCOUNT, "AWS::Region": "us-east-1"}
    values |= {name: f"<{name}>" for name in body["Resources"]}  # a Ref to a resource: its id, unknown here
    conditions: dict[str, bool] = {}
    for name, expression in body.get("Conditions", {}).items():
        conditions[name] = _resolve(expression, values, conditions)
    return _resolve(body["Resources"], values, conditions)


def _resolve(node: Any, values: dict[str, Any], conditions: dict[str, bool]) -> Any:
    if isinstance(node, list):
        items = [_resolve(item, values, conditions) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref":
            return _NO_VALUE if argument == "AWS::NoValue" else values[argument]
        if key == "Fn::Sub":
            return re.sub(r"\$\{([\w:]+)\}", lambda match: str(values[match[1]]), argument)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return _resolve(when_true if conditions[name] else when_false, values, conditions)
        if key == "Fn::Equals":
            left, right = (_resolve(item, values, conditions) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not _resolve(argument[0], values, conditions)
        if key == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
    items = {key: _resolve(value, values, conditions) for key, value in node.items()}
    return {key: value for key, value in items.items() if value is not _NO_VALUE}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {
        action
        for statement in statements(document)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }


def role(**parameters: Any) -> dict[str, Any]:
    return resolved(AUDIT_ROLE, AuditingAccountId=AUDITING_ACCOUNT, **parameters)["AuditRole"]["Properties"]


def role_actions() -> set[str]:
    return {action for policy in role()["Policies"] for action in allowed_actions(policy["PolicyDocument"])}


def auditor_policy(**parameters: Any) -> dict[str, Any]:
    properties = resolved(AUDITOR_POLICY, **{"LakeBucket": "acme-isoaudit-lake", **parameters})[
        "AuditorPolicy"
    ]
    return properties["Properties"]


# --- Static checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [AUDIT_ROLE, AUDITOR_POLICY, DETECT_MEMBER, DETECT_CENTRAL], ids=lambda path: path.name
)
def test_template_passes_cfn_lint(path: Path) -> None:
    assert [str(match) for match in lint_file(path)] == []


def test_cfn_lint_does_flag_a_broken_template() -> None:
    broken = "Resources:\n  Role:\n    Type: AWS::IAM::Rolle\n"
    assert lint(broken)


def test_audit_role_allows_exactly_the_reads_isoaudit_makes_in_a_member_account() -> None:
    actions = role_actions()
    assert actions == MEMBER_READS
    for action in actions:
        assert "*" not in action
        assert not action.split(":")[1].startswith(WRITE_VERBS), action


def test_audit_role_describes_only_the_jobs_of_its_own_account() -> None:
    (policy,) = role()["Policies"]
    scoped = [statement for statement in statements(policy["PolicyDocument"]) if statement["Resource"] != "*"]
    assert {action for statement in scoped for action in statement["Action"]} == {
        "sagemaker:DescribeTrainingJob",
        "sagemaker:DescribeHyperParameterTuningJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:ListTags",
    }
    for statement in scoped:
        for resource in statement["Resource"]:
            assert resource.startswith(f"arn:aws:sagemaker:*:{MEMBER_ACCOUNT}:"), resource


def test_audit_role_trusts_only_the_auditing_account_without_external_id() -> None:
    properties = role()
    assert properties["RoleName"] == "IsoAuditReadOnly"
    (trust,) = statements(properties["AssumeRolePolicyDocument"])
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{AUDITING_ACCOUNT}:root"}
    assert trust["Action"] == "sts:AssumeRole"
    assert "Condition" not in trust


def test_audit_role_requires_the_external_id_when_one_is_given() -> None:
    properties = role(ExternalId="acme-isoaudit-7f3a", RoleName="AcmeAudit", MaxSessionDuration=43200)
    (trust,) = statements(properties["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{AUDITING_ACCOUNT}:root"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "acme-isoaudit-7f3a"}}
    assert properties["RoleName"] == "AcmeAudit"
    assert properties["MaxSessionDuration"] == 43200


def test_audit_role_parameters_bound_what_can_be_deployed() -> None:
    parameters = template(AUDIT_ROLE)["Parameters"]
    duration = parameters["MaxSessionDuration"]
    assert (duration["MinValue"], duration["MaxValue"], duration["Default"]) == (3600, 43200, 3600)
    account = re.compile(parameters["AuditingAccountId"]["AllowedPattern"])
    assert account.match(AUDITING_ACCOUNT)
    assert not account.match("*")
    assert not account.match("12345678901")
    assert "Default" not in parameters["AuditingAccountId"]  # never a silent default principal


def test_auditor_policy_reads_the_organization_and_assumes_only_the_audit_role() -> None:
    document = auditor_policy()["PolicyDocument"]
    actions = allowed_actions(document)
    assert {action for action in actions if action.startswith("organizations:")} == ORGANIZATION_READS
    (assume,) = [statement for statement in statements(document) if statement["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == "arn:aws:iam::*:role/IsoAuditReadOnly"
    assert not any(action.startswith(("sns:", "kms:")) for action in actions)
    assert "Roles" not in auditor_policy()


def test_auditor_policy_publishes_and_encrypts_only_when_given_a_topic_and_a_key() -> None:
    topic = "arn:aws:sns:eu-west-1:999988887777:isoaudit-alerts"
    key = "arn:aws:kms:us-east-1:999988887777:key/0f3c8c2e-1111-2222-3333-444455556666"
    properties = auditor_policy(SnsTopicArn=topic, KmsKeyArn=key, AttachToRole="isoaudit-worker")
    by_sid = {statement["Sid"]: statement for statement in statements(properties["PolicyDocument"])}
    assert by_sid["PublishNewViolationAlerts"]["Resource"] == topic
    assert by_sid["PublishNewViolationAlerts"]["Action"] == "sns:Publish"
    assert by_sid["EncryptLakeObjects"]["Resource"] == key
    assert properties["Roles"] == ["isoaudit-worker"]


def test_scp_denies_creating_jobs_without_isolation_including_requests_that_omit_the_flag() -> None:
    text = SCP.read_text()
    assert len(text) <= SCP_SIZE_LIMIT
    document = json.loads(text)
    assert all(statement["Effect"] == "Deny" for statement in statements(document))
    denied = {}
    for statement in statements(document):
        for action in as_list(statement["Action"]):
            denied[action] = statement
    assert set(denied) == {
        # Every declared job kind's creation (isoaudit.job_kinds)...
        *(kind.scp_action for kind in KINDS),
        # ...and CreateModel: the service authorization reference lists the condition key for it too.
        "sagemaker:CreateModel",
    }
    for statement in denied.values():
        assert statement["Resource"] == "*"
        # BoolIfExists: a request that omits the flag has no key, and is denied as well.
        assert statement["Condition"] == {"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}}


# --- Cross-check against the calls isoaudit really makes -------------------------------------------

# S3 operations whose IAM action has another name; every other operation is <signing name>:<operation>.
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "DeleteObjects": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",  # and s3:GetObject on the source, which GetObject calls need anyway
}
# Calls that no IAM policy can deny.
UNGATED = {"sts:GetCallerIdentity"}


def iam_action(service: str, operation: str) -> str:
    if service == "s3" and operation in S3_ACTIONS:
        return S3_ACTIONS[operation]
    return f"{service}:{operation}"


class CallRecorder:
    """A botocore `before-call` handler: the (signing name, operation) of every call the auditing account
    makes. Member sessions share the auditor's boto3 session (and so this handler) with credentials of
    their own: their calls are told apart by the signing key."""

    def __init__(self, *, access_key: str) -> None:
        self._access_key = access_key
        self._lock = threading.Lock()
        self._calls: set[tuple[str, str]] = set()

    def __call__(self, *, model: Any, request_signer: Any, **_: Any) -> None:
        if request_signer._credentials.access_key != self._access_key:  # botocore keeps them private
            return
        with self._lock:
            self._calls.add((model.service_model.signing_name, model.name))

    def snapshot(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._calls)


@dataclass(frozen=True)
class RecordedCalls:
    member: set[str]  # IAM actions called in the member account
    auditor: set[str]  # IAM actions called by the auditing account
    report_keys: list[str]  # S3 keys the delivery and the doctor wrote


JOB_TIME = datetime(2026, 11, 18, 10, tzinfo=UTC)
TUNING_JOB = "churn-hpo-2026-11-18"


@pytest.fixture(scope="module")
def recorded_calls(emulator, tmp_path_factory) -> RecordedCalls:
    emulator.reset()
    spec = OrganizationSpec(
        accounts=(AccountSpec("member", "ml-member", "/Workloads", {"team": "fraud"}),),
        jobs=(
            JobSpec(
                "member", "us-east-1", "churn-2026-11-18-10-00-00-000", JOB_TIME, network_isolation=False
            ),
            JobSpec("member", "us-east-1", "score-2026-11-18-10-00-00-000", JOB_TIME, network_isolation=True),
        ),
        bucket="isoaudit-infra-lake",
        regions=("us-east-1",),
    )
    built = build_organization(endpoint_url=emulator.url, spec=spec)
    member_id = built.account_ids["member"]
    setup = AwsSession(_credentials(), endpoint_url=emulator.url)
    _add_processing_and_tuning_jobs(setup, account_id=member_id)
    topic_arn = setup.client("sns").create_topic(Name="isoaudit-alerts")["TopicArn"]

    auditor = AwsSession(_credentials(), endpoint_url=emulator.url)
    recorder = CallRecorder(access_key="testing")
    # Clients copy the session's handlers when built: register before the first client.
    auditor.boto3_session.events.register("before-call", recorder)
    config = load_config(
        None,
        bucket=spec.bucket,
        endpoint_url=emulator.url,
        role_name=spec.audit_role_name,
        # An opt-in region beside one that cannot be disabled: the member's enabled regions are then read.
        regions=["us-east-1", "ap-east-1"],
    )
    run = AuditRun(run_id="infra", audit_week="2026-W47", started_at=datetime.now(UTC))
    accounts = organizations.list_accounts(aws=auditor)
    (member,) = [account for account in accounts if account.account_id == member_id]

    emulator.faults.reset_counts()
    before = recorder.snapshot()
    audited = audit_account(
        aws=auditor,
        account=member,
        config=config,
        run=run,
        default_regions=["us-east-1"],
        plans={},
        slots=ReadSlots(2),
    )
    server_calls = set(emulator.faults.requests)
    auditor_calls_meanwhile = recorder.snapshot() - before
    statuses = dict(zip(audited.coverage["region"], audited.coverage["status"], strict=True))
    assert statuses == {"us-east-1": "audited", "ap-east-1": "skipped"}

    read_preventive_coverage(aws=auditor, accounts=accounts)
    ec2.enabled_regions(aws=auditor)
    preflight.check(aws=auditor, config=config)
    lock = run_lock.acquire(aws=auditor, config=config, run_id="infra")
    for surveyed in (False, True):  # the second write replaces what the first wrote, as a run does
        files = preflight.survey_lake(aws=auditor, config=config) if surveyed else None
        lake.read_table(aws=auditor, config=config, table="jobs", lake=files)
        lake.write_table(
            aws=auditor,
            config=config,
            table="jobs",
            frame=audited.jobs,
            months=lake.creation_months(audited.jobs),
            lake=files,
        )
        lake.write_table(aws=auditor, config=config, table="coverage", frame=audited.coverage, lake=files)
        lake.publish_views(aws=auditor, config=config, views={}, lake=files)  # the lake's state
        copy = tmp_path_factory.mktemp("lake")
        lake_mirror.mirror(aws=auditor, config=config, destination=copy, lake=files)
    # The jobs' list prices: pricing:GetProducts, and the prices table in the lake.
    book = prices.refresh(aws=auditor, config=config, jobs=audited.jobs, now=run.started_at)
    assert book.calls and not book.failure
    run_lock.release(aws=auditor, config=config, run_id="infra", etag=lock)  # a conditional delete
    run_lock.acquire(aws=auditor, config=config, run_id="infra-2")
    run_lock.release(aws=auditor, config=config, run_id="infra-2")  # read, then deleted
    # `isoaudit lake check --repair` with the auditor's policy: a file that is not Parquet, moved aside.
    setup.client("s3").put_object(Bucket=spec.bucket, Key="isoaudit/jobs/broken.parquet", Body=b"not parquet")
    lake_check.move_aside(aws=auditor, config=config, uris=lake_check.not_parquet(aws=auditor, config=config))
    sns.publish(aws=auditor, topic_arn=topic_arn, subject="isoaudit test", message="one alert")
    reports_dir = tmp_path_factory.mktemp("reports")
    report_keys = _deliver_and_check(
        auditor,
        config=config.model_copy(update={"reports_dir": reports_dir}),
        run=run,
        topic_arn=topic_arn,
        emulator=emulator,
    )

    return RecordedCalls(
        member={iam_action(*call) for call in server_calls - auditor_calls_meanwhile},
        auditor={iam_action(*call) for call in recorder.snapshot()} - UNGATED,
        report_keys=report_keys,
    )


SENDER = "isoaudit@acme.example"


def _deliver_and_check(
    auditor: AwsSession, *, config: Any, run: AuditRun, topic_arn: str, emulator: Any
) -> list[str]:
    """The delivery (archive and emails, twice: the second run finds the sent markers) and the doctor, as
    the auditing account; the S3 keys they wrote."""
    verify_sender(endpoint_url=emulator.url, sender=SENDER)
    email = {"sender": SENDER, "finops": ["finops@acme.example"], "teams": {"fraud": ["lead@acme.example"]}}
    config = config.model_copy(update={"email": load_config(None, bucket=config.bucket, email=email).email})
    written: list[str] = []
    # On the client: it may be built already (the run lock, the lake check), and a client copies the
    # session's event hooks when it is built.
    auditor.client("s3").meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: written.append(params["Key"])
    )
    built = build_report()
    weekly = dataclasses.replace(built, trend=built.trend.assign(audit_coverage=100.0))
    workbook = write_workbook(weekly, path=config.reports_dir / "infra.xlsx")
    for _ in range(2):
        delivered = delivery.deliver(
            aws=auditor, config=config, run=run, weekly=weekly, workbook=workbook, summary={}
        )
        assert {email["status"] for email in delivered.emails} <= {"sent", "already sent"}
    checks = doctor.run_checks(
        config.model_copy(update={"sns_topic_arn": topic_arn}), every_account=True, aws=auditor
    )
    assert [check for check in checks if not check.ok] == []
    return written


def _credentials() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _add_processing_and_tuning_jobs(setup: AwsSession, *, account_id: str) -> None:
    """A processing job, and a tuning job that launched the first training job: both are then read."""
    member = assume_role(
        aws=setup,
        role_arn=role_arn(account_id=account_id, role_name=ORGANIZATION_ACCESS_ROLE),
        session_name="isoaudit-infra-test",
    )
    sagemaker = member.client("sagemaker", region="us-east-1")
    execution_role = role_arn(account_id=account_id, role_name=EXECUTION_ROLE)
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sklearn-processing:1.2-1"
    tags = [{"Key": "team", "Value": "fraud"}]  # moto's ListTags fails on a job created without tags
    sagemaker.create_processing_job(
        ProcessingJobName="features-2026-11-18",
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
        },
        AppSpecification={"ImageUri": image},
        RoleArn=execution_role,
        NetworkConfig={"EnableNetworkIsolation": False},
        Tags=tags,
    )
    tuning_arn = sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=TUNING_JOB,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": execution_role,
            "OutputDataConfig": {"S3OutputPath": f"s3://sagemaker-us-east-1-{account_id}/hpo/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "EnableNetworkIsolation": False,
        },
        Tags=tags,
    )["HyperParameterTuningJobArn"]
    launched_by_tuning_job(
        account_id=account_id,
        region="us-east-1",
        name="churn-2026-11-18-10-00-00-000",
        tuning_job_arn=tuning_arn,
    )


def test_the_collection_read_every_kind_of_job(recorded_calls: RecordedCalls) -> None:
    # What the emulator can exercise: DescribeTrainingJob and DescribeHyperParameterTuningJob run only for
    # jobs Search's index has not caught up with, which the emulator's Search never lags behind.
    lagging = {"sagemaker:DescribeTrainingJob", "sagemaker:DescribeHyperParameterTuningJob"}
    assert recorded_calls.member == MEMBER_READS - lagging


def test_audit_role_allows_every_call_made_in_a_member_account(recorded_calls: RecordedCalls) -> None:
    assert recorded_calls.member <= role_actions()


def test_auditor_policy_allows_every_call_of_the_auditing_account(recorded_calls: RecordedCalls) -> None:
    allowed = allowed_actions(
        auditor_policy(SnsTopicArn="arn:aws:sns:us-east-1:123456789012:t", SenderIdentity=SENDER)[
            "PolicyDocument"
        ]
    )
    assert recorded_calls.auditor, "nothing recorded"
    assert recorded_calls.auditor - allowed == set()


def test_auditor_policy_gains_only_get_products_of_the_price_list_and_the_run_calls_it(
    recorded_calls: RecordedCalls,
) -> None:
    actions = allowed_actions(auditor_policy()["PolicyDocument"])
    assert {action for action in actions if action.startswith("pricing:")} == {"pricing:GetProducts"}
    assert "pricing:GetProducts" in recorded_calls.auditor


def test_the_delivery_sends_email_and_the_doctor_reads_what_it_checks(recorded_calls: RecordedCalls) -> None:
    assert {
        "ses:SendRawEmail",
        "ses:GetIdentityVerificationAttributes",
        "sns:GetTopicAttributes",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
    } <= recorded_calls.auditor


def test_every_report_object_is_written_under_the_lakes_prefix(recorded_calls: RecordedCalls) -> None:
    document = auditor_policy(LakeBucket="isoaudit-infra-lake")["PolicyDocument"]
    writable = [
        resource
        for statement in statements(document)
        if "s3:PutObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    keys = recorded_calls.report_keys
    assert any("/reports/2026-W47/sent/" in key for key in keys)  # the sent-email markers
    assert any(key.endswith("/teams/isoaudit-2026-W47-team-fraud.xlsx") for key in keys)
    for key in keys:
        assert key.startswith("isoaudit/reports/")
        assert any(fnmatch(f"arn:aws:s3:::isoaudit-infra-lake/{key}", pattern) for pattern in writable)


def test_auditor_policy_sends_email_only_from_the_sender_identity() -> None:
    without = auditor_policy()["PolicyDocument"]
    assert not any(action.startswith("ses:") for action in allowed_actions(without))
    document = auditor_policy(SenderIdentity="acme.example")["PolicyDocument"]
    by_sid = {statement["Sid"]: statement for statement in statements(document)}
    assert by_sid["SendReportEmails"] == {
        "Sid": "SendReportEmails",
        "Effect": "Allow",
        "Action": "ses:SendRawEmail",
        "Resource": f"arn:aws:ses:us-east-1:{MEMBER_ACCOUNT}:identity/acme.example",
    }
    ses_actions = {action for action in allowed_actions(document) if action.startswith("ses:")}
    assert ses_actions == {"ses:SendRawEmail", "ses:GetIdentityVerificationAttributes"}
