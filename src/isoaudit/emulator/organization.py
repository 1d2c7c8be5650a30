"""A data-driven spec of accounts and training jobs, and a builder that creates it in the emulator.

`build_organization` creates any `OrganizationSpec` in the emulator through the AWS API alone (boto3 against
the emulator's endpoint, acting in member accounts through `OrganizationAccountAccessRole`), then gives the
jobs their past with `isoaudit.emulator.history`.

The demo's own story (which accounts, teams and jobs) is isoaudit.emulator.demo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.client import BaseClient

from isoaudit.aws.session import AwsSession
from isoaudit.aws.sts import assume_role, role_arn
from isoaudit.emulator.history import apply_history, apply_tuning_history, launched_by_tuning_job
from isoaudit.guardrail_files import SCP_PATH

HOME_REGION = "us-east-1"
ORGANIZATION_ACCESS_ROLE = "OrganizationAccountAccessRole"
EXECUTION_ROLE = "SageMakerExecutionRole"
DEFAULT_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-cpu-py311-ubuntu20.04-sagemaker"
)
# A moto server answers about 100 requests a second whatever the client does; a few threads hide the
# client's own serialisation time behind the server's.
BUILD_WORKERS = 6


@dataclass(frozen=True)
class JobSpec:
    """One training job to create, with the history it should show."""

    account: str  # key of an AccountSpec
    region: str
    name: str
    created_at: datetime  # timezone-aware
    network_isolation: bool | None  # None: the parameter is not sent, as the SDK does by default
    vpc: bool = False
    status: str = "Completed"  # Completed, Failed, InProgress or Stopped
    failure_reason: str = ""
    duration: timedelta = timedelta(hours=1)  # from the start of training to its end
    tags: dict[str, str] = field(default_factory=dict)
    image: str = DEFAULT_IMAGE
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    # A heterogeneous cluster: (instance type, count) per group; instance_type and instance_count unused.
    instance_groups: tuple[tuple[str, int], ...] = ()
    spot: bool = False  # EnableManagedSpotTraining
    spot_savings: float = 0.0  # share of the training time not billed (Spot), as AWS reports it
    warm_pool: timedelta = timedelta(0)  # how long the instances were kept warm after the job (billed)
    inter_container_encryption: bool = False
    volume_kms_key: str = ""
    output_kms_key: str = ""
    tuning_job: str = ""  # name of the TuningJobSpec (same account and region) that launched it


@dataclass(frozen=True)
class TuningJobSpec:
    """One hyperparameter tuning job; its training jobs are the JobSpecs that name it."""

    account: str
    region: str
    name: str  # at most 32 characters, as SageMaker requires
    created_at: datetime  # timezone-aware
    network_isolation: bool | None  # of its training job definition; None: not sent
    status: str = "Completed"  # Completed, InProgress, Failed or Stopped
    duration: timedelta = timedelta(hours=6)
    tags: dict[str, str] = field(default_factory=dict)
    image: str = DEFAULT_IMAGE


@dataclass(frozen=True)
class AccountSpec:
    key: str  # how jobs refer to the account; account ids are only known once built
    name: str
    ou_path: str  # e.g. /Workloads/Production; "/" for the root
    tags: dict[str, str] = field(default_factory=dict)
    audit_role: bool = True  # False: the audit role was never deployed (a coverage gap)


@dataclass(frozen=True)
class OrganizationSpec:
    accounts: tuple[AccountSpec, ...]
    jobs: tuple[JobSpec, ...]
    audit_role_name: str = "IsoAuditReadOnly"
    bucket: str = "isoaudit-lake"
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1")
    guarded_ou_paths: tuple[str, ...] = ()  # OUs with isoaudit's SCP (infra/) attached
    tuning_jobs: tuple[TuningJobSpec, ...] = ()


@dataclass(frozen=True)
class BuiltOrganization:
    management_account_id: str
    account_ids: dict[str, str]  # AccountSpec.key -> 12-digit account id
    bucket: str
    spec: OrganizationSpec


def management_session(*, endpoint_url: str) -> AwsSession:
    """The management account's session in the emulator (dummy credentials)."""
    return AwsSession(
        boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106  (moto accepts anything; nothing real is used)
            region_name=HOME_REGION,
        ),
        endpoint_url=endpoint_url,
    )


def build_organization(*, endpoint_url: str, spec: OrganizationSpec) -> BuiltOrganization:
    """Create `spec` in the emulator at `endpoint_url`, which must run in this process (for the history)."""
    management = management_session(endpoint_url=endpoint_url)
    organizations = management.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    management_account_id = organizations.describe_organization()["Organization"]["MasterAccountId"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    ou_ids = _create_ous(organizations, root_id=root_id, paths={account.ou_path for account in spec.accounts})

    account_ids: dict[str, str] = {}
    for account in spec.accounts:
        status = organizations.create_account(
            Email=f"aws+{account.key}@example.com",
            AccountName=account.name,
            Tags=[{"Key": key, "Value": value} for key, value in account.tags.items()],
        )["CreateAccountStatus"]
        account_ids[account.key] = status["AccountId"]
        if ou_ids[account.ou_path] != root_id:
            organizations.move_account(
                AccountId=status["AccountId"],
                SourceParentId=root_id,
                DestinationParentId=ou_ids[account.ou_path],
            )
    management.client("s3").create_bucket(Bucket=spec.bucket)
    if spec.guarded_ou_paths:
        policy_id = organizations.create_policy(
            Name="isoaudit-deny-training-without-isolation",
            Description="No SageMaker job or model without network isolation",
            Type="SERVICE_CONTROL_POLICY",
            Content=SCP_PATH.read_text(),
        )["Policy"]["PolicySummary"]["Id"]
        for path in spec.guarded_ou_paths:
            organizations.attach_policy(PolicyId=policy_id, TargetId=ou_ids[path])

    members = {
        account.key: assume_role(
            aws=management,
            role_arn=role_arn(account_id=account_ids[account.key], role_name=ORGANIZATION_ACCESS_ROLE),
            session_name="isoaudit-emulator-build",
        )
        for account in spec.accounts
    }
    for account in spec.accounts:
        _create_roles(
            members[account.key].client("iam"),
            management_account_id=management_account_id,
            audit_role_name=spec.audit_role_name if account.audit_role else None,
        )
    # isoaudit audits the management account too; a StackSet does not reach it, so the README has the role
    # deployed there as a plain stack, as done here.
    _create_audit_role(
        management.client("iam"), management_account_id=management_account_id, name=spec.audit_role_name
    )
    _create_jobs(spec=spec, members=members, account_ids=account_ids)
    return BuiltOrganization(
        management_account_id=management_account_id, account_ids=account_ids, bucket=spec.bucket, spec=spec
    )


def _create_ous(organizations: BaseClient, *, root_id: str, paths: set[str]) -> dict[str, str]:
    """OU id for each path, creating the nested OUs on the way; "/" is the root."""
    ou_ids = {"/": root_id}
    for path in sorted(paths):
        parent = "/"
        for name in path.strip("/").split("/") if path != "/" else []:
            current = f"{parent.rstrip('/')}/{name}"
            if current not in ou_ids:
                ou_ids[current] = organizations.create_organizational_unit(
                    ParentId=ou_ids[parent], Name=name
                )["OrganizationalUnit"]["Id"]
            parent = current
    return ou_ids


def _create_roles(iam: BaseClient, *, management_account_id: str, audit_role_name: str | None) -> None:
    """The jobs' execution role and, unless None, the audit role the management account assumes."""
    iam.create_role(
        RoleName=EXECUTION_ROLE,
        AssumeRolePolicyDocument=_trust_policy({"Service": "sagemaker.amazonaws.com"}),
        Description="Execution role of the account's SageMaker training jobs",
    )
    if audit_role_name is not None:
        _create_audit_role(iam, management_account_id=management_account_id, name=audit_role_name)


def _create_audit_role(iam: BaseClient, *, management_account_id: str, name: str) -> None:
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=_trust_policy({"AWS": f"arn:aws:iam::{management_account_id}:root"}),
        Description="isoaudit: read-only view of SageMaker jobs and enabled regions",
    )
    iam.put_role_policy(
        RoleName=name,
        PolicyName="isoaudit-read-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "sagemaker:List*",
                            "sagemaker:Describe*",
                            "sagemaker:Search",
                            "ec2:DescribeRegions",
                        ],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )


def _trust_policy(principal: Mapping[str, str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": dict(principal), "Action": "sts:AssumeRole"}],
        }
    )


@dataclass(frozen=True)
class _Network:
    subnet_ids: tuple[str, ...]
    security_group_id: str


def _create_network(ec2: BaseClient) -> _Network:
    """A VPC with two private subnets and a security group, as a team would give its training jobs."""
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnet_ids = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for index, zone in enumerate(zones)
    )
    group_id = ec2.create_security_group(
        GroupName="sagemaker-training", Description="SageMaker training jobs", VpcId=vpc_id
    )["GroupId"]
    return _Network(subnet_ids=subnet_ids, security_group_id=group_id)


def _create_jobs(
    *, spec: OrganizationSpec, members: dict[str, AwsSession], account_ids: dict[str, str]
) -> None:
    by_place: dict[tuple[str, str], list[JobSpec]] = defaultdict(list)
    for job in spec.jobs:
        by_place[(job.account, job.region)].append(job)
    # Clients and networks first, in this thread: a boto3 Session must not build clients concurrently.
    clients = {
        place: members[place[0]].client("sagemaker", region=place[1], pool=BUILD_WORKERS)
        for place in by_place
    }
    networks = {
        place: _create_network(members[place[0]].client("ec2", region=place[1]))
        for place, jobs in by_place.items()
        if any(job.vpc for job in jobs)
    }

    def create(job: JobSpec) -> None:
        place = (job.account, job.region)
        clients[place].create_training_job(
            **_training_job_request(job, account_id=account_ids[job.account], network=networks.get(place))
        )

    with ThreadPoolExecutor(max_workers=BUILD_WORKERS) as pool:
        list(pool.map(create, spec.jobs))
    for (account, region), jobs in by_place.items():
        apply_history(account_id=account_ids[account], region=region, jobs=jobs)
    _create_tuning_jobs(spec=spec, members=members, account_ids=account_ids)


def _create_tuning_jobs(
    *, spec: OrganizationSpec, members: dict[str, AwsSession], account_ids: dict[str, str]
) -> None:
    """The tuning jobs through the API, then their past, and their training jobs marked as theirs."""
    arns = {}
    for tuning in spec.tuning_jobs:
        client = members[tuning.account].client("sagemaker", region=tuning.region)
        arns[(tuning.account, tuning.region, tuning.name)] = client.create_hyper_parameter_tuning_job(
            **_tuning_job_request(tuning, account_id=account_ids[tuning.account])
        )["HyperParameterTuningJobArn"]
    for tuning in spec.tuning_jobs:
        apply_tuning_history(account_id=account_ids[tuning.account], region=tuning.region, job=tuning)
    for job in spec.jobs:
        if job.tuning_job:
            launched_by_tuning_job(
                account_id=account_ids[job.account],
                region=job.region,
                name=job.name,
                tuning_job_arn=arns[(job.account, job.region, job.tuning_job)],
            )


def _tuning_job_request(tuning: TuningJobSpec, *, account_id: str) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request as the SageMaker SDK's HyperparameterTuner sends it."""
    definition: dict[str, Any] = {
        "StaticHyperParameters": {"epochs": "10"},
        "AlgorithmSpecification": {"TrainingImage": tuning.image, "TrainingInputMode": "File"},
        "RoleArn": role_arn(account_id=account_id, role_name=EXECUTION_ROLE),
        "OutputDataConfig": {"S3OutputPath": f"s3://sagemaker-{tuning.region}-{account_id}/hpo/"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    }
    if tuning.network_isolation is not None:
        definition["EnableNetworkIsolation"] = tuning.network_isolation
    return {
        "HyperParameterTuningJobName": tuning.name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3"}]
            },
        },
        "TrainingJobDefinition": definition,
        "Tags": [{"Key": key, "Value": value} for key, value in tuning.tags.items()],
    }


def _training_job_request(job: JobSpec, *, account_id: str, network: _Network | None) -> dict[str, Any]:
    """A CreateTrainingJob request as the SageMaker SDK would send it for `job`."""
    default_bucket = f"s3://sagemaker-{job.region}-{account_id}"
    output: dict[str, str] = {"S3OutputPath": f"{default_bucket}/"}
    if job.output_kms_key:
        output["KmsKeyId"] = job.output_kms_key
    resources: dict[str, Any] = {"VolumeSizeInGB": 50}
    if job.instance_groups:
        resources["InstanceGroups"] = [
            {"InstanceType": kind, "InstanceCount": count, "InstanceGroupName": f"group-{number}"}
            for number, (kind, count) in enumerate(job.instance_groups, start=1)
        ]
    else:
        resources.update(InstanceType=job.instance_type, InstanceCount=job.instance_count)
    if job.warm_pool:
        resources["KeepAlivePeriodInSeconds"] = int(job.warm_pool.total_seconds())
    if job.volume_kms_key:
        resources["VolumeKmsKeyId"] = job.volume_kms_key
    request: dict[str, Any] = {
        "TrainingJobName": job.name,
        "AlgorithmSpecification": {"TrainingImage": job.image, "TrainingInputMode": "File"},
        "RoleArn": role_arn(account_id=account_id, role_name=EXECUTION_ROLE),
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{default_bucket}/datasets/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "EnableInterContainerTrafficEncryption": job.inter_container_encryption,
        "EnableManagedSpotTraining": job.spot,
        "Tags": [{"Key": key, "Value": value} for key, value in job.tags.items()],
    }
    if job.network_isolation is not None:
        request["EnableNetworkIsolation"] = job.network_isolation
    if job.spot:  # SageMaker requires a wait bound for Spot: the run time plus the wait for capacity
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = 2 * 86400
    if job.vpc:
        if network is None:
            raise ValueError(f"job {job.name}: no network for its account-region")
        request["VpcConfig"] = {
            "SecurityGroupIds": [network.security_group_id],
            "Subnets": list(network.subnet_ids),
        }
    return request
