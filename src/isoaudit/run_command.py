"""`isoaudit run` and `isoaudit demo`: the weekly flow, on an Organization or on the embedded emulator.

The flow (flows/weekly_audit.py) is the application built on this library: it registers itself under the
`isoaudit.flows` entry point (pyproject.toml), and these commands look it up there, so that the library
never imports the application.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from isoaudit import prefect_server, progress
from isoaudit.config import ConfigError, load_config
from isoaudit.garbage_collector import loading_code
from isoaudit.job_kinds import run_kinds

FLOW_GROUP = "isoaudit.flows"


def weekly_flow() -> Callable[..., dict[str, Any]]:
    """The weekly audit flow, as registered under the `isoaudit.flows` entry point."""
    found = entry_points(group=FLOW_GROUP, name="weekly_audit")
    if not found:
        raise ConfigError(
            "the weekly_audit flow is not installed (entry point isoaudit.flows): reinstall isoaudit "
            "(pip install -e .)"
        )
    return next(iter(found)).load()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file (see isoaudit.example.toml)")
    parser.add_argument("--week", help="ISO week to report, e.g. 2026-W47 (default: the last complete week)")
    parser.add_argument("--out", type=Path, help="folder for the workbook and the local copy of the lake")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Prefect's task-level logs")
    parser.add_argument(
        "--resend", action="store_true", help="email the week's report again, even to those who have it"
    )


def add_run_commands(commands: Any) -> None:
    """The `run` and `demo` subcommands of the `isoaudit` parser."""
    run = commands.add_parser(
        "run",
        help="audit your AWS Organization",
        description="Audit every ACTIVE account of the Organization through its read-only audit role. "
        "Run with credentials of the management (or delegated administrator) account. Values given here "
        "override ISOAUDIT_* environment variables, which override the config file.",
    )
    _common(run)
    run.add_argument("--bucket", help="S3 bucket of the Parquet lake (required, here or in the config)")
    run.add_argument("--role-name", help="audit role assumed in each account (default IsoAuditReadOnly)")
    run.add_argument("--external-id", help="external ID required by the audit role's trust policy")
    run.add_argument(
        "--regions", help="comma-separated regions to audit (default: every region enabled in each account)"
    )
    run.add_argument(
        "--endpoint-url", help="AWS-compatible endpoint for every service (an emulator); omit for AWS"
    )

    demo = commands.add_parser(
        "demo",
        help="run the weekly audit on an embedded AWS Organization",
        description="Start a local AWS emulator (moto) on 127.0.0.1, build an Organization in it (accounts, "
        "OUs, tags, audit roles, months of training jobs), and run the same weekly audit as production "
        "against it. Leaves the workbook and a copy of the Parquet lake in --out (default reports/).",
    )
    _common(demo)
    demo.add_argument("--seed", type=int, default=7, help="seed of the demo data (same seed, same data)")
    demo.add_argument("--weeks", type=int, default=16, help="weeks of job history in the demo (default 16)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    regions = getattr(args, "regions", None)
    return {
        key: value
        for key, value in {
            "bucket": getattr(args, "bucket", None),
            "role_name": getattr(args, "role_name", None),
            "external_id": getattr(args, "external_id", None),
            "endpoint_url": getattr(args, "endpoint_url", None),
            "regions": [region.strip() for region in regions.split(",") if region.strip()]
            if regions
            else None,
            "reports_dir": str(args.out) if args.out else None,
        }.items()
        if value is not None
    }


def run_command(args: argparse.Namespace, launched: prefect_server.TemporaryServer | None = None) -> int:
    """`isoaudit run`; `launched`: Prefect's server, when the executable launched it (isoaudit.executable)."""
    overrides = _overrides(args)
    _valid_week(args.week)
    config = load_config(args.config, **overrides)  # validate before Prefect or AWS is touched
    # Prefect's server serves from now: its seconds of start-up overlap the imports, the checks and the lock.
    with prefect_server.started_early(launched) as server:
        with loading_code():
            from isoaudit import audit
            from isoaudit.aws import preflight, run_lock

        aws = audit.management_session(config)
        preflight.check(aws=aws, config=config)  # before anything is written
        run = audit.start_run(week=args.week)
        # The lock is taken here, so that a second run fails in a second, before the flow starts, and so is
        # the lake's survey (a file that is not Parquet is found here too); the flow, given both, runs under
        # the lock.
        with run_lock.held(aws=aws, config=config, run_id=run.run_id):
            lake_files = preflight.survey_lake(aws=aws, config=config)  # still before anything is written
            result = _weekly_run(
                args,
                server,
                week=run.audit_week,
                overrides=overrides,
                run_id=run.run_id,
                lake_files=lake_files,
            )
    _print(result, as_json=args.json)
    return 0


def _weekly_run(
    args: argparse.Namespace, server: prefect_server.TemporaryServer | None, **arguments: Any
) -> dict[str, Any]:
    """The weekly flow, on Prefect's API (`server` when the CLI started it), with progress on the terminal."""
    with loading_code():
        weekly_audit = weekly_flow()
    reporter = progress.for_terminal(as_json=args.json, interactive=sys.stdout.isatty())
    with prefect_server.serving(server), progress.reporting(reporter):
        return weekly_audit(
            config_file=str(args.config) if args.config else None, resend=args.resend, **arguments
        )


def _valid_week(week: str | None) -> None:
    if week is not None:
        from isoaudit.metrics.weeks import week_start  # pandas: loaded only when there is a week to check

        try:
            week_start(week)
        except ValueError as exc:
            raise ConfigError(f"--week: {exc}") from None


def demo_command(args: argparse.Namespace, launched: prefect_server.TemporaryServer | None = None) -> int:
    _valid_week(args.week)
    # The emulator accepts any credentials; these are not secrets, and only this process sees them.
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ[name] = value
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    with prefect_server.started_early(launched) as server:
        from isoaudit.emulator.server import start_emulator

        with start_emulator(seed=args.seed) as emulator:
            overrides = _demo_organization(args, endpoint_url=emulator.url)
            logging.getLogger("isoaudit.demo").info(
                "running the weekly audit against the emulator at %s", emulator.url
            )
            result = _weekly_run(args, server, week=args.week, overrides=overrides)
    _print(result, as_json=args.json)
    return 0


def _demo_organization(args: argparse.Namespace, *, endpoint_url: str) -> dict[str, Any]:
    """Build the demo's Organization in the emulator; the run's configuration overrides that reach it."""
    from isoaudit.emulator.demo import demo_spec
    from isoaudit.emulator.mail import demo_email, verify_sender
    from isoaudit.emulator.organization import build_organization

    spec = demo_spec(seed=args.seed, weeks=args.weeks)
    log = logging.getLogger("isoaudit.demo")
    log.info("building the demo organization: %d accounts, %d jobs", len(spec.accounts), len(spec.jobs))
    built = build_organization(endpoint_url=endpoint_url, spec=spec)
    # FinOps and every team lead receive the report through the emulator's SES.
    email = demo_email(spec)
    verify_sender(endpoint_url=endpoint_url, sender=email["sender"])
    overrides = {
        "bucket": built.bucket,
        "endpoint_url": endpoint_url,
        "role_name": spec.audit_role_name,
        "reports_dir": str(args.out or Path("reports")),
        "email": email,
    }
    load_config(args.config, **overrides)
    return overrides


def _print(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    org = result["org"]
    print(f"\nisoaudit {result['period']['week']} ({result['period']['start']} to {result['period']['end']})")
    kinds = " + ".join(run_kinds())
    print(f"  jobs created          {org['jobs']} ({kinds}; a tuning job: its training jobs)")
    production = percent(org["production_isolation_rate"])
    print(f"  isolation rate        {percent(org['isolation_rate'])} (production {production})")
    print(f"  violations            {org['violations']}")
    print(
        f"  MTTR                  {_hours(org['mttr_hours'])} mean, {_hours(org['median_ttr_hours'])} median,"
        f" {_hours(org['p90_ttr_hours'])} p90 over {org['episodes_closed']} closed episodes"
    )
    print(f"  open exposure         {org['episodes_open']} episodes ({org['episodes_dormant']} dormant)")
    print(
        f"  spend (list price)    {_usd(org['spend_usd'])}, exposed {_usd(org['exposed_spend_usd'])}"
        f" ({percent(org['isolated_spend_share'])} isolated; {org['unpriced_jobs']} jobs unpriced)"
    )
    print(f"  preventive coverage   {percent(org['preventive_coverage'])} of member accounts under the SCP")
    print(f"  audit coverage        {percent(org['audit_coverage'])}")
    for gap in result["gap_groups"]:
        name = gap["account_name"] or ""
        print(f"  not audited: {gap['account']} {name} ({gap['where']}): {gap['reason']}")
    print(f"\nworkbook: {result['workbook']} (archived at {result['archive']['workbook']})")
    print(f"executive page: {result['page']}")
    for sent in result["emails"]:
        where = f", saved as {sent['outbox']}" if sent.get("outbox") else ""
        why = f": {sent['reason']}" if sent.get("reason") else ""
        print(f"email to {sent['audience']}: {sent['status']}{why}{where}")


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} h"
