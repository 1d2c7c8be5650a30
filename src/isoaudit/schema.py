"""The tables isoaudit writes, defined once.

Each table is a pyarrow schema whose fields carry a human description in their metadata. Parquet files,
Glue column types and comments, the Athena views and the Excel headers are all derived from here, so a
column is renamed or retyped in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from isoaudit.metrics import measures

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, description: str) -> pa.Field:
    return pa.field(name, type_, metadata={"description": description})


JOBS = pa.schema(
    [
        _field("job_arn", pa.string(), "ARN of the job: the key of this table"),
        _field("job_kind", pa.string(), "training, tuning or processing"),
        _field("account_id", pa.string(), "12-digit AWS account that ran the job"),
        _field("region", pa.string(), "AWS region of the job"),
        _field("job_name", pa.string(), "Name of the job (untrusted text from AWS)"),
        _field("status", pa.string(), "InProgress, Completed, Failed, Stopping or Stopped"),
        _field("failure_reason", pa.string(), "SageMaker's FailureReason for failed jobs"),
        _field("creation_time", UTC_TIMESTAMP, "When the job was created (UTC)"),
        _field("start_time", UTC_TIMESTAMP, "When the job started running (UTC)"),
        _field("end_time", UTC_TIMESTAMP, "When the job ended (UTC)"),
        _field("last_modified_time", UTC_TIMESTAMP, "Last change SageMaker recorded (UTC)"),
        _field("network_isolation", pa.bool_(), "EnableNetworkIsolation; absent means false"),
        _field("vpc_subnet_ids", pa.string(), "Comma-separated subnets of the VpcConfig, empty when none"),
        _field("vpc_security_group_ids", pa.string(), "Comma-separated security groups of the VpcConfig"),
        _field("inter_container_encryption", pa.bool_(), "EnableInterContainerTrafficEncryption"),
        _field("volume_kms_key_id", pa.string(), "KMS key of the training volume, empty when AWS-managed"),
        _field("output_kms_key_id", pa.string(), "KMS key of the output artifacts, empty when AWS-managed"),
        _field("image_uri", pa.string(), "Training or processing container image"),
        _field("role_arn", pa.string(), "Execution role of the job"),
        _field("tags_json", pa.string(), "The job's tags as a JSON object (untrusted text from AWS)"),
        _field("tuning_job_name", pa.string(), "Hyperparameter tuning job that launched it, if any"),
        _field(
            "instance_type",
            pa.string(),
            "Instance type, e.g. ml.g5.2xlarge; a heterogeneous cluster's types, comma-separated",
        ),
        _field(
            "instance_count", pa.int64(), "Instances the job runs on (every group of a heterogeneous one)"
        ),
        _field(
            "instance_groups_json",
            pa.string(),
            'Instances per type as a JSON object, e.g. {"ml.p4d.24xlarge": 2, "ml.c5.xlarge": 1}',
        ),
        _field("volume_size_gb", pa.int64(), "Storage volume attached to each instance, in GB"),
        _field("managed_spot", pa.bool_(), "EnableManagedSpotTraining: the job ran on Spot capacity"),
        _field(
            "training_seconds",
            pa.int64(),
            "TrainingTimeInSeconds: how long the instances ran; empty while the job runs",
        ),
        _field(
            "billable_seconds",
            pa.int64(),
            "Seconds billed per instance: BillableTimeInSeconds for training (net of Spot interruptions), "
            "end - start for processing; empty while the job runs",
        ),
        _field(
            "warm_pool_seconds",
            pa.int64(),
            "WarmPoolStatus.ResourceRetainedBillableTimeInSeconds: billed time its instances were kept warm",
        ),
        _field("first_seen", UTC_TIMESTAMP, "First audit run that saw the job"),
        _field("last_seen", UTC_TIMESTAMP, "Last run that read the job (incremental runs read changes)"),
        _field("listed", pa.bool_(), "False once SageMaker no longer lists the job; its record is kept"),
    ]
)

COVERAGE = pa.schema(
    [
        _field("audit_week", pa.string(), "ISO week of the audit run, e.g. 2026-W48"),
        _field("run_id", pa.string(), "Identifier of the audit run"),
        _field("account_id", pa.string(), "12-digit AWS account"),
        _field("account_name", pa.string(), "Account name in AWS Organizations"),
        _field("region", pa.string(), "AWS region"),
        _field("status", pa.string(), "audited, skipped (region not enabled) or failed"),
        _field("reason", pa.string(), "Why it was skipped or failed; if audited, the records left out"),
        _field("listing", pa.string(), "full (every job listed) or incremental (changes since the last run)"),
        _field("jobs_seen", pa.int64(), "Jobs returned by this account-region in this run"),
        _field("api_calls", pa.int64(), "AWS API calls this account-region cost"),
        _field("audited_at", UTC_TIMESTAMP, "Start of the audit run that read the account-region (UTC)"),
    ]
)

ACCOUNTS = pa.schema(
    [
        _field("account_id", pa.string(), "12-digit AWS account"),
        _field("account_name", pa.string(), "Account name in AWS Organizations"),
        _field("account_status", pa.string(), "ACTIVE, SUSPENDED, ..."),
        _field("ou_path", pa.string(), "Organizational units from the root, e.g. /Workloads/Prod"),
        _field("tags_json", pa.string(), "The account's tags in AWS Organizations as a JSON object"),
    ]
)

# Derived from JOBS by isoaudit.metrics: one row per job, with attribution and posture.
JOB_FACTS = pa.schema(
    [
        *JOBS,
        _field("team", pa.string(), "Owning team: job tag, account tag, mapping file, else unattributed"),
        _field("environment", pa.string(), "production, non-production, sandbox or unknown"),
        _field("family", pa.string(), "Line of runs that one fix repairs (pipeline tag or name stem)"),
        _field("posture", pa.string(), "isolated+vpc, isolated, vpc-only or open"),
        _field("compliant", pa.bool_(), "Network isolation on: the only thing that makes a job compliant"),
        _field("week", pa.string(), "ISO week of the creation time, e.g. 2026-W47"),
        _field(
            "failure_class",
            pa.string(),
            "missing_dependency, network_blocked, credentials_unavailable, "
            "data_access or other; empty unless the job failed",
        ),
        _field(
            "compute_hours",
            pa.float64(),
            "Instance-hours billed: (billable + warm-pool seconds) x instances / 3600; empty while the job "
            "runs, and for a tuning job (its training jobs carry them)",
        ),
        _field(
            "spend_usd",
            pa.float64(),
            "Compute hours at the on-demand list price (or negotiated rate) of each instance type, USD; "
            "empty when unpriced (price unknown) or running, never 0 for unknown",
        ),
    ]
)

EPISODES = pa.schema(
    [
        _field("account_id", pa.string(), "Account of the family"),
        _field("region", pa.string(), "Region of the family"),
        _field("family", pa.string(), "Line of runs the episode belongs to"),
        _field("team", pa.string(), "Team of the job that opened the episode"),
        _field("environment", pa.string(), "Environment of the job that opened the episode"),
        _field("opened_at", UTC_TIMESTAMP, "Creation time of the first non-compliant job"),
        _field(
            "closed_at", UTC_TIMESTAMP, "Creation time of the first compliant job after it; empty if open"
        ),
        _field("first_job_name", pa.string(), "Job that opened the episode"),
        _field("non_compliant_runs", pa.int64(), "Non-compliant jobs of the family during the episode"),
        _field(
            "exposed_spend_usd",
            pa.float64(),
            "Spend of those non-compliant runs, USD (priced runs; empty when none is priced)",
        ),
        _field("last_run_at", UTC_TIMESTAMP, "Creation time of the family's last job during the episode"),
        _field("state", pa.string(), "closed, open, or dormant (open with no run for the dormancy period)"),
        _field("hours_to_remediate", pa.float64(), "closed_at - opened_at in hours; empty unless closed"),
        _field("age_hours", pa.float64(), "Report time - opened_at in hours, for open and dormant episodes"),
    ]
)

KPI_SCOPES = ("org", "team", "account", "environment", "job_kind")

# The weekly measures are declared in isoaudit.metrics.measures: their columns follow the scope's.
WEEKLY_KPIS = pa.schema(
    [
        _field("week", pa.string(), "ISO week, e.g. 2026-W47"),
        _field("scope", pa.string(), "org, team, account, environment or job_kind"),
        _field("scope_value", pa.string(), "The team, account id, environment or kind; 'org' for the org"),
        *(
            _field(measure.name, pa.type_for_alias(measure.unit.arrow_type), measure.definition)
            for measure in measures.stored()
        ),
    ]
)

# Hourly on-demand prices of the instance types the jobs use, from the AWS Price List API.
PRICES = pa.schema(
    [
        _field("region", pa.string(), "Region the price applies to"),
        _field("instance_type", pa.string(), "SageMaker instance type, e.g. ml.m5.xlarge"),
        _field("usage", pa.string(), "training or processing (SageMaker prices each use apart)"),
        _field(
            "usd_per_hour",
            pa.float64(),
            "On-demand list price per instance-hour, USD; empty when the Price List has no such product",
        ),
        _field("usage_type", pa.string(), "The product's usage type, e.g. USE1-Train:ml.m5.xlarge"),
        _field("effective_date", UTC_TIMESTAMP, "Since when AWS charges this price"),
        _field(
            "fetched_at",
            UTC_TIMESTAMP,
            "When isoaudit read it (it is read again once older than the max age)",
        ),
    ]
)

COVERAGE_STATUSES = ("audited", "skipped", "failed")

TABLES: dict[str, pa.Schema] = {
    "jobs": JOBS,
    "coverage": COVERAGE,
    "accounts": ACCOUNTS,
    "job_facts": JOB_FACTS,
    "episodes": EPISODES,
    "weekly_kpis": WEEKLY_KPIS,
    "prices": PRICES,
}


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def conform(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Return `frame` with exactly the schema's columns, in order, with the schema's types."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    # Ignore pandas metadata so every frame gets the same dtypes, whether it came from AWS or from Parquet.
    return table.to_pandas(ignore_metadata=True)


def glue_types(schema: pa.Schema) -> dict[str, str]:
    """Athena/Glue column types for awswrangler's `dtype` argument."""
    mapping: Mapping[pa.DataType, str] = {
        pa.string(): "string",
        pa.bool_(): "boolean",
        pa.int64(): "bigint",
        pa.float64(): "double",
        UTC_TIMESTAMP: "timestamp",
    }
    return {field.name: mapping[field.type] for field in schema}


def descriptions(schema: pa.Schema) -> dict[str, str]:
    return {field.name: field.metadata[b"description"].decode() for field in schema}
