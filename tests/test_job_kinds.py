"""A job kind is one declaration (isoaudit.job_kinds): adding one makes the collection read it, the records
map it and the report and alerts link to its console page, with nothing else edited.

The throwaway kind is SageMaker's compilation jobs, which the emulator (moto) can list and describe. The
declarations are read when the modules that loop over them are imported, so it is declared in a fresh
interpreter before anything else is imported, as a developer adding one would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from isoaudit.job_kinds import KINDS, console_url

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, os, sys
from datetime import UTC, datetime
from isoaudit import job_kinds
from isoaudit.job_kinds import JobKind, Reading


def compilation_fields(record):
    return {
        "network_isolation": False,
        "vpc_subnet_ids": "",
        "vpc_security_group_ids": "",
        "inter_container_encryption": False,
        "volume_kms_key_id": "",
        "output_kms_key_id": "",
        "image_uri": record.get("InferenceImage") or "",
        "role_arn": record.get("RoleArn") or "",
        "status": record.get("CompilationJobStatus"),
        "start_time": record.get("CompilationStartTime"),
        "end_time": record.get("CompilationEndTime"),
        "tuning_job_name": "",
    }


job_kinds.KINDS = (*job_kinds.KINDS, JobKind(
    name="compilation", list_operation="list_compilation_jobs", summaries_key="CompilationJobSummaries",
    name_key="CompilationJobName", arn_key="CompilationJobArn", describe_operation="describe_compilation_job",
    search_resource=None, reading=Reading.LIST_THEN_DESCRIBE, fields=compilation_fields,
    console_page="compilation-jobs", scp_action="sagemaker:CreateCompilationJob",
    iam_actions=("sagemaker:ListCompilationJobs", "sagemaker:DescribeCompilationJob", "sagemaker:ListTags"),
    arn_type="compilation-job",
))

import pandas as pd
from isoaudit import audit
from isoaudit.alerts import new_violations_message
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.config import load_config
from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization
from isoaudit.emulator.organization import ORGANIZATION_ACCESS_ROLE, management_session
from isoaudit.emulator.server import start_emulator
from isoaudit.metrics.report import build_report
from isoaudit.schema import ACCOUNTS, COVERAGE, empty_frame

os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
created = datetime(2026, 11, 10, 10, tzinfo=UTC)
spec = OrganizationSpec(
    accounts=(AccountSpec(key="vision", name="ml-vision", ou_path="/Workloads", tags={"team": "vision"}),),
    jobs=(JobSpec("vision", "us-east-1", "trainer", created, network_isolation=True),),
    bucket="isoaudit-kinds",
    regions=("us-east-1",),
)
with start_emulator(seed=3) as emulator:
    built = build_organization(endpoint_url=emulator.url, spec=spec)
    member = assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=role_arn(account_id=built.account_ids["vision"], role_name=ORGANIZATION_ACCESS_ROLE),
        session_name="test",
    )
    member.client("sagemaker", region="us-east-1").create_compilation_job(
        CompilationJobName="compile-resnet", RoleArn=f"arn:aws:iam::{built.account_ids['vision']}:role/x",
        InputConfig={"S3Uri": "s3://models/resnet", "Framework": "PYTORCH"},
        OutputConfig={"S3OutputLocation": "s3://models/out", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Tags=[{"Key": "team", "Value": "vision"}],  # moto's ListTags fails on an untagged compilation job
    )
    config = load_config(bucket=built.bucket, endpoint_url=emulator.url, role_name=spec.audit_role_name,
                         regions=["us-east-1"])
    aws = audit.management_session(config)
    run = audit.start_run(now=pd.Timestamp.now(tz="UTC"), run_id="kinds")
    organization = audit.discover(aws=aws, config=config, run=run)
    audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
jobs = pd.concat([done.jobs for done in audits], ignore_index=True)
compiled = jobs.loc[jobs["job_kind"] == "compilation"]
week = compiled["creation_time"].iloc[0].strftime("%G-W%V")
report = build_report(jobs=jobs, accounts=empty_frame(ACCOUNTS), coverage=empty_frame(COVERAGE),
                      preventive=None, config=config, week=week, generated_at=pd.Timestamp.now(tz="UTC"))
violations = report.violations
alert = new_violations_message(
    jobs.assign(team="vision"), run_started_at=run.started_at, report_uri=None
)
print(json.dumps({
    "kinds": sorted(jobs["job_kind"].unique()),
    "compiled": compiled[["job_name", "status", "role_arn", "network_isolation"]].to_dict("records"),
    "violation_links": violations.loc[violations["job_kind"] == "compilation", "console_url"].tolist(),
    "alert": alert.message if alert else "",
}, default=str))
"""


def test_a_kind_declared_once_is_collected_mapped_and_linked(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["kinds"] == ["compilation", "training"]
    assert found["compiled"] == [
        {
            "job_name": "compile-resnet",
            "status": "COMPLETED",
            "role_arn": found["compiled"][0]["role_arn"],
            "network_isolation": False,
        }
    ]
    assert found["compiled"][0]["role_arn"].endswith(":role/x")
    link = "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/compilation-jobs/compile-resnet"
    assert found["violation_links"] == [link]
    assert f"compile-resnet (us-east-1) {link}" in found["alert"]


def test_console_url_quotes_the_region_and_never_raises_on_an_unknown_kind() -> None:
    url = console_url(region="eu-west-1/../x", job_kind="no-such-kind", job_name="a b")
    assert url == (
        "https://eu-west-1%2F..%2Fx.console.aws.amazon.com/sagemaker/home?region=eu-west-1%2F..%2Fx#/jobs/a%20b"
    )


def test_every_kind_is_fully_declared() -> None:
    assert [kind.name for kind in KINDS] == ["training", "tuning", "processing"]
    for kind in KINDS:
        assert kind.scp_action.startswith("sagemaker:Create"), kind.name
        assert kind.iam_actions and all(action.startswith("sagemaker:") for action in kind.iam_actions)
        assert (kind.search_resource is None) == (kind.reading.value == "list then describe"), kind.name
        assert (kind.child_key is not None) == kind.launcher, kind.name
