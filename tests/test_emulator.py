"""The embedded emulator and the demo organization, checked through the AWS API as the auditor sees them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from isoaudit.aws import session as session_module
from isoaudit.aws.ec2 import enabled_regions
from isoaudit.aws.organizations import list_accounts
from isoaudit.aws.session import AwsSession
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.emulator import (
    AccountSpec,
    BuiltOrganization,
    Emulator,
    JobSpec,
    OrganizationSpec,
    build_organization,
    demo_spec,
    management_session,
)
from isoaudit.emulator.organization import ORGANIZATION_ACCESS_ROLE, _training_job_request

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FAILED_AT = NOW - timedelta(days=30, hours=5)
MISSING_XGBOOST = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "ModuleNotFoundError: '
    'No module named \'xgboost\'"\nCommand "/opt/conda/bin/python3.10 train.py", exit code: 1'
)


def small_spec() -> OrganizationSpec:
    return OrganizationSpec(
        accounts=(
            AccountSpec(
                "prod", "ml-prod", "/Workloads/Production", {"team": "fraud-ml", "environment": "production"}
            ),
            AccountSpec(
                "dev", "ml-dev", "/Workloads/NonProduction", {"environment": "development"}, audit_role=False
            ),
            AccountSpec("sandbox", "ds-sandbox", "/Sandbox"),
        ),
        jobs=(
            JobSpec(
                "prod",
                "us-east-1",
                "fraud-xgb-2026-11-20-02-00-00-000",
                NOW - timedelta(days=9),
                network_isolation=True,
                vpc=True,
                tags={"pipeline": "fraud-daily"},
                volume_kms_key="alias/fraud",
                output_kms_key="alias/fraud",
                inter_container_encryption=True,
            ),
            JobSpec(
                "prod",
                "us-east-1",
                "fraud-xgb-2026-10-30-07-00-00-000",
                FAILED_AT,
                network_isolation=None,
                status="Failed",
                failure_reason=MISSING_XGBOOST,
                duration=timedelta(minutes=4),
                tags={"team": "nlp-platform"},
            ),
            JobSpec(
                "prod",
                "eu-west-1",
                "ranker-live",
                NOW - timedelta(hours=2),
                network_isolation=False,
                status="InProgress",
            ),
            JobSpec(
                "dev",
                "us-east-1",
                "ranker-2026-11-28-10-00-00-000",
                NOW - timedelta(days=1),
                network_isolation=False,
                vpc=True,
                status="Stopped",
            ),
        ),
        bucket="isoaudit-test-emulator",
    )


@pytest.fixture(scope="module")
def small_org(emulator: Emulator) -> Iterator[BuiltOrganization]:
    emulator.reset()
    yield build_organization(endpoint_url=emulator.url, spec=small_spec())
    emulator.reset()  # leave the emulator empty for the next module


def member(emulator: Emulator, built: BuiltOrganization, key: str, role_name: str) -> AwsSession:
    return assume_role(
        aws=management_session(endpoint_url=emulator.url),
        role_arn=role_arn(account_id=built.account_ids[key], role_name=role_name),
        session_name="isoaudit-test",
    )


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def test_organization_accounts_ous_and_tags(emulator: Emulator, small_org: BuiltOrganization) -> None:
    accounts = {
        account.account_id: account
        for account in list_accounts(aws=management_session(endpoint_url=emulator.url))
    }

    assert set(accounts) == {small_org.management_account_id, *small_org.account_ids.values()}
    prod = accounts[small_org.account_ids["prod"]]
    assert (prod.name, prod.ou_path) == ("ml-prod", "/Workloads/Production")
    assert prod.tags == {"team": "fraud-ml", "environment": "production"}
    assert accounts[small_org.account_ids["dev"]].ou_path == "/Workloads/NonProduction"
    assert accounts[small_org.account_ids["sandbox"]].ou_path == "/Sandbox"
    assert accounts[small_org.account_ids["sandbox"]].tags == {}
    assert all(re.fullmatch(r"\d{12}", account_id) for account_id in accounts)
    buckets = management_session(endpoint_url=emulator.url).client("s3").list_buckets()["Buckets"]
    assert "isoaudit-test-emulator" in {bucket["Name"] for bucket in buckets}


def test_jobs_carry_their_history(emulator: Emulator, small_org: BuiltOrganization) -> None:
    sagemaker = member(emulator, small_org, "prod", "IsoAuditReadOnly").client("sagemaker")

    failed = sagemaker.describe_training_job(TrainingJobName="fraud-xgb-2026-10-30-07-00-00-000")
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"] == MISSING_XGBOOST
    assert abs(as_utc(failed["CreationTime"]) - FAILED_AT) < timedelta(seconds=1)
    assert as_utc(failed["TrainingStartTime"]) > as_utc(failed["CreationTime"])
    assert as_utc(failed["TrainingEndTime"]) - as_utc(failed["TrainingStartTime"]) == timedelta(minutes=4)
    # Not sent, so SageMaker reports its default, False; no VpcConfig at all.
    assert failed["EnableNetworkIsolation"] is False
    assert "VpcConfig" not in failed

    isolated = sagemaker.describe_training_job(TrainingJobName="fraud-xgb-2026-11-20-02-00-00-000")
    assert isolated["TrainingJobStatus"] == "Completed"
    assert isolated["EnableNetworkIsolation"] is True
    assert isolated["EnableInterContainerTrafficEncryption"] is True
    assert len(isolated["VpcConfig"]["Subnets"]) == 2
    assert isolated["ResourceConfig"]["VolumeKmsKeyId"] == "alias/fraud"
    assert isolated["OutputDataConfig"]["KmsKeyId"] == "alias/fraud"
    assert sagemaker.list_tags(ResourceArn=isolated["TrainingJobArn"])["Tags"] == [
        {"Key": "pipeline", "Value": "fraud-daily"}
    ]

    running = member(emulator, small_org, "prod", "IsoAuditReadOnly").client("sagemaker", region="eu-west-1")
    live = running.describe_training_job(TrainingJobName="ranker-live")
    assert live["TrainingJobStatus"] == "InProgress"
    assert "TrainingEndTime" not in live


def test_search_and_list_filters_see_the_history(emulator: Emulator, small_org: BuiltOrganization) -> None:
    sagemaker = member(emulator, small_org, "prod", "IsoAuditReadOnly").client("sagemaker")

    results = {
        result["TrainingJob"]["TrainingJobName"]: result["TrainingJob"]
        for result in sagemaker.search(Resource="TrainingJob")["Results"]
    }
    failed = results["fraud-xgb-2026-10-30-07-00-00-000"]
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"] == MISSING_XGBOOST
    assert failed["Tags"] == [{"Key": "team", "Value": "nlp-platform"}]
    assert abs(as_utc(failed["CreationTime"]) - FAILED_AT) < timedelta(seconds=1)
    # moto compares back-dated times with its own: they must be stored in a comparable form.
    old = sagemaker.list_training_jobs(CreationTimeBefore=NOW - timedelta(days=20))["TrainingJobSummaries"]
    assert [summary["TrainingJobName"] for summary in old] == ["fraud-xgb-2026-10-30-07-00-00-000"]
    failures = sagemaker.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"]
    assert [summary["TrainingJobName"] for summary in failures] == ["fraud-xgb-2026-10-30-07-00-00-000"]


def test_listings_see_every_change_made_through_the_api(
    emulator: Emulator, small_org: BuiltOrganization
) -> None:
    # The emulator keeps moto's whole listing between calls: any SageMaker write must be seen at once.
    access = member(emulator, small_org, "sandbox", ORGANIZATION_ACCESS_ROLE).client("sagemaker")
    auditor = member(emulator, small_org, "sandbox", "IsoAuditReadOnly").client("sagemaker")

    def searched() -> dict[str, list[dict[str, str]]]:
        results = auditor.search(Resource="TrainingJob", MaxResults=100)["Results"]
        return {result["TrainingJob"]["TrainingJobName"]: result["TrainingJob"]["Tags"] for result in results}

    before = searched()
    job = JobSpec("sandbox", "us-east-1", "late-arrival", NOW, network_isolation=False)
    arn = access.create_training_job(
        **_training_job_request(job, account_id=small_org.account_ids["sandbox"], network=None)
    )["TrainingJobArn"]
    assert set(searched()) - set(before) == {"late-arrival"}
    listed = auditor.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    assert "late-arrival" in {summary["TrainingJobName"] for summary in listed}

    access.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "late"}])
    assert searched()["late-arrival"] == [{"Key": "team", "Value": "late"}]


def test_jobs_stay_in_their_account_and_region(emulator: Emulator, small_org: BuiltOrganization) -> None:
    dev = member(emulator, small_org, "dev", ORGANIZATION_ACCESS_ROLE)
    names = [
        job["TrainingJobName"] for job in dev.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    ]
    assert names == ["ranker-2026-11-28-10-00-00-000"]
    stopped = dev.client("sagemaker").describe_training_job(TrainingJobName=names[0])
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert stopped["EnableNetworkIsolation"] is False
    assert stopped["VpcConfig"]["SecurityGroupIds"]
    assert dev.client("sagemaker", region="eu-west-1").list_training_jobs()["TrainingJobSummaries"] == []


def test_network_isolation_is_sent_only_when_specified() -> None:
    omitted = JobSpec("prod", "us-east-1", "a", NOW, network_isolation=None)
    explicit = JobSpec("prod", "us-east-1", "b", NOW, network_isolation=False)

    assert "EnableNetworkIsolation" not in _training_job_request(
        omitted, account_id="111122223333", network=None
    )
    assert (
        _training_job_request(explicit, account_id="111122223333", network=None)["EnableNetworkIsolation"]
        is False
    )
    assert "VpcConfig" not in _training_job_request(explicit, account_id="111122223333", network=None)


def test_assume_role_needs_the_role_in_the_target_account(
    emulator: Emulator, small_org: BuiltOrganization
) -> None:
    audited = member(emulator, small_org, "prod", "IsoAuditReadOnly")
    identity = audited.client("sts").get_caller_identity()
    assert identity["Account"] == small_org.account_ids["prod"]
    assert ":assumed-role/IsoAuditReadOnly/" in identity["Arn"]

    with pytest.raises(ClientError) as refused:
        member(emulator, small_org, "dev", "IsoAuditReadOnly")
    error = refused.value.response
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    dev_role = role_arn(account_id=small_org.account_ids["dev"], role_name="IsoAuditReadOnly")
    assert error["Error"]["Message"].endswith(
        f"is not authorized to perform: sts:AssumeRole on resource: {dev_role}"
    )
    assert error["Error"]["Message"].startswith(f"User: arn:aws:sts::{small_org.management_account_id}:")

    organization_access = member(emulator, small_org, "dev", ORGANIZATION_ACCESS_ROLE)
    assert organization_access.client("sts").get_caller_identity()["Account"] == small_org.account_ids["dev"]


def test_account_ids_are_the_same_for_a_seed(emulator: Emulator, small_org: BuiltOrganization) -> None:
    emulator.reset()
    again = build_organization(endpoint_url=emulator.url, spec=small_spec())
    assert again.account_ids == small_org.account_ids
    assert again.management_account_id == small_org.management_account_id


@pytest.fixture
def single_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients that give up after one attempt: retrying a throttle at rate 1.0 would only be slow."""
    monkeypatch.setattr(session_module, "RETRIES", {"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def faults_restored(emulator: Emulator) -> Iterator[None]:
    yield
    emulator.faults.throttle_rate = 0.0
    emulator.faults.throttled_services = None
    emulator.faults.latency_seconds = 0.0


@pytest.mark.usefixtures("single_attempt", "faults_restored")
def test_throttling_answers_in_each_protocol(emulator: Emulator) -> None:
    aws = management_session(endpoint_url=emulator.url)
    sagemaker, sts = aws.client("sagemaker"), aws.client("sts")
    emulator.faults.throttle_rate = 1.0
    emulator.faults.throttled_services = frozenset({"sagemaker"})
    before = emulator.faults.throttled[("sagemaker", "ListTrainingJobs")]

    with pytest.raises(ClientError) as throttled:
        sagemaker.list_training_jobs()
    assert throttled.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emulator.faults.throttled[("sagemaker", "ListTrainingJobs")] == before + 1
    assert sts.get_caller_identity()["Account"]  # other services are left alone

    emulator.faults.throttled_services = None
    with pytest.raises(ClientError) as query_throttled:
        sts.get_caller_identity()
    assert query_throttled.value.response["Error"]["Code"] == "Throttling"

    emulator.faults.throttle_rate = 0.0
    assert "TrainingJobSummaries" in sagemaker.list_training_jobs()


def test_requests_are_counted_per_operation(emulator: Emulator) -> None:
    sts = management_session(endpoint_url=emulator.url).client("sts")
    before = emulator.faults.requests[("sts", "GetCallerIdentity")]
    sts.get_caller_identity()
    sts.get_caller_identity()
    assert emulator.faults.requests[("sts", "GetCallerIdentity")] == before + 2


def test_opt_in_regions_are_not_enabled(emulator: Emulator) -> None:
    aws = management_session(endpoint_url=emulator.url)
    regions = {
        region["RegionName"]: region["OptInStatus"]
        for region in aws.client("ec2").describe_regions(AllRegions=True)["Regions"]
    }
    assert regions["ap-east-1"] == "not-opted-in"
    assert {"us-east-1", "eu-west-1"} <= enabled_regions(aws=aws)
    assert "ap-east-1" not in enabled_regions(aws=aws)


# demo_spec: checked as data; building its thousands of jobs is the demo's job, not the test suite's.

TEAM_KEYS = ("team", "Team", "owner")


@pytest.fixture(scope="module")
def demo() -> OrganizationSpec:
    return demo_spec(seed=7, now=NOW)


def test_demo_spec_is_deterministic(demo: OrganizationSpec) -> None:
    assert demo_spec(seed=7, now=NOW) == demo
    assert demo_spec(seed=8, now=NOW).jobs != demo.jobs


def test_demo_spec_volume_and_shape(demo: OrganizationSpec) -> None:
    accounts = {account.key: account for account in demo.accounts}
    created = [job.created_at for job in demo.jobs]
    statuses = Counter(job.status for job in demo.jobs)

    assert len(accounts) >= 10
    assert {"/Workloads/Production", "/Workloads/NonProduction", "/Sandbox"} <= {
        a.ou_path for a in demo.accounts
    }
    assert len(demo.jobs) >= 1500
    assert max(created) - min(created) >= timedelta(weeks=12)
    assert max(created) <= NOW
    assert all(job.account in accounts and job.region in demo.regions for job in demo.jobs)
    assert {job.region for job in demo.jobs} >= {"us-east-1", "eu-west-1"}
    assert len({(job.account, job.region, job.name) for job in demo.jobs}) == len(demo.jobs)
    assert 0.10 <= statuses["Failed"] / len(demo.jobs) <= 0.20
    assert statuses["InProgress"] >= 3
    assert all(NOW - job.created_at < timedelta(days=1) for job in demo.jobs if job.status == "InProgress")
    assert any(not account.audit_role for account in demo.accounts)


def test_demo_spec_has_every_posture_and_attribution_path(demo: OrganizationSpec) -> None:
    accounts = {account.key: account for account in demo.accounts}
    postures = Counter((bool(job.network_isolation), job.vpc) for job in demo.jobs)
    teams_on_jobs = {job.tags[key] for job in demo.jobs for key in TEAM_KEYS if key in job.tags}
    teams_on_accounts = {account.tags["team"] for account in demo.accounts if "team" in account.tags}

    assert all(
        postures[posture] > 0 for posture in [(True, True), (True, False), (False, True), (False, False)]
    )
    assert any(job.network_isolation is None for job in demo.jobs)
    assert any(job.network_isolation is False for job in demo.jobs)
    assert len(teams_on_jobs | teams_on_accounts) >= 5
    assert any(job.tags.get("pipeline") for job in demo.jobs)
    # Jobs relying on their account's team tag, and jobs nobody can attribute.
    assert any(
        not any(key in job.tags for key in TEAM_KEYS) and "team" in accounts[job.account].tags
        for job in demo.jobs
    )
    assert any(
        not any(key in job.tags for key in TEAM_KEYS) and "team" not in accounts[job.account].tags
        for job in demo.jobs
    )
    sdk_suffix = re.compile(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}$")
    assert sum(bool(sdk_suffix.search(job.name)) for job in demo.jobs) > 0.9 * len(demo.jobs)


def test_demo_spec_failures_tell_the_cost_of_isolation(demo: OrganizationSpec) -> None:
    reasons = [job.failure_reason for job in demo.jobs if job.status == "Failed"]
    isolated_failures = [
        job.failure_reason for job in demo.jobs if job.status == "Failed" and job.network_isolation
    ]

    assert all(reasons)
    for text in (
        "No module named",
        "Could not find a version that satisfies the requirement",
        "PackagesNotFoundError",
        "Could not resolve host",
        "Connection timed out",
        "NoCredentialsError",
        "when calling the GetObject operation: Access Denied",
        "CUDA out of memory",
    ):
        assert any(text in reason for reason in reasons), text
    assert any("No module named" in reason for reason in isolated_failures)
    assert not any(job.failure_reason for job in demo.jobs if job.status != "Failed")


def test_demo_spec_families_get_fixed_late_or_never(demo: OrganizationSpec) -> None:
    by_family: dict[tuple[str, str, str], list[JobSpec]] = {}
    for job in sorted(demo.jobs, key=lambda job: job.created_at):
        by_family.setdefault((job.account, job.region, re.sub(r"-[\d-]+$", "", job.name)), []).append(job)
    fix_delays = {}
    for family, jobs in by_family.items():
        first_open = next((job for job in jobs if not job.network_isolation), None)
        fixed = first_open and next(
            (job for job in jobs if job.network_isolation and job.created_at > first_open.created_at), None
        )
        if first_open and fixed:
            fix_delays[family] = fixed.created_at - first_open.created_at
    never_fixed = [family for family, jobs in by_family.items() if not jobs[-1].network_isolation]
    stopped_running = [
        family for family, jobs in by_family.items() if NOW - jobs[-1].created_at > timedelta(weeks=4)
    ]

    assert min(fix_delays.values()) <= timedelta(days=4)
    assert max(fix_delays.values()) >= timedelta(weeks=8)
    assert len(never_fixed) >= 3
    assert stopped_running
