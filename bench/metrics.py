"""Benchmark: computing every KPI of a large organization, against reading the data it needs, and the memory
of the KPI and store steps.

Builds (once, cached as Parquet in bench/.data/) 5 million synthetic JOBS rows shaped like a real
organization: hundreds of accounts in 2-4 regions each, thousands of families (SDK-suffixed names, pipeline
tags, tuning children, hand-named jobs), about twenty teams, a mix of isolation and VPC postures with
remediations and relapses, about 10% failed jobs with a handful of failure reasons, 30 weeks of history
(and 20 million for the second size of the memory slope). Then measures:

- read: reading from the Parquet file only the JOBS columns the KPIs depend on (KPI_COLUMNS);
- compute: `kpi_tables`, i.e. what the weekly run computes (audit.analyse): the job facts (with each job's
  compute hours and spend at list prices), the weekly KPIs of the 12 trend weeks and the week before (the
  money measures included), and the exposure episodes (with their exposed spend), over the whole jobs
  table as the weekly run holds it; read and compute interleaved (read, compute, read, ...) so that the
  noise of a shared machine hits both alike, and their medians compared;
- the KPI step (kpi_step), in a fresh process: read the KPI columns, compute; its peak RSS minus its RSS
  before the read, against the Arrow size of the columns read; at 5 and 20 million jobs;
- the store step (store_step), in a fresh process: read the history, merge the week's jobs, write the
  changed months, on local Parquet.

The last line is one JSON object (bench/README.md lists its fields).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from isoaudit.config import AuditConfig, load_config
from isoaudit.metrics.report import KpiTables, kpi_tables
from isoaudit.metrics.weeks import last_complete_week, week_of, week_start
from isoaudit.schema import ACCOUNTS, COVERAGE, JOBS, PRICES, conform

ROWS = 5_000_000
LARGE_ROWS = 20_000_000  # the second size of the memory slope
CHUNK_ROWS = 5_000_000
REPEATS = 3
SEED = 20261123
# Bump when the generator changes: the cached files carry it in their names, so stale data is never read.
DATA_VERSION = 3
DATA_DIR = Path(__file__).resolve().parent / ".data"
GENERATED_AT = pd.Timestamp("2026-11-23T06:00:00Z")  # a Monday morning: the weekly run of 2026-W47
HISTORY_WEEKS = 30
ACCOUNT_COUNT = 400
FAMILY_COUNT = 8_000
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
TEAMS = (
    "ml-platform", "fraud", "search", "ads", "recsys", "vision", "nlp", "forecasting", "risk", "pricing",
    "growth", "data-eng", "research", "security", "supply-chain", "marketing", "speech", "maps", "payments",
    "support-ai",
)  # fmt: skip
# Every JOBS column that job_facts, weekly_kpis or exposure_episodes reads; the others are only carried
# through to JOB_FACTS. check_kpi_columns proves the list complete on every run.
KPI_COLUMNS = [
    "job_kind",
    "account_id",
    "region",
    "job_name",
    "status",
    "failure_reason",
    "creation_time",
    "network_isolation",
    "vpc_subnet_ids",
    "tags_json",
    "tuning_job_name",
    # Money: compute hours and spend.
    "instance_count",
    "instance_groups_json",
    "billable_seconds",
    "warm_pool_seconds",
]
# KPI_COLUMNS of few distinct texts, read dictionary-encoded by the KPI step (job and tuning job names
# are nearly all distinct: read plain).
DICTIONARY_COLUMNS = [
    "job_kind", "account_id", "region", "status", "failure_reason", "vpc_subnet_ids", "tags_json",
    "instance_groups_json",
]  # fmt: skip
# Instance types of the synthetic jobs and their us-east-1 list price per hour (other regions x1.1);
# ml.trn1.32xlarge has no price: its jobs are unpriced.
INSTANCE_PRICES = {
    "ml.m5.xlarge": 0.23, "ml.m5.4xlarge": 0.922, "ml.c5.2xlarge": 0.408, "ml.g4dn.xlarge": 0.736,
    "ml.g5.2xlarge": 1.515, "ml.g5.12xlarge": 7.09, "ml.p3.2xlarge": 3.825, "ml.p4d.24xlarge": 37.688,
}  # fmt: skip
UNPRICED_TYPE = "ml.trn1.32xlarge"
TEAM_MAPPING = {"/Research": "research", "/Sandbox": "data-eng"}
# (weight for isolated jobs, weight for the others, reason): isolated jobs fail for missing packages and
# blocked downloads far more often, as in real organizations.
FAILURE_REASONS = (
    (30, 3, 'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "ModuleNotFoundError: No '
     "module named 'transformers'\"\nCommand \"/usr/local/bin/python3.10 train.py\""),
    (15, 1, "ClientError: ERROR: Could not find a version that satisfies the requirement xgboost==2.0.3 "
     "(from versions: none)\nERROR: No matching distribution found for xgboost==2.0.3"),
    (12, 1, "AlgorithmError: requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co',"
     " port=443): Max retries exceeded with url: /bert-base-uncased (Caused by NewConnectionError: "
     "Failed to establish a new connection: [Errno -3] Temporary failure in name resolution)"),
    (8, 1, "AlgorithmError: botocore.exceptions.NoCredentialsError: Unable to locate credentials"),
    (3, 4, "AlgorithmError: botocore.exceptions.ClientError: An error occurred (AccessDenied) when "
     "calling the GetObject operation: Access Denied"),
    (20, 45, "AlgorithmError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    (8, 25, "InternalServerError: We encountered an internal error. Please try again."),
    (4, 20, "CapacityError: Unable to provision requested ML compute capacity. Please retry using a "
     "different ML instance type."),
)  # fmt: skip
_US = 1_000_000
_WEEK_US = 7 * 86_400 * _US


# --- synthetic data ---------------------------------------------------------------------------------------


def data_paths(*, rows: int) -> dict[str, Path]:
    stem = f"v{DATA_VERSION}-seed{SEED}-{rows}"
    return {table: DATA_DIR / f"{table}-{stem}.parquet" for table in ("jobs", "accounts", "coverage")}


def generate(*, rows: int) -> None:
    """Write the three tables to bench/.data/ (temporary names first, so an interrupted run leaves none).

    Past CHUNK_ROWS jobs, in parts of at most CHUNK_ROWS (the generator holds about 1.5 GB per million
    jobs): the first part is the organization of CHUNK_ROWS jobs itself, each further part adds as many
    jobs of FAMILY_COUNT new families (its own random stream) over the same accounts and weeks, so the
    organization grows as a real one does. Each part is sorted by creation time, the whole is not (as
    the weekly run holds the jobs: merge_history sorts by account and region)."""
    rng = np.random.default_rng(SEED)
    accounts = _accounts(rng)
    account_regions, region_counts = _account_regions(rng)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    paths = data_paths(rows=rows)
    partial = paths["jobs"].with_suffix(".partial")
    with pq.ParquetWriter(partial, JOBS) as writer:
        for part, first in enumerate(range(0, rows, CHUNK_ROWS)):
            writer.write_table(
                _jobs(
                    rng if part == 0 else np.random.default_rng([SEED, part]),
                    rows=min(CHUNK_ROWS, rows - first),
                    accounts=accounts,
                    regions=account_regions,
                    counts=region_counts,
                    first_family=part * FAMILY_COUNT,
                )
            )
    partial.replace(paths["jobs"])
    tables = {
        "accounts": pa.Table.from_pandas(accounts, schema=ACCOUNTS, preserve_index=False),
        "coverage": pa.Table.from_pandas(
            _coverage(rng, accounts=accounts, regions=account_regions, counts=region_counts),
            schema=COVERAGE,
            preserve_index=False,
        ),
    }
    for table, frame in tables.items():
        partial = paths[table].with_suffix(".partial")
        pq.write_table(frame, partial)
        partial.replace(paths[table])


def _accounts(rng: np.random.Generator) -> pd.DataFrame:
    ids = 100_000_000_000 + rng.choice(900_000_000_000, size=ACCOUNT_COUNT, replace=False)
    ous = np.array(["/Workloads/Prod", "/Workloads/NonProd", "/Workloads/Dev", "/Sandbox", "/Research/Labs"])
    ou = ous[rng.choice(len(ous), size=ACCOUNT_COUNT, p=[0.35, 0.25, 0.2, 0.1, 0.1])]
    team = rng.integers(0, len(TEAMS), size=ACCOUNT_COUNT)
    tagged = rng.random(ACCOUNT_COUNT) < 0.75
    env_tagged = rng.random(ACCOUNT_COUNT) < 0.3
    tags = []
    for n in range(ACCOUNT_COUNT):
        account_tags = {"cost-center": f"cc-{n % 37:03d}"}
        if tagged[n]:
            account_tags["team"] = TEAMS[team[n]]
        if env_tagged[n]:
            account_tags["environment"] = "prod" if "Prod" in ou[n] and "Non" not in ou[n] else "dev"
        tags.append(json.dumps(account_tags, sort_keys=True))
    return pd.DataFrame(
        {
            "account_id": ids.astype(str),
            "account_name": [
                f"{TEAMS[team[n]]}-{ou[n].rsplit('/', 1)[-1].lower()}-{n}" for n in range(ACCOUNT_COUNT)
            ],
            "account_status": np.where(rng.random(ACCOUNT_COUNT) < 0.02, "SUSPENDED", "ACTIVE"),
            "ou_path": ou,
            "tags_json": tags,
        }
    )


def _account_regions(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per account: its 2-4 regions (codes into REGIONS, row-padded) and how many it has."""
    counts = rng.choice([2, 3, 4], size=ACCOUNT_COUNT, p=[0.5, 0.3, 0.2])
    regions = np.argsort(rng.random((ACCOUNT_COUNT, len(REGIONS))), axis=1)[:, :4]
    return regions, counts


def _jobs(
    rng: np.random.Generator,
    *,
    rows: int,
    accounts: pd.DataFrame,
    regions: np.ndarray,
    counts: np.ndarray,
    first_family: int = 0,
) -> pa.Table:
    """JOBS rows, built per family (thousands: Python is fine) then per job with whole-array operations."""
    history_start = (GENERATED_AT.value // 1000) - HISTORY_WEEKS * _WEEK_US
    history_end = GENERATED_AT.value // 1000 - 3600 * _US
    monday = week_start(week_of(GENERATED_AT)).value // 1000

    # Families. Kinds: 0 SDK-suffixed names, 1 pipeline-tagged, 2 tuning children, 3 hand-named jobs.
    kind = rng.choice(4, size=FAMILY_COUNT, p=[0.7, 0.12, 0.1, 0.08])
    account_weight = rng.pareto(1.2, size=ACCOUNT_COUNT) + 0.1
    family_account = rng.choice(ACCOUNT_COUNT, size=FAMILY_COUNT, p=account_weight / account_weight.sum())
    family_region = regions[family_account, rng.integers(0, counts[family_account])]
    words = ("xgb", "bert", "resnet", "churn", "ctr", "fraud", "demand", "llm", "asr", "ranker", "embed",
             "tabular", "vit", "gbm", "seq2seq", "detector")  # fmt: skip
    base = [
        f"{words[n % len(words)]}-{words[(n // len(words)) % len(words)]}-{n}"
        for n in range(first_family, first_family + FAMILY_COUNT)
    ]
    processing = (kind == 0) & (rng.random(FAMILY_COUNT) < 0.12)
    in_vpc = rng.random(FAMILY_COUNT) < 0.4
    subnets = [
        f"subnet-0{rng.integers(16**15):015x},subnet-0{rng.integers(16**15):015x}" if vpc else ""
        for vpc in in_vpc
    ]
    groups = [f"sg-0{rng.integers(16**15):015x}" if vpc else "" for vpc in in_vpc]
    tags_json = []
    for n in range(FAMILY_COUNT):
        tags: dict[str, str] = {}
        if rng.random() < 0.6:
            tags[("team", "Team", "owner")[n % 3]] = TEAMS[rng.integers(len(TEAMS))]
        if rng.random() < 0.2:
            tags[("environment", "env", "stage")[n % 3]] = ("prod", "dev", "staging", "sandbox")[n % 4]
        if kind[n] == 1:
            tags["pipeline"] = f"{base[n]}-pipeline"
        if rng.random() < 0.3:
            tags["project"] = f"p-{n % 211}"
        tags_json.append(json.dumps(tags, sort_keys=True))

    # Posture over time: always compliant, never, remediated at `fix` (mostly violating before it), or
    # flapping. Some families stop running (dormant when they stopped while violating).
    behaviour = rng.choice(4, size=FAMILY_COUNT, p=[0.45, 0.15, 0.25, 0.15])
    span = history_end - history_start
    first = history_start + (rng.random(FAMILY_COUNT) ** 2 * span * 0.6).astype(np.int64)
    last = np.where(
        rng.random(FAMILY_COUNT) < 0.2,
        first + (rng.random(FAMILY_COUNT) * (history_end - first) * 0.5).astype(np.int64),
        history_end,
    )
    fix = first + (rng.random(FAMILY_COUNT) * (last - first)).astype(np.int64)
    # Hand-named jobs are ad hoc: few runs each, so they are a small share of the jobs.
    size = rng.lognormal(0, 1.5, size=FAMILY_COUNT) * np.where(kind == 3, 0.1, 1.0)

    # Jobs.
    family = rng.choice(FAMILY_COUNT, size=rows, p=size / size.sum())
    created = first[family] + (rng.random(rows) * (last - first)[family]).astype(np.int64)
    created -= created % 1000  # AWS reports milliseconds
    order = np.lexsort((created, family))
    # A name is unique in its account and region: two runs of a family never share a millisecond.
    while np.any(clash := (np.diff(family[order]) == 0) & (np.diff(created[order]) == 0)):
        created[order[1:][clash]] += 1000
        order = np.lexsort((created, family))
    # Hand-named jobs are numbered per family by their author: xgb-churn-3-run-1, -run-2, ...
    first_of_family = np.r_[True, np.diff(family[order]) != 0]
    run_number = np.empty(rows, dtype=np.int64)
    run_number[order] = np.arange(rows) - np.maximum.accumulate(np.where(first_of_family, np.arange(rows), 0))
    before_fix = created < fix[family]
    violate_p = np.select(
        [behaviour[family] == 0, behaviour[family] == 1, behaviour[family] == 2],
        [np.full(rows, 0.01), np.full(rows, 0.97), np.where(before_fix, 0.9, 0.03)],
        default=0.35,
    )
    isolated = rng.random(rows) >= violate_p
    job_kind = np.where(processing[family], 1, 0)
    failed = rng.random(rows) < 0.1
    in_progress = created > history_end - 86_400 * _US * rng.random(rows)
    status_code = np.where(failed, 2, np.where(in_progress, 1, np.where(rng.random(rows) < 0.02, 3, 0)))
    isolated_weights = np.array([weight for weight, _, _ in FAILURE_REASONS], dtype=float)
    other_weights = np.array([weight for _, weight, _ in FAILURE_REASONS], dtype=float)
    reason = np.where(
        isolated,
        rng.choice(len(FAILURE_REASONS), size=rows, p=isolated_weights / isolated_weights.sum()),
        rng.choice(len(FAILURE_REASONS), size=rows, p=other_weights / other_weights.sum()),
    )
    reason = np.where(status_code == 2, reason, len(FAILURE_REASONS))  # the last entry: ""
    started = created + rng.integers(60, 600, size=rows) * _US
    ended = started + (rng.lognormal(7.5, 1.2, size=rows) * _US).astype(np.int64)
    running = status_code == 1

    billing = _compute_columns(family=family, started=started, ended=ended, running=running)

    created_at = pa.array(created, type=pa.timestamp("us", tz="UTC"))
    suffix = pc.replace_substring(
        pc.strftime(created_at.cast(pa.timestamp("ms", tz="UTC")), format="%Y-%m-%d-%H-%M-%S"), ".", "-"
    )
    family_base = pa.array(base).take(pa.array(family))
    # One tuning job a week per tuning family, named as the SDK does (base-YYMMDD-HHMM), its children
    # created during the week.
    tuning_start = pa.array(monday - (monday - created + _WEEK_US - 1) // _WEEK_US * _WEEK_US,
                            type=pa.timestamp("us", tz="UTC"))  # fmt: skip
    tuning = pc.binary_join_element_wise(family_base, pc.strftime(tuning_start, format="%y%m%d-0600"), "-")
    steps = pa.array(["Preprocess", "Train", "Evaluate", "RegisterModel"])
    names_by_kind = [
        pc.binary_join_element_wise(family_base, suffix, "-"),
        pc.binary_join_element_wise(
            "pipelines", _hex(rng, rows, 12), steps.take(pa.array(rng.integers(0, len(steps), size=rows))),
            _hex(rng, rows, 10), "-",
        ),
        pc.binary_join_element_wise(
            tuning, pc.utf8_lpad(pc.cast(pa.array(rng.integers(1, 60, size=rows)), pa.string()), 3, "0"),
            _hex(rng, rows, 8), "-",
        ),
        pc.binary_join_element_wise(family_base, "run", pc.cast(pa.array(run_number + 1), pa.string()), "-"),
    ]  # fmt: skip
    name_kind = pa.array(kind[family])
    job_name = names_by_kind[3]
    for code in (2, 1, 0):
        job_name = pc.if_else(pc.equal(name_kind, code), names_by_kind[code], job_name)
    account_ids = pa.array(accounts["account_id"].to_numpy()).take(pa.array(family_account[family]))
    region = pa.array(REGIONS).take(pa.array(family_region[family]))
    kinds = pa.array(["training", "processing"]).take(pa.array(job_kind))
    arn = pc.binary_join_element_wise(
        "arn:aws:sagemaker", region, account_ids,
        pc.binary_join_element_wise(pa.array(["training-job", "processing-job"]).take(pa.array(job_kind)), job_name, "/"),
        ":",
    )  # fmt: skip
    account_kms = pa.array(
        [f"arn:aws:kms:us-east-1:{account}:key/{n:08x}" if n % 2 else "" for n, account in
         enumerate(accounts["account_id"])]
    ).take(pa.array(family_account[family]))  # fmt: skip
    images = pa.array(
        [
            f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{w}-training:2.{n}-gpu-py310"
            for n, w in enumerate(words)
        ]
        + [f"{n:012d}.dkr.ecr.eu-west-1.amazonaws.com/custom/{w}:latest" for n, w in enumerate(words)]
    )
    columns = {
        "job_arn": arn,
        "job_kind": kinds,
        "account_id": account_ids,
        "region": region,
        "job_name": job_name,
        "status": pa.array(["Completed", "InProgress", "Failed", "Stopped"]).take(pa.array(status_code)),
        "failure_reason": pa.array([reason for _, _, reason in FAILURE_REASONS] + [""]).take(
            pa.array(reason)
        ),
        "creation_time": created_at,
        "start_time": pa.array(started, type=pa.timestamp("us", tz="UTC")),
        "end_time": pa.array(ended, mask=running, type=pa.timestamp("us", tz="UTC")),
        "last_modified_time": pa.array(np.where(running, started, ended), type=pa.timestamp("us", tz="UTC")),
        "network_isolation": pa.array(isolated),
        "vpc_subnet_ids": pa.array(subnets).take(pa.array(family)),
        "vpc_security_group_ids": pa.array(groups).take(pa.array(family)),
        "inter_container_encryption": pa.array(rng.random(rows) < 0.3),
        "volume_kms_key_id": account_kms,
        "output_kms_key_id": account_kms,
        "image_uri": images.take(pa.array(rng.integers(0, len(images), size=rows))),
        "role_arn": pc.binary_join_element_wise("arn:aws:iam:", account_ids, "role/SageMakerExecution", ":"),
        "tags_json": pa.array(tags_json).take(pa.array(family)),
        "tuning_job_name": pc.if_else(pc.equal(name_kind, 2), tuning, ""),
        **billing,
        # Weekly audits: first seen by the run of the Monday after creation, last seen by the latest run.
        "first_seen": pa.array(
            monday - (monday - created) // _WEEK_US * _WEEK_US + 6 * 3600 * _US,
            type=pa.timestamp("us", tz="UTC"),
        ),
        "last_seen": pa.array(np.full(rows, GENERATED_AT.value // 1000), type=pa.timestamp("us", tz="UTC")),
        "listed": pa.array(rng.random(rows) >= 0.02),
    }
    table = pa.table(columns, schema=JOBS)
    # Sorted by creation time, as a lake partitioned by creation month is read back.
    return table.take(pc.sort_indices(table["creation_time"]))


def _compute_columns(
    *, family: np.ndarray, started: np.ndarray, ended: np.ndarray, running: np.ndarray
) -> dict[str, pa.Array]:
    """What each job ran on and was billed for, per family (a generator of its own: the other columns
    stay as they were): 1-4 instances of one type, 3 % heterogeneous clusters, 15 % of families on Spot
    (50-70 % of the time not billed), 5 % with a warm pool kept 10-30 minutes; running jobs have none."""
    rng = np.random.default_rng(SEED + 1)
    types = [*INSTANCE_PRICES, UNPRICED_TYPE]
    weights = np.array([30, 10, 10, 15, 15, 8, 8, 2, 2], dtype=float)
    kind = rng.choice(len(types), size=FAMILY_COUNT, p=weights / weights.sum())
    count = rng.choice([1, 2, 4], size=FAMILY_COUNT, p=[0.7, 0.2, 0.1])
    groups = []
    for n in range(FAMILY_COUNT):
        found = {types[kind[n]]: int(count[n])}
        if rng.random() < 0.03:  # a heterogeneous cluster: GPU workers and CPU data loaders
            found = {"ml.g5.2xlarge": int(count[n]), "ml.c5.2xlarge": 2}
        groups.append(json.dumps(found, sort_keys=True))
    spot = rng.random(FAMILY_COUNT) < 0.15
    warm = rng.random(FAMILY_COUNT) < 0.05
    rows = len(family)
    seconds = (ended - started) // _US
    billable = np.where(spot[family], seconds * (1 - rng.uniform(0.5, 0.7, size=rows)), seconds)
    totals = np.array([sum(json.loads(text).values()) for text in groups])
    return {
        "instance_type": pa.array([",".join(sorted(json.loads(text))) for text in groups]).take(
            pa.array(family)
        ),
        "instance_count": pa.array(totals[family], type=pa.int64()),
        "instance_groups_json": pa.array(groups).take(pa.array(family)),
        "volume_size_gb": pa.array(np.full(rows, 50), type=pa.int64()),
        "managed_spot": pa.array(spot[family]),
        "training_seconds": pa.array(seconds, mask=running, type=pa.int64()),
        "billable_seconds": pa.array(billable.astype(np.int64), mask=running, type=pa.int64()),
        "warm_pool_seconds": pa.array(
            rng.integers(600, 1800, size=rows), mask=running | ~warm[family], type=pa.int64()
        ),
    }


def prices() -> pd.DataFrame:
    """PRICES rows of every (region, instance type, use) the jobs use, but UNPRICED_TYPE."""
    rows = [
        {"region": region, "instance_type": instance_type, "usage": usage,
         "usd_per_hour": price * (1.0 if region == "us-east-1" else 1.1), "usage_type": "",
         "effective_date": pd.Timestamp("2026-11-01", tz="UTC"), "fetched_at": GENERATED_AT}
        for region in REGIONS for instance_type, price in INSTANCE_PRICES.items()
        for usage in ("training", "processing")
    ]  # fmt: skip
    return conform(pd.DataFrame(rows), PRICES)


def _hex(rng: np.random.Generator, rows: int, width: int) -> pa.Array:
    """`rows` random lowercase hex strings of `width` characters, without a Python loop."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[rng.integers(0, 16, size=(rows, width))]
    return pa.array(np.ascontiguousarray(digits).view(f"S{width}").ravel()).cast(pa.string())


def _coverage(
    rng: np.random.Generator, *, accounts: pd.DataFrame, regions: np.ndarray, counts: np.ndarray
) -> pd.DataFrame:
    """COVERAGE rows of the weekly runs of the history: every account-region audited, a few failed."""
    rows = []
    report_week = last_complete_week(GENERATED_AT)
    for back in range(HISTORY_WEEKS):
        start = week_start(report_week) - pd.Timedelta(weeks=back)
        week = week_of(start)
        audited_at = start + pd.Timedelta(days=7, hours=6)
        down = rng.random(ACCOUNT_COUNT) < 0.01  # the whole account unreachable: stale that week
        for n, account_id in enumerate(accounts["account_id"]):
            for region in regions[n, : counts[n]]:
                failed = down[n] or rng.random() < 0.003
                rows.append(
                    {
                        "audit_week": week,
                        "run_id": f"run-{week}",
                        "account_id": account_id,
                        "account_name": accounts["account_name"].iloc[n],
                        "region": REGIONS[region],
                        "status": "failed" if failed else "audited",
                        "reason": "AccessDenied: AssumeRole" if failed else "",
                        "listing": "full",
                        "jobs_seen": 0 if failed else int(rng.integers(0, 500)),
                        "api_calls": int(rng.integers(2, 40)),
                        "audited_at": audited_at,
                    }
                )
    return pd.DataFrame(rows)


PRICE_LIST = prices()


# --- measurement ------------------------------------------------------------------------------------------


def load(paths: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three tables as the weekly run holds them (lake.read_table conforms each to its schema)."""
    return (
        conform(pd.read_parquet(paths["jobs"]), JOBS),
        conform(pd.read_parquet(paths["accounts"]), ACCOUNTS),
        conform(pd.read_parquet(paths["coverage"]), COVERAGE),
    )


def compute(
    jobs: pd.DataFrame, accounts: pd.DataFrame, coverage: pd.DataFrame, *, config: AuditConfig
) -> KpiTables:
    return kpi_tables(
        jobs=jobs,
        accounts=accounts,
        coverage=coverage,
        config=config,
        week=last_complete_week(GENERATED_AT),
        generated_at=GENERATED_AT,
        prices=PRICE_LIST,
    )


def check_kpi_columns(
    jobs: pd.DataFrame, accounts: pd.DataFrame, coverage: pd.DataFrame, *, config: AuditConfig, sample: int
) -> None:
    """Prove KPI_COLUMNS complete: blanking every other column of a sample changes no KPI and no episode
    (so the read baseline reads all that the KPIs need, and no more)."""
    jobs = jobs.iloc[:: max(1, len(jobs) // sample)].reset_index(drop=True)
    blank = jobs.copy()
    for column in JOBS.names:
        if column not in KPI_COLUMNS:
            blank[column] = None
    blank = conform(blank, JOBS)
    expected = compute(jobs, accounts, coverage, config=config)
    actual = compute(blank, accounts, coverage, config=config)
    pd.testing.assert_frame_equal(actual.kpis, expected.kpis)
    pd.testing.assert_frame_equal(actual.episodes, expected.episodes)
    derived = [name for name in actual.facts.columns if name not in JOBS.names]
    pd.testing.assert_frame_equal(actual.facts[derived], expected.facts[derived])


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_kpi_columns(path: Path, *, dictionaries: bool = False) -> pd.DataFrame:
    """The KPI_COLUMNS of the jobs from Parquet. Each Arrow column is released as soon as it is converted
    (pyarrow's self_destruct), then the decoding buffers Arrow's memory pool keeps for reuse are handed
    back: the frame's own size, not twice it, is what reading leaves behind. With `dictionaries`, the
    DICTIONARY_COLUMNS are read dictionary-encoded: categoricals, each distinct text held once."""
    jobs = pd.read_parquet(
        path,
        columns=KPI_COLUMNS,
        read_dictionary=DICTIONARY_COLUMNS if dictionaries else None,
        to_pandas_kwargs={"self_destruct": True, "split_blocks": True},
    )
    pa.default_memory_pool().release_unused()
    return jobs


def kpi_step(
    paths: dict[str, Path], *, config: AuditConfig, every_column: bool, check: bool = True
) -> dict[str, float]:
    """The KPI step in this process, which must be fresh (`in_child`): read the jobs from Parquet, then
    kpi_tables. Its peak is the process's peak RSS during the read and the computation minus its RSS just
    before the read (imports done, accounts and coverage loaded): all that reading and computing add.

    Without `every_column`: the KPI_COLUMNS, the columns the KPIs depend on, the DICTIONARY_COLUMNS among
    them dictionary-encoded; the other JOBS columns, which only pass through to JOB_FACTS, are given
    empty (Arrow nulls: no memory; check_kpi_columns proves they change no KPI). Then the same tables are
    computed from a plain read and compared (unless not `check`): the dictionary read changes no number.
    With `every_column`:
    every JOBS column, conformed, as the weekly run holds the jobs.

    `arrow_mb` is the Arrow size (nbytes) of the columns read as plain Arrow arrays (the data);
    `dictionary_arrow_mb` the same read dictionary-encoded."""
    columns = KPI_COLUMNS if not every_column else JOBS.names
    accounts = conform(pd.read_parquet(paths["accounts"]), ACCOUNTS)
    coverage = conform(pd.read_parquet(paths["coverage"]), COVERAGE)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    jobs = (
        conform(pd.read_parquet(paths["jobs"]), JOBS)
        if every_column
        else _with_absent_columns(read_kpi_columns(paths["jobs"], dictionaries=True))
    )
    tables = compute(jobs, accounts, coverage, config=config)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb() - before
    rows = len(jobs)
    del jobs
    if check and not every_column:
        plain = compute(
            _with_absent_columns(read_kpi_columns(paths["jobs"])), accounts, coverage, config=config
        )
        _assert_same_tables(tables, plain)
    del tables
    return {
        "rows": rows,
        "arrow_mb": pq.read_table(paths["jobs"], columns=columns).nbytes / 2**20,
        "dictionary_arrow_mb": pq.read_table(
            paths["jobs"], columns=columns, read_dictionary=DICTIONARY_COLUMNS
        ).nbytes
        / 2**20,
        "peak_mb": peak,
        "seconds": seconds,
    }


def _with_absent_columns(jobs: pd.DataFrame) -> pd.DataFrame:
    """`jobs` with the JOBS columns it lacks, empty (Arrow nulls: no memory)."""
    absent = pd.arrays.ArrowExtensionArray(pa.nulls(len(jobs)))
    return jobs.assign(**{name: absent for name in JOBS.names if name not in jobs.columns})


def _assert_same_tables(found: KpiTables, expected: KpiTables) -> None:
    """The same KPIs, episodes and derived job facts (categoricals compared by their texts: the order of
    categories follows the read)."""
    pd.testing.assert_frame_equal(found.kpis, expected.kpis)
    pd.testing.assert_frame_equal(found.episodes, expected.episodes)
    derived = [name for name in found.facts.columns if name not in JOBS.names]
    texts = {name: str for name in derived if isinstance(found.facts[name].dtype, pd.CategoricalDtype)}
    pd.testing.assert_frame_equal(found.facts[derived].astype(texts), expected.facts[derived].astype(texts))


def store_step(paths: dict[str, Path]) -> dict[str, float]:
    """The store step in this process, which must be fresh (`in_child`), on local Parquet (the lake's code
    writes through awswrangler to S3; the emulator would hold gigabytes of objects here): read the history
    (every job created before the report week), merge this run's rows (the jobs created in the report
    week, read beforehand: the collection hands them over) with isoaudit.merge as audit.store does, find
    the changed rows and write the creation months they touch, partitioned as the lake is. Its peak is
    the process's peak RSS minus its RSS before the history is read."""
    import tempfile

    from isoaudit.aws.lake import MONTH_FORMAT, creation_months
    from isoaudit.aws.lake_files import PARTITION_COLUMN
    from isoaudit.merge import changed_rows, merge_history

    week = week_start(last_complete_week(GENERATED_AT))
    fresh = conform(pd.read_parquet(paths["jobs"], filters=[("creation_time", ">=", week)]), JOBS)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    history = conform(pd.read_parquet(paths["jobs"], filters=[("creation_time", "<", week)]), JOBS)
    jobs = merge_history(history=history, fresh=fresh, fully_listed=[], listed=frozenset())
    months = creation_months(changed_rows(before=history, after=jobs))
    del history
    month = jobs["creation_time"].dt.strftime(MONTH_FORMAT)
    written = jobs.loc[month.isin(months)].assign(**{PARTITION_COLUMN: month})
    with tempfile.TemporaryDirectory() as lake:
        written.to_parquet(lake, partition_cols=[PARTITION_COLUMN], compression="snappy", index=False)
    return {
        "rows": len(jobs),
        "fresh_rows": len(fresh),
        "written_rows": len(written),
        "months_written": len(months),
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_rss_mb() - before,
    }


def in_child(*arguments: str) -> dict[str, float]:
    """Run this file with `arguments` in a fresh Python process; the JSON object it prints last."""
    done = subprocess.run([sys.executable, __file__, *arguments], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_data(rows: int) -> None:
    """Generate the tables of `rows` jobs unless cached, in a child process (so that the generator's memory
    counts in no measure)."""
    if all(path.exists() for path in data_paths(rows=rows).values()):
        return
    print(f"generating {rows:,} jobs in {DATA_DIR} (once; reruns reuse them)...", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--rows", str(rows), "--generate-only"], check=True)
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)


def timed(action: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    del result  # nothing is kept from one repetition to the next
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="synthetic jobs (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="repetitions of each measure")
    parser.add_argument(
        "--large-rows", type=int, default=LARGE_ROWS, help="jobs of the second KPI step (0: none)"
    )
    parser.add_argument(
        "--kpi-only", action="store_true", help="the KPI step and the timing alone (no store step, one size)"
    )
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--step", choices=["kpi", "kpi-unchecked", "kpi-every-column", "store"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    paths = data_paths(rows=args.rows)
    config = load_config(bucket="x-bench", team_mapping=TEAM_MAPPING)
    if args.generate_only:
        generate(rows=args.rows)
        return
    if args.step:  # one measure in this fresh process: its JSON object on the last line
        if args.step == "store":
            found = store_step(paths)
        else:
            found = kpi_step(
                paths,
                config=config,
                every_column=args.step == "kpi-every-column",
                check=args.step == "kpi",
            )
        print(json.dumps(found))
        return
    ensure_data(args.rows)
    # The steps first, each in a fresh process, before this one holds the jobs.
    print("KPI step (and with every column, store step): each in a fresh process...", flush=True)
    kinds = ("kpi",) if args.kpi_only else ("kpi", "kpi-every-column", "store")
    steps = {step: in_child("--rows", str(args.rows), "--step", step) for step in kinds}
    if args.large_rows and not args.kpi_only:
        ensure_data(args.large_rows)
        print(f"KPI step over {args.large_rows:,} jobs...", flush=True)
        # Not compared with a plain read at this size: that comparison alone would hold 19 GB.
        steps["large"] = in_child("--rows", str(args.large_rows), "--step", "kpi-unchecked")
    timing = measure_times(paths, config=config, repeats=args.repeats)
    print()
    report(steps, timing)


def measure_times(paths: dict[str, Path], *, config: AuditConfig, repeats: int) -> dict[str, float]:
    """Reading the KPI columns against kpi_tables over the whole jobs table as the weekly run holds it,
    interleaved; the medians, and the organization's figures printed."""
    jobs, accounts, coverage = load(paths)
    check_kpi_columns(jobs, accounts, coverage, config=config, sample=200_000)
    reads, computes = [], []
    for _ in range(repeats):
        reads.append(timed(lambda: pd.read_parquet(paths["jobs"], columns=KPI_COLUMNS)))
        computes.append(timed(lambda: compute(jobs, accounts, coverage, config=config)))
    tables = compute(jobs, accounts, coverage, config=config)
    org = tables.kpis.loc[
        (tables.kpis["scope"] == "org") & (tables.kpis["week"] == last_complete_week(GENERATED_AT))
    ].iloc[0]
    print()
    print(
        f"organization: {len(jobs):,} jobs, {jobs['account_id'].nunique()} accounts, "
        f"{tables.facts['family'].nunique():,} families, {tables.facts['team'].nunique()} teams, "
        f"{len(tables.episodes):,} exposure episodes"
    )
    print(
        f"report week {org['week']}: {org['jobs']:,} jobs, isolation rate {org['isolation_rate']:.1f}%, "
        f"{org['violations']:,} violations ({org['new_violations']:,} new), "
        f"{org['episodes_open']:,} open episodes"
    )
    print(
        f"money of the week: {org['compute_hours']:,.0f} compute hours, spend ${org['spend_usd']:,.0f}, "
        f"exposed ${org['exposed_spend_usd']:,.0f} ({org['isolated_spend_share']:.1f} % isolated), "
        f"dependency failures ${org['dependency_failure_spend_usd']:,.0f}, {org['unpriced_jobs']:,} unpriced"
    )
    return {
        "rows": len(jobs),
        "reads": reads,
        "computes": computes,
        "read": statistics.median(reads),
        "compute": statistics.median(computes),
        "peak_rss_mb": peak_rss_mb(),
    }


def report(steps: dict[str, dict[str, float]], timing: dict[str, float]) -> None:
    """The figures, then one JSON object on the last line."""
    kpi = steps["kpi"]
    read, compute_ = timing["read"], timing["compute"]
    print(f"read {len(KPI_COLUMNS)} of {len(JOBS.names)} columns      median {read:.2f} s  "
          f"({', '.join(f'{value:.2f}' for value in timing['reads'])})")  # fmt: skip
    print(f"compute every KPI (kpi_tables)  median {compute_:.2f} s  "
          f"({', '.join(f'{value:.2f}' for value in timing['computes'])})")  # fmt: skip
    print(f"compute / read                  {compute_ / read:.2f}  (goal: at most 1.5)")
    print(
        f"KPI step (fresh process: read the KPI columns, kpi_tables; peak RSS minus RSS before the read):\n"
        f"  Arrow size of the columns read {kpi['arrow_mb']:,.0f} MB ({kpi['dictionary_arrow_mb']:,.0f} MB "
        f"as read, dictionary-encoded)\n"
        f"  peak                           {kpi['peak_mb']:,.0f} MB = {kpi['peak_mb'] / kpi['arrow_mb']:.2f} x "
        f"the Arrow size (goal: at most 2); {kpi['peak_mb'] / kpi['rows'] * 1e6:,.0f} MB per million jobs"
    )
    figures = {
        "rows": timing["rows"],
        "compute_seconds": round(compute_, 3),
        "read_seconds": round(read, 3),
        "compute_over_read": round(compute_ / read, 2),
        "kpi_compute_over_read": round(compute_ / read, 2),
        "peak_rss_mb": round(timing["peak_rss_mb"]),
        "arrow_mb": round(kpi["arrow_mb"]),
        "kpi_peak_mb": round(kpi["peak_mb"]),
        "kpi_peak_over_arrow": round(kpi["peak_mb"] / kpi["arrow_mb"], 2),
        f"kpi_mb_per_million_{kpi['rows'] // 1_000_000}m": round(kpi["peak_mb"] / kpi["rows"] * 1e6),
    }
    if "kpi-every-column" in steps:
        every = steps["kpi-every-column"]
        print(
            f"  every JOBS column read         {every['arrow_mb']:,.0f} MB Arrow, peak "
            f"{every['peak_mb']:,.0f} MB = {every['peak_mb'] / every['arrow_mb']:.2f} x"
        )
        figures |= {
            "every_column_arrow_mb": round(every["arrow_mb"]),
            "every_column_peak_mb": round(every["peak_mb"]),
        }
    if "large" in steps:
        large = steps["large"]
        per_million = large["peak_mb"] / large["rows"] * 1e6
        slope = (large["peak_mb"] - kpi["peak_mb"]) / (large["rows"] - kpi["rows"]) * 1e6
        print(
            f"  over {large['rows']:,} jobs: Arrow {large['arrow_mb']:,.0f} MB, peak {large['peak_mb']:,.0f} MB "
            f"= {large['peak_mb'] / large['arrow_mb']:.2f} x; {per_million:,.0f} MB per million jobs "
            f"(slope between the two sizes: {slope:,.0f} MB per million)"
        )
        figures[f"kpi_mb_per_million_{large['rows'] // 1_000_000}m"] = round(per_million)
        figures["kpi_slope_mb_per_million"] = round(slope)
    if "store" in steps:
        store = steps["store"]
        print(
            f"store step (local Parquet: read the history, merge the week's {store['fresh_rows']:,} jobs, write "
            f"{store['months_written']} changed month(s), {store['written_rows']:,} rows): "
            f"{store['seconds']:.1f} s, peak {store['peak_mb']:,.0f} MB "
            f"({store['peak_mb'] / store['rows'] * 1e6:,.0f} MB per million jobs)"
        )
        figures |= {"store_seconds": round(store["seconds"], 1), "store_peak_mb": round(store["peak_mb"])}
    print(f"peak RSS of this process        {timing['peak_rss_mb']:,.0f} MB (holds every column of the jobs)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
