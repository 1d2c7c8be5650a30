"""The `isoaudit` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from isoaudit.config import ConfigError, load_config

EXIT_CONFIG = 2

DESCRIPTION = """\
isoaudit tells an AWS Organization, every week, how many SageMaker jobs ran without network isolation
(EnableNetworkIsolation false or absent: the container can reach the internet, even inside a VPC),
who launched them, and how fast each team fixes them.

  isoaudit demo    run the whole weekly audit on an embedded AWS Organization (no AWS account needed)
  isoaudit run     audit your Organization (from its management or delegated-admin account)
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file (see isoaudit.example.toml)")
    parser.add_argument("--week", help="ISO week to report, e.g. 2026-W47 (default: the last complete week)")
    parser.add_argument("--out", type=Path, help="folder for the workbook and the local copy of the lake")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Prefect's task-level logs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isoaudit", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="audit your AWS Organization",
        description="Audit every ACTIVE account of the Organization through its read-only audit role. "
        "Run with credentials of the management (or delegated administrator) account. Values given here "
        "override the config file, which overrides ISOAUDIT_* environment variables' defaults.",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(verbose=args.verbose)
    try:
        if args.command == "run":
            return _run(args)
        return _demo(args)
    except ConfigError as exc:
        print(f"isoaudit: {exc}", file=sys.stderr)
        return EXIT_CONFIG


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


def _run(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    load_config(args.config, **overrides)  # validate before Prefect or AWS is touched
    from flows.weekly_audit import weekly_audit

    result = weekly_audit(
        config_file=str(args.config) if args.config else None, week=args.week, overrides=overrides
    )
    _print(result, as_json=args.json)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from isoaudit.emulator.organization import build_organization, demo_spec
    from isoaudit.emulator.server import start_emulator

    # The emulator accepts any credentials; these are not secrets, and only this process sees them.
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ[name] = value
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    log = logging.getLogger("isoaudit.demo")
    with start_emulator(seed=args.seed) as emulator:
        spec = demo_spec(seed=args.seed, weeks=args.weeks)
        log.info("building the demo organization: %d accounts, %d jobs", len(spec.accounts), len(spec.jobs))
        built = build_organization(endpoint_url=emulator.url, spec=spec)
        overrides = {
            "bucket": built.bucket,
            "endpoint_url": emulator.url,
            "role_name": spec.audit_role_name,
            "reports_dir": str(args.out or Path("reports")),
        }
        load_config(args.config, **overrides)
        from flows.weekly_audit import weekly_audit

        log.info("running the weekly audit against the emulator at %s", emulator.url)
        result = weekly_audit(
            config_file=str(args.config) if args.config else None, week=args.week, overrides=overrides
        )
    _print(result, as_json=args.json)
    return 0


def _print(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    org = result["org"]
    print(f"\nisoaudit {result['period']['week']} ({result['period']['start']} to {result['period']['end']})")
    print(f"  jobs created          {org['jobs']}")
    production = _pct(org["production_isolation_rate"])
    print(f"  isolation rate        {_pct(org['isolation_rate'])} (production {production})")
    print(f"  violations            {org['violations']}")
    print(
        f"  MTTR                  {_hours(org['mttr_hours'])} mean, {_hours(org['median_ttr_hours'])} median,"
        f" {_hours(org['p90_ttr_hours'])} p90 over {org['episodes_closed']} closed episodes"
    )
    print(f"  open exposure         {org['episodes_open']} episodes")
    print(f"  audit coverage        {_pct(org['audit_coverage'])}")
    for gap in result["gaps"]:
        if gap.get("status", "failed") == "failed":
            print(f"  gap: {gap['account']} {gap['region']}: {gap['reason']}")
    print(f"\nworkbook: {result['workbook']}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} h"


def _configure_logging(*, verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # One line per task state is noise on a terminal; progress comes from the flow's own log lines.
        for noisy in ("prefect.task_runs", "botocore", "urllib3", "werkzeug", "prefect.server"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
