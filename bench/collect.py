"""Benchmark: collecting an organization's jobs, against the bound set by latency and by call chains.

Builds, in the embedded emulator, 20 accounts x 2 regions x 100 training jobs plus one account with 5,000
jobs, then injects a per-call latency far above the emulator's own (so that the figures measure isoaudit's
call pattern, not moto) and some throttling, and measures in one run:

- isoaudit's first full collection, a re-run with nothing new, and the periodic full listing with nothing
  new (which lists every job and fetches none again) (API calls, wall time);
- the bound: max(calls x latency / concurrency, longest chain of calls that must follow one another x
  latency), and wall / bound. The longest chain is discovery's (the OU tree, level by level), then one
  account's AssumeRole and DescribeRegions, then the 5,000-job listing: its newest page, its oldest page and
  the pages of its longest creation-time slice (`isoaudit.aws.sagemaker.slice_windows`, computed here from
  the jobs' creation times). `concurrency` bounds the account-regions read at once; the most calls in
  flight at once, measured by the emulator, is printed beside it;
- with AWS's request quotas on (`isoaudit.aws.quotas`, a token bucket per account, region and operation),
  which the collector paces itself under; the bound also takes the quota bound: the busiest account's
  calls of one operation over that operation's rate;
- the way common scanners collect (per account-region: list, then describe and list tags per job,
  sequentially; measured without quotas, which would only slow it). Its call count is exact (it follows from the job counts); its wall time is measured on a
  sample of its calls and scaled by the call count, because running it whole takes half an hour.

The last line is one JSON object with the keys the issue asks for.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
    os.environ.pop(variable, None)

from isoaudit import audit, job_kinds  # noqa: E402
from isoaudit.aws import sagemaker, sts  # noqa: E402
from isoaudit.aws.quotas import QUOTAS  # noqa: E402
from isoaudit.collect import AccountAudit, AuditRun  # noqa: E402
from isoaudit.config import AuditConfig, load_config  # noqa: E402
from isoaudit.emulator import (  # noqa: E402
    AccountSpec,
    BuiltOrganization,
    JobSpec,
    OrganizationSpec,
    build_organization,
    start_emulator,
)
from isoaudit.emulator.organization import management_session  # noqa: E402

SMALL_ACCOUNTS = 20
REGIONS = ("us-east-1", "eu-west-1")
JOBS_PER_REGION = 100
LARGE_ACCOUNT_JOBS = 5_000
# Far above the emulator's own cost per call (10-40 ms on a busy 2-core machine, and the client's CPU per
# call), so that wall time reflects isoaudit's call pattern and not the machine.
LATENCY_SECONDS = 0.25
THROTTLE_RATE = 0.02
CONCURRENCY = 8
PAGE = sagemaker.PAGE_SIZE
NAIVE_SAMPLE_JOBS = 60
NOW = datetime.now(UTC).replace(microsecond=0)


class EmulatorProcess:
    """The emulator in a process of its own, so that moto's CPU does not share isoaudit's interpreter lock
    (on AWS the server's work is not on the client's machine); its faults are set through a pipe."""

    def __init__(self, spec: OrganizationSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, spec), daemon=True)
        self._process.start()
        self.url, self.built = self._pipe.recv()

    def _call(self, command: str, **arguments: object) -> object:
        self._pipe.send((command, arguments))
        return self._pipe.recv()

    def set_faults(self, *, latency_seconds: float, throttle_rate: float, quotas: bool = True) -> None:
        """Latency and random throttling; with `quotas`, AWS's request quotas too (isoaudit.aws.quotas)."""
        self._call(
            "faults",
            latency_seconds=latency_seconds,
            throttle_rate=throttle_rate,
            quotas=QUOTAS if quotas else None,
        )

    def busiest(self) -> tuple[float, str]:
        """The quota bound: the busiest (account, operation)'s calls over its rate, in seconds."""
        return self._call("busiest")  # type: ignore[return-value]

    def reset_counts(self) -> None:
        self._call("reset_counts")

    def counts(self) -> tuple[int, int, int]:
        """(requests, of which throttled, most requests in flight at once) since the last reset."""
        return self._call("counts")  # type: ignore[return-value]

    def stop(self) -> None:
        self._call("stop")
        self._process.join(timeout=30)


def _serve(pipe: Connection, spec: OrganizationSpec) -> None:
    with start_emulator(seed=11) as emulator:
        built: BuiltOrganization = build_organization(endpoint_url=emulator.url, spec=spec)
        _warm_up(emulator.url, built)
        pipe.send((emulator.url, built))
        while True:
            command, arguments = pipe.recv()
            if command == "faults":
                for name, value in arguments.items():
                    setattr(emulator.faults, name, value)
                pipe.send(None)
            elif command == "reset_counts":
                emulator.faults.reset_counts()
                pipe.send(None)
            elif command == "busiest":
                worst = max(
                    (
                        (
                            calls / QUOTAS[(service, operation)].per_second,
                            f"{operation} x{calls} in {account}",
                        )
                        for (account, service, operation), calls in emulator.faults.by_account.items()
                    ),
                    default=(0.0, ""),
                )
                pipe.send(worst)
            elif command == "counts":
                faults = emulator.faults
                pipe.send(
                    (sum(faults.requests.values()), sum(faults.throttled.values()), faults.peak_in_flight)
                )
            else:
                pipe.send(None)
                return


def _warm_up(endpoint_url: str, built: BuiltOrganization) -> None:
    """moto builds an account's EC2 state (default VPCs, images) on its first EC2 call, and computes every
    job record of a listing the first time it is asked (the emulator then keeps it until a job changes):
    costs AWS does not make anyone wait for, paid here before measuring."""
    management = management_session(endpoint_url=endpoint_url)
    for account_id in [built.management_account_id, *built.account_ids.values()]:
        member = sts.assume_role(
            aws=management,
            role_arn=sts.role_arn(account_id=account_id, role_name="OrganizationAccountAccessRole"),
            session_name="bench-warm-up",
        )
        for region in REGIONS:
            member.client("ec2", region=region).describe_regions(AllRegions=True)
            sagemaker.search_jobs(aws=member, region=region)
            for kind in (job_kinds.TRAINING, job_kinds.PROCESSING):
                sagemaker.list_jobs(aws=member, region=region, kind=kind)


def organization_spec() -> OrganizationSpec:
    accounts = [
        AccountSpec(f"small-{n:02d}", f"small-{n:02d}", "/Workloads/Production")
        for n in range(SMALL_ACCOUNTS)
    ]
    accounts.append(AccountSpec("large", "large", "/Workloads/Production"))
    jobs = [
        JobSpec(
            account.key,
            region,
            f"{account.key}-{region}-{n}",
            NOW - timedelta(days=60, minutes=n),
            n % 2 == 0,
        )
        for account in accounts[:-1]
        for region in REGIONS
        for n in range(JOBS_PER_REGION)
    ]
    jobs += [
        JobSpec("large", REGIONS[0], f"large-{n}", NOW - timedelta(days=60, minutes=n), n % 3 == 0)
        for n in range(LARGE_ACCOUNT_JOBS)
    ]
    return OrganizationSpec(accounts=tuple(accounts), jobs=tuple(jobs), regions=REGIONS)


def largest_listing_chain(spec: OrganizationSpec) -> int:
    """Calls one after the other in the largest account-region's listing: its newest page, its oldest page,
    then the pages of the longest of the creation-time slices read side by side (see `sagemaker`)."""
    created = sorted((job.created_at for job in spec.jobs if job.account == "large"), reverse=True)
    windows = sagemaker.slice_windows(newest=created[:PAGE], oldest=created[-PAGE:])
    in_window = [sum(window.start <= moment <= window.end for moment in created) for window in windows]
    return 2 + max((math.ceil(count / PAGE) or 1 for count in in_window), default=0)


def collect(config: AuditConfig, *, at: datetime) -> tuple[list[AccountAudit], AuditRun]:
    """The flow's collection, without Prefect's own overhead: discovery, then every account concurrently."""
    run = AuditRun(run_id=f"bench-{at:%H%M%S}", audit_week="bench", started_at=at)
    aws = audit.management_session(config)
    organization = audit.discover(aws=aws, config=config, run=run)
    return audit.collect_organization(aws=aws, config=config, run=run, organization=organization), run


def naive_sample(*, endpoint_url: str, account_id: str, role: str, jobs: int) -> tuple[int, float]:
    """The common scanners' way on one account-region: list, then describe + list tags per job, in turn."""
    started = time.perf_counter()
    management = management_session(endpoint_url=endpoint_url)
    member = sts.assume_role(
        aws=management,
        role_arn=sts.role_arn(account_id=account_id, role_name=role),
        session_name="naive-bench",
    ).counted()
    summaries = sagemaker.list_jobs(aws=member, region=REGIONS[0], kind=job_kinds.TRAINING)
    names = [summary["TrainingJobName"] for summary in summaries[:jobs]]
    sagemaker.describe_jobs(aws=member, region=REGIONS[0], kind=job_kinds.TRAINING, names=names)
    return member.counter.count + 1, time.perf_counter() - started


def main() -> None:
    spec = organization_spec()
    built_at = time.perf_counter()
    print(f"building {len(spec.accounts)} accounts, {len(spec.jobs)} jobs in the emulator...", flush=True)
    emulator = EmulatorProcess(spec)
    built = emulator.built
    print(f"  built in {time.perf_counter() - built_at:.0f} s", flush=True)
    try:
        config = load_config(
            bucket=built.bucket,
            endpoint_url=emulator.url,
            role_name=spec.audit_role_name,
            regions=list(REGIONS),
            concurrency=CONCURRENCY,
            full_listing_every_days=7,
        )
        jobs = len(spec.jobs)
        account_regions = (len(spec.accounts) + 1) * len(REGIONS)  # members and the management account

        emulator.set_faults(latency_seconds=LATENCY_SECONDS, throttle_rate=THROTTLE_RATE)
        emulator.reset_counts()
        started, cpu_started = time.perf_counter(), time.process_time()
        audits, run = collect(config, at=NOW)
        full_wall = time.perf_counter() - started
        full_cpu = time.process_time() - cpu_started
        full_requests, full_throttled, full_peak = emulator.counts()
        full_calls = full_requests - full_throttled
        collected = sum(len(done.jobs) for done in audits)
        assert collected == jobs, f"collected {collected} of {jobs} jobs"

        # Bound. Chains: discovery walks the OU tree (roots, then accounts and OUs of each parent, in order)
        # and reads the lake's coverage; then per account, AssumeRole and DescribeRegions; then the longest
        # region's listing, whose Search and List pages run side by side.
        parents = 1 + len({account.ou_path for account in spec.accounts} | {"/Workloads"})
        discovery_chain = 1 + 2 * parents + 1 + 1
        chain = discovery_chain + 2 + largest_listing_chain(spec)
        quota_bound, busiest = emulator.busiest()
        full_bound = max(full_calls * LATENCY_SECONDS / CONCURRENCY, chain * LATENCY_SECONDS, quota_bound)

        emulator.set_faults(latency_seconds=0.0, throttle_rate=0.0, quotas=False)
        management = audit.management_session(config)
        stored = audit.store(aws=management, config=config, run=run, accounts=[], audits=audits)
        # Money: the Price List calls of a run (one per new region x instance type x use), then of a
        # second run while the stored prices are fresh (none). Never a call per job.
        pricing_calls = [
            audit.price(aws=management, config=config, run=run, stored=stored).calls for _ in range(2)
        ]

        emulator.set_faults(latency_seconds=LATENCY_SECONDS, throttle_rate=THROTTLE_RATE)
        emulator.reset_counts()
        started = time.perf_counter()
        rerun_audits, _ = collect(config, at=NOW + timedelta(hours=2))
        rerun_wall = time.perf_counter() - started
        rerun_requests, rerun_throttled, _ = emulator.counts()
        rerun_calls = rerun_requests - rerun_throttled
        rerun_collection_calls = sum(done.coverage["api_calls"].sum() for done in rerun_audits) + 2 * (
            len(spec.accounts) + 1
        )  # + AssumeRole and DescribeRegions per account
        rerun_new = sum(len(done.jobs) for done in rerun_audits)

        # The periodic full listing, with nothing new: every job listed, none fetched again.
        emulator.reset_counts()
        relisting_config = config.model_copy(update={"full_listing_every_days": 0})
        relisting_audits, _ = collect(relisting_config, at=NOW + timedelta(hours=4))
        relisting_requests, relisting_throttled, _ = emulator.counts()
        relisting_calls = relisting_requests - relisting_throttled
        relisting_fetched = sum(len(done.jobs) for done in relisting_audits)
        relisting_listed = sum(len(done.listed) for done in relisting_audits)

        # The naive way: exact call count, wall time from a sample at the same latency.
        naive_calls = sum(
            1 + math.ceil(count / PAGE) + 2 * count
            for count in [JOBS_PER_REGION] * SMALL_ACCOUNTS * len(REGIONS) + [LARGE_ACCOUNT_JOBS]
        ) + len(spec.accounts)
        emulator.set_faults(latency_seconds=LATENCY_SECONDS, throttle_rate=0.0, quotas=False)
        sample_calls, sample_wall = naive_sample(
            endpoint_url=emulator.url,
            account_id=built.account_ids["small-00"],
            role=spec.audit_role_name,
            jobs=NAIVE_SAMPLE_JOBS,
        )
        naive_wall = sample_wall / sample_calls * naive_calls
    finally:
        emulator.stop()

    calls_per_job = full_calls / jobs
    rerun_per_account_region = rerun_collection_calls / account_regions
    print()
    print(f"organization: {len(spec.accounts) + 1} accounts x {len(REGIONS)} regions, {jobs} training jobs")
    print(
        f"latency {LATENCY_SECONDS * 1000:.0f} ms a call, {THROTTLE_RATE:.0%} of calls throttled, AWS's request quotas (isoaudit.aws.quotas), concurrency {CONCURRENCY}"
    )
    print()
    print("isoaudit, first full collection")
    print(f"  API calls              {full_calls} ({full_throttled} more were throttled and retried)")
    print(f"  calls per job          {calls_per_job:.4f}")
    print(f"  wall                   {full_wall:.2f} s")
    print(
        f"  bound                  {full_bound:.2f} s  (calls bound {full_calls * LATENCY_SECONDS / CONCURRENCY:.2f} s, chain of {chain} calls {chain * LATENCY_SECONDS:.2f} s, quota bound {quota_bound:.2f} s: {busiest})"
    )
    print(f"  wall / bound           {full_wall / full_bound:.2f}")
    print(
        f"  calls in flight        at most {full_peak}  (concurrency bounds the account-regions read at once;"
        " in one, Search and the lists, and the slices of a long listing, run side by side)"
    )
    print(f"  isoaudit's own CPU     {full_cpu:.2f} s")
    print("isoaudit, re-run with nothing new")
    print(f"  jobs fetched           {rerun_new}")
    print(
        f"  API calls              {rerun_calls} in all, of which {rerun_collection_calls} per-account work"
    )
    print(
        f"  calls / account-region {rerun_per_account_region:.2f}  (organization discovery excluded: {rerun_calls - rerun_collection_calls} calls once per run)"
    )
    print(f"  wall                   {rerun_wall:.2f} s")
    print("isoaudit, periodic full listing with nothing new")
    print(f"  jobs listed / fetched  {relisting_listed} / {relisting_fetched}")
    print(f"  API calls              {relisting_calls} ({relisting_calls / jobs:.4f} per job)")
    print("prices (Price List API GetProducts)")
    print(
        f"  calls                  {pricing_calls[0]} on the first run, {pricing_calls[1]} on the next (fresh)"
    )
    print("common scanners (sequential list + describe + list tags per job)")
    print(f"  API calls              {naive_calls}  ({naive_calls / jobs:.2f} per job)")
    print(
        f"  wall                   {naive_wall:.0f} s  (measured {sample_calls} calls in {sample_wall:.1f} s, scaled)"
    )
    print(
        f"  naive / isoaudit       wall x{naive_wall / full_wall:.0f}, calls x{naive_calls / full_calls:.0f}"
    )
    print(
        json.dumps(
            {
                "calls_per_job_full": round(calls_per_job, 4),
                "calls_per_account_region_rerun": round(rerun_per_account_region, 2),
                "wall_over_bound": round(full_wall / full_bound, 2),
                "naive_over_isoaudit_wall": round(naive_wall / full_wall, 1),
                "naive_over_isoaudit_calls": round(naive_calls / full_calls, 1),
                "pricing_calls_first_run": pricing_calls[0],
                "pricing_calls_fresh_run": pricing_calls[1],
            }
        )
    )


if __name__ == "__main__":
    main()
