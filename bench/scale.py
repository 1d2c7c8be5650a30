"""Benchmark: the largest organizations, under AWS's request quotas.

One account-region with 462,178 training jobs (the region a Prowler user reported a 12-hour hang on), held
in the emulator as a bulk region (`isoaudit.emulator.bulk`: moto's objects would take gigabytes), served
under the quotas of `isoaudit.aws.quotas` with latency per call; the collector paces itself at the same
quotas. Measured in one run:

- the first full collection: API calls per job, wall time over the bound max(calls x latency / concurrency,
  longest chain x latency, quota bound), where the quota bound is the busiest account's calls of one
  operation over that operation's rate; the collector's peak memory beyond its own before the collection
  (the emulator runs in a process of its own);
- a re-run with nothing new: calls per account-region.

Time is compressed by SPEED: quotas SPEED times AWS's and latency 1/SPEED of 250 ms, so a bound of hours
takes minutes here; the ratios are those of AWS's speed.

The last line is one JSON object.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
    os.environ.pop(variable, None)

from isoaudit import audit  # noqa: E402
from isoaudit.aws import quotas, sagemaker  # noqa: E402
from isoaudit.collect import AccountAudit, AuditRun  # noqa: E402
from isoaudit.config import AuditConfig, load_config  # noqa: E402

LARGE_JOBS = int(os.environ.get("SCALE_JOBS", "462178"))
REGION = "us-east-1"
SPEED = float(os.environ.get("SCALE_SPEED", "10"))
LATENCY_SECONDS = 0.25 / SPEED
CONCURRENCY = 8
NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)
# The jobs of the large region: one every 2 minutes, the newest two days old.
SPACING = timedelta(minutes=2)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class EmulatorProcess:
    """The emulator in a process of its own (moto's CPU and memory are not the collector's)."""

    def __init__(self, target: object, *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self._process.start()
        self.url, self.built = self._pipe.recv()

    def call(self, command: str, **arguments: object) -> object:
        self._pipe.send((command, arguments))
        return self._pipe.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(timeout=30)


def serve_large_region(pipe: Connection, jobs: int) -> None:
    from moto.sagemaker.models import sagemaker_backends

    from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization, start_emulator
    from isoaudit.emulator.bulk import seed_bulk_region
    from isoaudit.emulator.server import _json_record

    with start_emulator(seed=11) as emulator:
        spec = OrganizationSpec(
            accounts=(AccountSpec("large", "large", "/Workloads/Production", tags={"team": "scale"}),),
            jobs=(JobSpec("large", REGION, "template", NOW - timedelta(days=400), True, vpc=True),),
            regions=(REGION,),
        )
        built = build_organization(endpoint_url=emulator.url, spec=spec)
        account = built.account_ids["large"]
        template_job = sagemaker_backends[account][REGION].training_jobs["template"]
        template = {**_json_record(template_job.response_object), "Tags": [{"Key": "team", "Value": "ml"}]}
        newest = NOW - timedelta(days=2)
        created = [newest - SPACING * (jobs - 1 - n) for n in range(jobs)]
        seed_bulk_region(
            account=account,
            region=REGION,
            prefix="train",
            created=created,
            isolated=[n % 3 != 0 for n in range(jobs)],
            template=template,
        )
        del created
        pipe.send((emulator.url, built))
        _serve(pipe, emulator)


def _serve(pipe: Connection, emulator) -> None:
    faults = emulator.faults
    while True:
        command, arguments = pipe.recv()
        if command == "faults":
            faults.latency_seconds = arguments["latency_seconds"]
            faults.quotas = quotas.scaled(quotas.QUOTAS, arguments["speed"]) if arguments["speed"] else None
            pipe.send(None)
        elif command == "reset_counts":
            faults.reset_counts()
            pipe.send(None)
        elif command == "counts":
            pipe.send(
                {
                    "requests": sum(faults.requests.values()),
                    "throttled": sum(faults.throttled.values()),
                    "by_operation": dict(faults.requests),
                    "by_account": dict(faults.by_account),
                    "peak_in_flight": faults.peak_in_flight,
                }
            )
        elif command == "first_request_at":
            pipe.send(faults.first_request_at)
        elif command == "rss":
            pipe.send(_rss_mb())
        else:
            pipe.send(None)
            return


def collect(config: AuditConfig, *, at: datetime) -> tuple[list[AccountAudit], AuditRun]:
    run = AuditRun(run_id=f"scale-{at:%H%M%S}", audit_week="bench", started_at=at)
    aws = audit.management_session(config)
    organization = audit.discover(aws=aws, config=config, run=run)
    return audit.collect_organization(aws=aws, config=config, run=run, organization=organization), run


def quota_bound(by_account: dict[tuple[str, str, str], int]) -> tuple[float, str]:
    """The busiest (account, operation)'s calls over its rate, in seconds of this run's compressed time."""
    worst, name = 0.0, ""
    for (account, service, operation), calls in by_account.items():
        rate = quotas.QUOTAS.get((service, operation))
        if rate is not None and calls / (rate.per_second * SPEED) > worst:
            worst, name = calls / (rate.per_second * SPEED), f"{operation} x{calls} in {account}"
    return worst, name


def listing_chain(jobs: int) -> int:
    """Calls one after the other in the large region's Search: newest page, oldest page, longest slice."""
    created = [NOW - timedelta(days=2) - SPACING * n for n in range(jobs)]
    page = sagemaker.PAGE_SIZE
    windows = sagemaker.slice_windows(newest=created[:page], oldest=created[-page:])
    longest = max(sum(w.start <= moment <= w.end for moment in created) for w in windows)
    return 2 + math.ceil(longest / page)


def paced_region(emulator: EmulatorProcess) -> AuditConfig:
    """The configuration reading the one large region at CONCURRENCY, pacing itself at the quotas the
    emulator now enforces (SPEED times AWS's, with LATENCY_SECONDS a call); the emulator's counts reset."""
    built = emulator.built
    emulator.call("faults", latency_seconds=LATENCY_SECONDS, speed=SPEED)
    emulator.call("reset_counts")
    return load_config(
        bucket=built.bucket,
        endpoint_url=emulator.url,
        role_name=built.spec.audit_role_name,
        regions=[REGION],
        concurrency=CONCURRENCY,
        api_quota_scale=SPEED,
    )


def large_region() -> dict[str, float]:
    print(f"seeding {LARGE_JOBS:,} training jobs in one account-region...", flush=True)
    started = time.perf_counter()
    emulator = EmulatorProcess(serve_large_region, LARGE_JOBS)
    print(f"  seeded in {time.perf_counter() - started:.0f} s; emulator at {emulator.call('rss'):.0f} MB")
    try:
        config = paced_region(emulator)
        before_mb = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        audits, run = collect(config, at=NOW)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak_mb = _rss_mb()
        counts = emulator.call("counts")
        collected = sum(len(done.jobs) for done in audits)
        assert collected == LARGE_JOBS, f"collected {collected} of {LARGE_JOBS}"
        calls = counts["requests"] - counts["throttled"]
        chain = 1 + 2 * 3 + 2 + 2 + listing_chain(LARGE_JOBS)  # discovery (OU tree, lake), role, regions
        latency_bound = calls * LATENCY_SECONDS / CONCURRENCY
        by_quota, busiest = quota_bound(counts["by_account"])
        bound = max(latency_bound, chain * LATENCY_SECONDS, by_quota)

        emulator.call("faults", latency_seconds=0.0, speed=0)
        stored_at = time.perf_counter()
        audit.store(aws=audit.management_session(config), config=config, run=run, accounts=[], audits=audits)
        store_wall = time.perf_counter() - stored_at
        del audits

        emulator.call("faults", latency_seconds=LATENCY_SECONDS, speed=SPEED)
        emulator.call("reset_counts")
        rerun, _ = collect(config, at=NOW + timedelta(hours=2))
        rerun_counts = emulator.call("counts")
        rerun_regions = sum(len(done.coverage) for done in rerun)
        rerun_region_calls = sum(int(done.coverage["api_calls"].sum()) for done in rerun)
        rerun_account_calls = account_level_calls(rerun_counts)
        emulator_mb = emulator.call("rss")
    finally:
        emulator.stop()

    print()
    print(f"one account-region with {LARGE_JOBS:,} training jobs (and the management account)")
    print(
        f"quotas x{SPEED:g} AWS's, latency {LATENCY_SECONDS * 1000:.1f} ms a call (250 ms / {SPEED:g}), "
        f"concurrency {CONCURRENCY}"
    )
    print("first full collection")
    print(f"  API calls              {calls} ({counts['throttled']} throttled)  by operation:")
    for (service, operation), count in sorted(counts["by_operation"].items()):
        print(f"      {service}:{operation:<28} {count}")
    print(f"  calls per job          {calls / LARGE_JOBS:.4f}")
    print(f"  wall                   {wall:.1f} s  (isoaudit's CPU {cpu:.1f} s)")
    print(
        f"  bound                  {bound:.1f} s  (latency {latency_bound:.1f} s, chain of {chain} calls "
        f"{chain * LATENCY_SECONDS:.1f} s, quota {by_quota:.1f} s: {busiest})"
    )
    print(f"  wall / bound           {wall / bound:.2f}")
    print(
        f"  collector memory       {before_mb:.0f} MB before, peak {peak_mb:.0f} MB: +{peak_mb - before_mb:.0f} MB"
    )
    print(f"  emulator memory        {emulator_mb:.0f} MB (its own process)")
    print(f"  store (merge, write)   {store_wall:.1f} s")
    print("re-run with nothing new")
    print(
        f"  calls                  {rerun_counts['requests'] - rerun_counts['throttled']} in all; "
        f"{rerun_region_calls} in {rerun_regions} account-regions + {rerun_account_calls} once per account"
    )
    per_region = (rerun_region_calls + rerun_account_calls) / rerun_regions
    print(f"  calls / account-region {per_region:.2f}")
    return {
        "calls_per_job_full": round(calls / LARGE_JOBS, 4),
        "wall_over_quota_bound": round(wall / bound, 2),
        "collector_peak_mb": round(peak_mb - before_mb),
        "large_rerun_calls_per_account_region": round(per_region, 2),
    }


JOB_SIZES = tuple(int(size) for size in os.environ.get("SCALE_JOB_SIZES", "10000,30000,100000").split(","))


def job_growth(sizes: tuple[int, ...]) -> dict[str, float]:
    """The first full collection of one account-region of each size (an emulator each, quotas and latency
    as in the large region): how calls, wall time and the collector's memory grow with jobs."""
    rows = []
    for jobs in sizes:
        emulator = EmulatorProcess(serve_large_region, jobs)
        try:
            config = paced_region(emulator)
            before_mb = _current_mb()
            started = time.perf_counter()
            audits, _ = collect(config, at=NOW)
            wall = time.perf_counter() - started
            peak_mb = _rss_mb()
            counts = emulator.call("counts")
            assert sum(len(done.jobs) for done in audits) == jobs
            del audits
        finally:
            emulator.stop()
        rows.append({"jobs": jobs, "calls": counts["requests"] - counts["throttled"], "wall": wall,
                     "peak_mb": peak_mb - before_mb})  # fmt: skip
    print(f"\nfirst full collection of one account-region, quotas x{SPEED:g}: growth with jobs")
    print(f"  {'jobs':>8} {'calls':>6} {'wall s':>7} {'collector +MB':>13}")
    for row in rows:
        print(f"  {row['jobs']:>8} {row['calls']:>6} {row['wall']:>7.1f} {row['peak_mb']:>13.0f}")
    slopes = slopes_between(
        rows,
        along="jobs",
        per=1000,
        measures={
            "jobs_calls_per_1000_jobs": "calls",
            "jobs_seconds_per_1000_jobs": "wall",
            "jobs_mb_per_1000_jobs": "peak_mb",
        },
    )
    print(
        f"  slopes per 1,000 jobs added: {slopes['jobs_calls_per_1000_jobs']} calls, "
        f"{slopes['jobs_seconds_per_1000_jobs']} s (at x{SPEED:g} AWS's quotas), "
        f"{slopes['jobs_mb_per_1000_jobs']} MB of the collector's peak"
    )
    return slopes


def _current_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


SMALL_REGIONS = ("us-east-1", "eu-west-1")
LAKE_SERVICES = ("s3", "glue", "athena")


def small_org_spec():
    """4 member accounts, 2 regions, 206 training jobs over the last 8 weeks."""
    from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec

    accounts = tuple(
        AccountSpec(f"team-{n}", f"team-{n}", "/Workloads/Production", tags={"team": f"team-{n}"})
        for n in range(4)
    )
    jobs = tuple(
        JobSpec(
            accounts[n % 4].key,
            SMALL_REGIONS[(n // 4) % 2],
            f"model-{n % 7}-{n:04d}",
            NOW - timedelta(days=56) + timedelta(hours=6.5 * n),
            n % 3 != 0,
        )
        for n in range(206)
    )
    return OrganizationSpec(accounts=accounts, jobs=jobs, regions=SMALL_REGIONS)


def serve_small_org(pipe: Connection) -> None:
    from isoaudit.emulator import build_organization, start_emulator

    with start_emulator(seed=13) as emulator:
        built = build_organization(endpoint_url=emulator.url, spec=small_org_spec())
        pipe.send((emulator.url, built))
        _serve(pipe, emulator)


def weekly_run(config: AuditConfig, *, at: datetime) -> None:
    """The flow's steps (flows/weekly_audit.py) without Prefect: preflight, lock, the lake's preflight,
    discover, collect, store, analyse, publish, deliver, alert."""
    from isoaudit.aws import preflight, run_lock
    from isoaudit.delivery import deliver
    from isoaudit.metrics.report import report_json

    aws = audit.management_session(config)
    preflight.check(aws=aws, config=config)
    run = audit.start_run(now=pd_timestamp(at))
    with run_lock.held(aws=aws, config=config, run_id=run.run_id):
        lake_files = preflight.survey_lake(aws=aws, config=config)
        organization = audit.discover(aws=aws, config=config, run=run, lake_files=lake_files)
        audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
        policies = audit.preventive(aws=aws, accounts=organization.accounts)
        stored = audit.store(
            aws=aws,
            config=config,
            run=run,
            accounts=organization.accounts,
            audits=audits,
            lake_files=lake_files,
        )
        analysis = audit.analyse(config=config, run=run, stored=stored, policies=policies)
        workbook = audit.publish(aws=aws, config=config, analysis=analysis, lake_files=lake_files)
        summary = {**report_json(analysis.weekly), "workbook": str(workbook)}
        delivered = deliver(
            aws=aws, config=config, run=run, weekly=analysis.weekly, workbook=workbook, summary=summary
        )
        audit.alert(aws=aws, config=config, run=run, analysis=analysis, report_uri=delivered.workbook_uri)


def pd_timestamp(moment: datetime):
    import pandas as pd

    return pd.Timestamp(moment)


def lake_calls(reports: str) -> dict[str, float]:
    """S3, Glue and Athena calls of a weekly run whose definitions did not change (the second run)."""
    from isoaudit.aws import lake, lake_view
    from isoaudit.sql import views

    emulator = EmulatorProcess(serve_small_org)
    built = emulator.built
    try:
        config = load_config(
            bucket=built.bucket,
            endpoint_url=emulator.url,
            role_name=built.spec.audit_role_name,
            regions=list(SMALL_REGIONS),
            reports_dir=reports,
        )
        weekly_run(config, at=NOW)
        emulator.call("reset_counts")
        weekly_run(config, at=NOW + timedelta(hours=3))
        counts = emulator.call("counts")
        # What publishing the views cost every run before their fingerprint: forget it, publish again.
        aws = audit.management_session(config)
        key = f"{config.prefix}/{lake_view.STATE_KEY}"
        aws.client("s3").delete_object(Bucket=config.bucket, Key=key)
        emulator.call("reset_counts")
        lake.publish_views(aws=aws, config=config, views=views())
        republished = emulator.call("counts")["requests"] - 2  # the state's own read and write
    finally:
        emulator.stop()
    lake = {key: count for key, count in counts["by_operation"].items() if key[0] in LAKE_SERVICES}
    total = sum(lake.values())
    print()
    print("a weekly run whose table and view definitions did not change (4 accounts, 206 jobs, 2nd run)")
    print(f"  lake calls             {total}  (S3, Glue, Athena) of {counts['requests']} in all")
    for (service, operation), count in sorted(lake.items(), key=lambda item: -item[1]):
        print(f"      {service}:{operation:<28} {count}")
    print(f"  views published again  {republished} calls (every run paid them before the fingerprint)")
    return {
        "lake_calls_unchanged": total,
    }


# The 17 regions every account has enabled (those launched before March 2019 cannot be disabled).
DEFAULT_REGIONS = (
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)  # fmt: skip
MANY_LATENCY_SECONDS = float(os.environ.get("SCALE_MANY_LATENCY", "0.05"))


def serve_many_accounts(pipe: Connection, accounts: int) -> None:
    from moto.ec2.models import ec2_backends

    from isoaudit.emulator import AccountSpec, JobSpec, OrganizationSpec, build_organization, start_emulator

    with start_emulator(seed=17) as emulator:
        members = tuple(
            AccountSpec(f"m{n:03d}", f"member-{n:03d}", "/Workloads/Production") for n in range(accounts)
        )
        jobs = tuple(
            JobSpec(member.key, "us-east-1", f"job-{n}", NOW - timedelta(days=30, hours=n), n % 2 == 0)
            for n, member in enumerate(members)
        )
        built = build_organization(
            endpoint_url=emulator.url,
            spec=OrganizationSpec(accounts=members, jobs=jobs, regions=("us-east-1",)),
        )
        # moto builds an account's EC2 state on its first EC2 call: a cost AWS does not make anyone wait for.
        for account in [built.management_account_id, *built.account_ids.values()]:
            ec2_backends[account]["us-east-1"].describe_regions()
        pipe.send((emulator.url, built))
        _serve(pipe, emulator)


def seed_coverage(config: AuditConfig, accounts: list[str], *, at: datetime) -> None:
    """Every account-region audited (fully listed) a day before: what a re-run finds in the lake."""
    import pandas as pd

    from isoaudit.aws import lake
    from isoaudit.schema import COVERAGE, conform

    rows = [
        {
            "audit_week": "seed", "run_id": "seed", "account_id": account, "account_name": account,
            "audited_at": at, "region": region, "status": "audited", "reason": "", "listing": "full",
            "jobs_seen": 1, "api_calls": 3,
        }
        for account in accounts
        for region in DEFAULT_REGIONS
    ]  # fmt: skip
    aws = audit.management_session(config)
    lake.write_table(aws=aws, config=config, table="coverage", frame=conform(pd.DataFrame(rows), COVERAGE))


def bare_floor(url: str, regions: int, calls: int, concurrency: int) -> float:
    """The emulator's own floor: `calls` calls of a re-run's mix (a Search and a List per account-region)
    from bare boto3 clients built beforehand, `concurrency` at once, over `regions` regions; seconds."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    session = boto3.Session()
    clients = [
        session.client("sagemaker", region_name=DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)], endpoint_url=url)
        for n in range(min(regions, len(DEFAULT_REGIONS)))
    ]
    since = NOW - timedelta(days=1)

    def call(n: int) -> None:
        client = clients[n % len(clients)]
        if n % 2:
            client.list_processing_jobs(MaxResults=100, LastModifiedTimeAfter=since)
        else:
            filters = [{"Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": since.isoformat()}]
            client.search(Resource="TrainingJob", MaxResults=100, SearchExpression={"Filters": filters})

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, range(calls)))
    return time.perf_counter() - started


def account_level_calls(counts: dict) -> int:
    """The calls made once per account, not per region: AssumeRole, and DescribeRegions where a region in
    scope could be disabled."""
    return sum(
        counts["by_operation"].get(key, 0) for key in (("sts", "AssumeRole"), ("ec2", "DescribeRegions"))
    )


def rerun_once(emulator: EmulatorProcess, config: AuditConfig, members: int) -> dict[str, float]:
    """A re-run with nothing new over the management account and `members` member accounts."""
    emulator.call("faults", latency_seconds=MANY_LATENCY_SECONDS, speed=SPEED)
    emulator.call("reset_counts")
    cpu = time.process_time()
    started = time.perf_counter()
    rerun, _ = collect(config, at=NOW)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = emulator.call("counts")
    emulator.call("faults", latency_seconds=0.0, speed=0)
    regions = sum(len(done.coverage) for done in rerun)
    assert regions == (members + 1) * len(DEFAULT_REGIONS), regions
    assert all((done.coverage["status"] == "audited").all() for done in rerun)
    region_calls = sum(int(done.coverage["api_calls"].sum()) for done in rerun)
    account_calls = account_level_calls(counts)
    calls = counts["requests"] - counts["throttled"]
    return {
        "accounts": len(rerun),
        "account_regions": regions,
        "concurrency": config.concurrency,
        "calls": calls,
        "discovery_calls": calls - region_calls - account_calls,
        "per_account_region": (region_calls + account_calls) / regions,
        "wall": wall,
        "cpu": cpu,
        "bound": max(calls * MANY_LATENCY_SECONDS / config.concurrency, 12 * MANY_LATENCY_SECONDS),
        "throttled": counts["throttled"],
    }


def many_accounts(
    accounts: int, concurrencies: tuple[int, ...], sizes: tuple[int, ...]
) -> list[dict[str, float]]:
    """A re-run with nothing new over `accounts` members x 17 regions, at each concurrency (with the
    emulator's floor measured beside it), then at the first concurrency over fewer members (`sizes`)."""
    print(f"\nbuilding {accounts} member accounts...", flush=True)
    started = time.perf_counter()
    emulator = EmulatorProcess(serve_many_accounts, accounts)
    built = emulator.built
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    results = []
    try:
        config = load_config(
            bucket=built.bucket,
            endpoint_url=emulator.url,
            role_name=built.spec.audit_role_name,
            regions=list(DEFAULT_REGIONS),
        )
        members = list(built.account_ids.values())
        seed_coverage(config, [built.management_account_id, *members], at=NOW - timedelta(days=1))
        for concurrency in concurrencies:
            run = rerun_once(emulator, config.model_copy(update={"concurrency": concurrency}), accounts)
            emulator.call("faults", latency_seconds=MANY_LATENCY_SECONDS, speed=0)
            run["floor"] = bare_floor(emulator.url, run["account_regions"], int(run["calls"]), concurrency)
            emulator.call("faults", latency_seconds=0.0, speed=0)
            results.append(run)
            print(
                f"  concurrency {concurrency:>2}: {run['calls']} calls ({run['discovery_calls']} discovery, "
                f"{run['per_account_region']:.2f} per account-region), {run['throttled']} throttled, "
                f"wall {run['wall']:.1f} s (isoaudit's CPU {run['cpu']:.1f} s), bound {run['bound']:.1f} s, "
                f"wall / bound {run['wall'] / run['bound']:.2f}; the emulator's floor (the same calls from "
                f"bare boto3) {run['floor']:.1f} s, wall / max(bound, floor) "
                f"{run['wall'] / max(run['bound'], run['floor']):.2f}",
                flush=True,
            )
        for size in sizes:
            if size >= accounts:
                continue
            tuned = config.model_copy(
                update={"concurrency": concurrencies[0], "exclude_accounts": members[size:]}
            )
            results.append(rerun_once(emulator, tuned, size))
    finally:
        emulator.stop()
    return results


def slopes_between(rows: list[dict], *, along: str, per: float, measures: dict[str, str]) -> dict[str, float]:
    """Each measure's growth per `per` of `along`, between the smallest and the largest size measured."""
    first, last = rows[0], rows[-1]
    step = (last[along] - first[along]) / per
    return {name: round((last[column] - first[column]) / step, 3) for name, column in measures.items()}


def growth_table(many: list[dict[str, float]], concurrency: int) -> dict[str, float]:
    """How a re-run's calls and wall grow with accounts, at one concurrency: the slopes a user plans with."""
    rows = sorted((run for run in many if run["concurrency"] == concurrency), key=lambda run: run["accounts"])
    print(f"\nre-run with nothing new, 17 regions, concurrency {concurrency}: growth with accounts")
    print(f"  {'accounts':>8} {'calls':>7} {'wall s':>7} {'bound s':>7} {'CPU s':>7}")
    for run in rows:
        print(
            f"  {run['accounts']:>8} {run['calls']:>7} {run['wall']:>7.1f} {run['bound']:>7.1f} {run['cpu']:>7.1f}"
        )
    slopes = slopes_between(
        rows,
        along="accounts",
        per=1,
        measures={
            "calls_per_account": "calls",
            "seconds_per_account": "wall",
            "cpu_seconds_per_account": "cpu",
        },
    )
    print(
        f"  slopes: {slopes['calls_per_account']} calls, {slopes['seconds_per_account']} s of wall and "
        f"{slopes['cpu_seconds_per_account']} s of isoaudit's CPU per account added"
    )
    return slopes


def kpi_figures() -> dict[str, float]:
    """The KPI step's memory and speed over bench/metrics.py's 5,000,000 jobs: that bench, in a process of
    its own, without its store step and second size (`--kpi-only`); its output shown, its JSON read."""
    print("\nKPI memory and speed (bench/metrics.py --kpi-only)", flush=True)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("metrics.py")), "--kpi-only"],
        check=True,
        capture_output=True,
        text=True,
    )
    print(done.stdout.rstrip())
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: found[name] for name in ("kpi_peak_over_arrow", "kpi_compute_over_read")}


def main() -> None:
    """Every part by default; SCALE_PARTS=lake,c7n,many,jobs,large,kpi picks some (for development)."""
    import tempfile

    parts = os.environ.get("SCALE_PARTS", "lake,c7n,many,jobs,large,kpi").split(",")
    figures: dict[str, float] = {}
    if "lake" in parts:
        with tempfile.TemporaryDirectory() as reports:
            figures |= lake_calls(reports)
    if "c7n" in parts:
        from versus_c7n import versus_c7n

        with tempfile.TemporaryDirectory() as reports:
            figures |= versus_c7n(Path(reports))
    if "many" in parts:
        print(
            f"\nmany accounts, 17 regions, re-run with nothing new, latency {MANY_LATENCY_SECONDS * 1000:.0f} ms"
        )
        accounts = int(os.environ.get("SCALE_ACCOUNTS", "500"))
        many = many_accounts(accounts, (8, 32), (accounts // 10, accounts * 3 // 10))
        figures["rerun_calls_per_account_region"] = round(many[0]["per_account_region"], 2)
        figures["many_accounts_wall_over_bound"] = round(
            max(run["wall"] / run["bound"] for run in many[:2]), 2
        )
        figures["many_accounts_wall_over_floor_or_bound"] = round(
            max(run["wall"] / max(run["bound"], run["floor"]) for run in many[:2]), 2
        )
        figures |= {f"many_{key}": value for key, value in growth_table(many, 8).items()}
    if "jobs" in parts:
        figures |= job_growth(JOB_SIZES)
    if "large" in parts:
        figures |= large_region()
    if "kpi" in parts:
        figures |= kpi_figures()
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
