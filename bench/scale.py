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


def large_region() -> dict[str, float]:
    print(f"seeding {LARGE_JOBS:,} training jobs in one account-region...", flush=True)
    started = time.perf_counter()
    emulator = EmulatorProcess(serve_large_region, LARGE_JOBS)
    print(f"  seeded in {time.perf_counter() - started:.0f} s; emulator at {emulator.call('rss'):.0f} MB")
    built = emulator.built
    try:
        config = load_config(
            bucket=built.bucket,
            endpoint_url=emulator.url,
            role_name=built.spec.audit_role_name,
            regions=[REGION],
            concurrency=CONCURRENCY,
            api_quota_scale=SPEED,
        )
        emulator.call("faults", latency_seconds=LATENCY_SECONDS, speed=SPEED)
        emulator.call("reset_counts")
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
        rerun_account_calls = 2 * len(rerun)  # AssumeRole and DescribeRegions per account
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
        f"{rerun_region_calls} in {rerun_regions} account-regions + {rerun_account_calls} per account"
    )
    per_region = (rerun_region_calls + rerun_account_calls) / rerun_regions
    print(f"  calls / account-region {per_region:.2f}")
    return {
        "calls_per_job_full": round(calls / LARGE_JOBS, 4),
        "wall_over_quota_bound": round(wall / bound, 2),
        "collector_peak_mb": round(peak_mb - before_mb),
        "large_rerun_calls_per_account_region": round(per_region, 2),
    }


SMALL_REGIONS = ("us-east-1", "eu-west-1")
# c7n-org's wall time on this organization, as issue 14 measured it on this machine (not re-measured here).
C7N_ORG_SECONDS = 5.0
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
    """The flow's steps (flows/weekly_audit.py) without Prefect: preflight, lock, discover, collect, store,
    analyse, publish, deliver, alert."""
    from isoaudit.aws import preflight, run_lock
    from isoaudit.delivery import deliver
    from isoaudit.metrics.report import report_json

    aws = audit.management_session(config)
    preflight.check(aws=aws, config=config)
    run = audit.start_run(now=pd_timestamp(at))
    with run_lock.held(aws=aws, config=config, run_id=run.run_id):
        organization = audit.discover(aws=aws, config=config, run=run)
        audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
        policies = audit.preventive(aws=aws, accounts=organization.accounts)
        stored = audit.store(aws=aws, config=config, run=run, accounts=organization.accounts, audits=audits)
        analysis = audit.analyse(config=config, run=run, stored=stored, policies=policies)
        workbook = audit.publish(aws=aws, config=config, analysis=analysis)
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
    from isoaudit.aws import lake
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
        key = f"{config.prefix}/{lake.DEFINITIONS_KEY}"
        aws.client("s3").delete_object(Bucket=config.bucket, Key=key)
        emulator.call("reset_counts")
        lake.publish_views(aws=aws, config=config, views=views())
        republished = emulator.call("counts")["requests"] - 1  # the fingerprint's own read
        # The same run as a user starts it: `isoaudit run`, a process of its own, Prefect included.
        emulator.call("reset_counts")
        command = [
            str(Path(sys.executable).with_name("isoaudit")), "run", "--bucket", built.bucket,
            "--endpoint-url", emulator.url, "--role-name", built.spec.audit_role_name,
            "--regions", ",".join(SMALL_REGIONS), "--out", reports, "--json",
        ]  # fmt: skip
        started = time.time()
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        cli_wall = time.time() - started
        first_call = emulator.call("first_request_at") - started
        assert finished.returncode == 0, finished.stderr[-2000:]
        emulator.call("reset_counts")
        c7n_wall = c7n_org_wall(emulator.url, built, Path(reports))
        reached = emulator.call("counts")["requests"]
        if c7n_wall is not None and not reached:
            # c7n's sessions do not honour AWS_ENDPOINT_URL: it read nothing of this organization, and its
            # time is not a comparison.
            print(f"  c7n-org ran in {c7n_wall:.1f} s but sent no request to the emulator: not comparable")
            c7n_wall = None
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
    print(
        f"  isoaudit run (CLI)     {cli_wall:.1f} s end to end, first AWS call {first_call:.1f} s after the "
        "process started"
    )
    if c7n_wall is None:
        c7n_wall = C7N_ORG_SECONDS
        print(
            f"  c7n-org                could not be installed: taken as {C7N_ORG_SECONDS:.0f} s (issue 14's figure)"
        )
    else:
        print(f"  c7n-org run            {c7n_wall:.1f} s end to end (same organization, same emulator)")
    print(f"  isoaudit / c7n-org     {cli_wall / c7n_wall:.2f}")
    return {
        "lake_calls_unchanged": total,
        "small_org_wall_over_c7n": round(cli_wall / c7n_wall, 2),
        "cli_seconds_to_first_call": round(first_call, 1),
    }


C7N_VENV = Path(__file__).resolve().parent / ".data" / "c7n-venv"
C7N_POLICY = """policies:
  - name: sagemaker-training-jobs-without-isolation
    resource: aws.sagemaker-job
    filters:
      - or:
          - EnableNetworkIsolation: absent
          - EnableNetworkIsolation: false
"""


def c7n_org_wall(endpoint_url: str, built, folder: Path) -> float | None:
    """c7n-org (Cloud Custodian across accounts, installed by the bench in a throwaway venv) running a
    policy over the same organization's training jobs; its wall time, or None when it cannot be installed."""
    c7n_org = C7N_VENV / "bin" / "c7n-org"
    if not c7n_org.exists():
        created = subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=False)
        pip = [str(C7N_VENV / "bin" / "pip"), "install", "--quiet", "c7n-org"]
        if created.returncode or subprocess.run(pip, check=False, capture_output=True).returncode:
            return None
    accounts = [built.management_account_id, *built.account_ids.values()]
    lines = ["accounts:"]
    for account in accounts:
        role = f"arn:aws:iam::{account}:role/{built.spec.audit_role_name}"
        regions = ", ".join(SMALL_REGIONS)
        lines += [
            f'  - account_id: "{account}"',
            f"    name: a{account}",
            f"    role: {role}",
            f"    regions: [{regions}]",
        ]
    (folder / "accounts.yml").write_text("\n".join(lines) + "\n")
    (folder / "policy.yml").write_text(C7N_POLICY)
    environment = {**os.environ, "AWS_ENDPOINT_URL": endpoint_url, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(c7n_org), "run", "-c", str(folder / "accounts.yml"), "-u", str(folder / "policy.yml")]
    started = time.time()
    finished = subprocess.run(
        [*command, "-s", str(folder / "c7n-out")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.time() - started
    if finished.returncode != 0:
        print(finished.stderr[-3000:])
        return None
    found = sum(len(json.loads(path.read_text())) for path in (folder / "c7n-out").rglob("resources.json"))
    print(f"  c7n-org found          {found} training jobs without isolation")
    return wall


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


def many_accounts(accounts: int, concurrencies: tuple[int, ...]) -> list[dict[str, float]]:
    """A re-run with nothing new over `accounts` members x 17 regions, at each concurrency."""
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
        everyone = [built.management_account_id, *built.account_ids.values()]
        seed_coverage(config, everyone, at=NOW - timedelta(days=1))
        for concurrency in concurrencies:
            tuned = config.model_copy(update={"concurrency": concurrency})
            emulator.call("faults", latency_seconds=MANY_LATENCY_SECONDS, speed=SPEED)
            emulator.call("reset_counts")
            started = time.perf_counter()
            rerun, _ = collect(tuned, at=NOW)
            wall = time.perf_counter() - started
            counts = emulator.call("counts")
            emulator.call("faults", latency_seconds=0.0, speed=0)
            regions = sum(len(done.coverage) for done in rerun)
            assert regions == len(everyone) * len(DEFAULT_REGIONS), regions
            assert all((done.coverage["status"] == "audited").all() for done in rerun)
            region_calls = sum(int(done.coverage["api_calls"].sum()) for done in rerun)
            account_calls = 2 * len(rerun)
            calls = counts["requests"] - counts["throttled"]
            discovery = calls - region_calls - account_calls
            bound = max(calls * MANY_LATENCY_SECONDS / concurrency, 12 * MANY_LATENCY_SECONDS)
            results.append(
                {
                    "accounts": len(everyone),
                    "account_regions": regions,
                    "concurrency": concurrency,
                    "calls": calls,
                    "discovery_calls": discovery,
                    "per_account_region": (region_calls + account_calls) / regions,
                    "wall": wall,
                    "bound": bound,
                    "throttled": counts["throttled"],
                }
            )
            print(
                f"  concurrency {concurrency:>2}: {calls} calls ({discovery} discovery, "
                f"{(region_calls + account_calls) / regions:.2f} per account-region), "
                f"{counts['throttled']} throttled, wall {wall:.1f} s, bound {bound:.1f} s, "
                f"wall / bound {wall / bound:.2f}",
                flush=True,
            )
    finally:
        emulator.stop()
    return results


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
    """Every part by default; SCALE_PARTS=lake,many,large,kpi picks some (for development)."""
    import tempfile

    parts = os.environ.get("SCALE_PARTS", "lake,many,large,kpi").split(",")
    figures: dict[str, float] = {}
    if "lake" in parts:
        with tempfile.TemporaryDirectory() as reports:
            figures |= lake_calls(reports)
    if "many" in parts:
        print(
            f"\nmany accounts, 17 regions, re-run with nothing new, latency {MANY_LATENCY_SECONDS * 1000:.0f} ms"
        )
        many = many_accounts(int(os.environ.get("SCALE_ACCOUNTS", "500")), (8, 32))
        figures["rerun_calls_per_account_region"] = round(many[0]["per_account_region"], 2)
        figures["many_accounts_wall_over_bound"] = round(max(run["wall"] / run["bound"] for run in many), 2)
    if "large" in parts:
        figures |= large_region()
    if "kpi" in parts:
        figures |= kpi_figures()
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
