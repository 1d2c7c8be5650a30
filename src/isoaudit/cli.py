"""The `isoaudit` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from isoaudit.config import AuditConfig, ConfigError, load_config
from isoaudit.doctor_command import add_doctor_command, doctor_command
from isoaudit.errors import BrokenEnvironment
from isoaudit.guardrail_files import GUARDRAILS
from isoaudit.lake_command import add_lake_command
from isoaudit.prefect_server import TemporaryServer
from isoaudit.run_command import add_run_commands, demo_command, percent, run_command

EXIT_CONFIG = 2  # bad input: a field, a flag, a variable
EXIT_ENVIRONMENT = 3  # broken environment: credentials, bucket, catalog, lock, folder
EXIT_AWS = 1
EXIT_QUERY = 1

DESCRIPTION = """\
isoaudit tells an AWS Organization, every week, how many SageMaker jobs ran without network isolation
(EnableNetworkIsolation false or absent: the container can reach the internet, even inside a VPC),
who launched them, and how fast each team fixes them.

  isoaudit demo    run the whole weekly audit on an embedded AWS Organization (no AWS account needed)
  isoaudit run     audit your Organization (from its management or delegated-admin account)
  isoaudit doctor  check every prerequisite of a run (credentials, roles, bucket, catalog, alerts, email)
  isoaudit guardrails   the audit role, the auditor's policy, the SCP, the detection templates and the
                        SDK defaults in infra/; which accounts the SCP covers
  isoaudit query   ask the local copy of the lake (reports/lake) in SQL, with the Athena views
  isoaudit lake check [--repair]   name the lake files that are not Parquet; move them aside

Exit codes: 0 done, 2 bad input (the line names the field), 3 broken environment (the line names the
resource and what to do), 1 other failures.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isoaudit", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_commands(commands)

    guardrails = commands.add_parser(
        "guardrails",
        help="the audit role, auditor policy, SCP, detection templates, SDK defaults; SCP coverage",
        description="Without options, list the deployable guardrails in infra/. With --print, print one. "
        "With --config or --endpoint-url, read the service control policies in effect through AWS "
        "Organizations (with the management account's credentials) and report, per account, whether one "
        "denies creating SageMaker jobs without network isolation, requests omitting the flag included.",
    )
    guardrails.add_argument("--print", choices=sorted(GUARDRAILS), help="print this file")
    guardrails.add_argument("--config", type=Path, help="TOML configuration file (home region, endpoint)")
    guardrails.add_argument(
        "--endpoint-url", help="AWS-compatible endpoint for every service (an emulator); omit for AWS"
    )
    guardrails.add_argument("--json", action="store_true", help="print the coverage as one JSON document")
    guardrails.add_argument("-v", "--verbose", action="store_true", help="show AWS client logs")

    add_doctor_command(commands)

    query = commands.add_parser(
        "query",
        help="ask the local copy of the lake in SQL (no AWS needed)",
        description="Answer a SQL query with DuckDB over the local copy of the lake that every run leaves "
        "in <reports>/lake: each table (jobs, job_facts, episodes, weekly_kpis, coverage, accounts) and "
        "each view published to Athena (team_scorecard, org_trend, violations, ...) can be queried by name. "
        "The SQL is Athena's, translated for DuckDB by sqlglot, so a query tried here runs in Athena too "
        "(a few functions differ at the edges, e.g. date_diff counts boundaries in DuckDB; --dialect duckdb "
        "takes DuckDB's SQL as it is). "
        "Example: isoaudit query \"SELECT * FROM team_scorecard WHERE week = '2026-W47'\"",
    )
    query.add_argument("sql", nargs="?", help="one SQL statement (quote it)")
    query.add_argument("--list", action="store_true", help="list the tables and views with their columns")
    query.add_argument(
        "--lake", type=Path, help="folder of the lake copy (default: <reports_dir>/lake, i.e. reports/lake)"
    )
    query.add_argument("--config", type=Path, help="TOML configuration file (for reports_dir)")
    query.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format (default table)"
    )
    query.add_argument(
        "--dialect",
        choices=("athena", "duckdb"),
        default="athena",
        help="SQL dialect of the query (default athena: Athena/Trino SQL, translated to DuckDB)",
    )
    query.set_defaults(verbose=False)

    add_lake_command(commands)
    return parser


def main(argv: list[str] | None = None, launched: TemporaryServer | None = None) -> int:
    """The command line `argv`; `launched`: Prefect's server for a run, when the executable launched it."""
    args = build_parser().parse_args(argv)
    _configure_logging(verbose=args.verbose)
    try:
        if args.command == "run":
            return run_command(args, launched)
        if args.command == "guardrails":
            return _guardrails(args)
        if args.command == "query":
            return _query(args)
        if args.command == "doctor":
            return doctor_command(args)
        if args.command == "lake":
            from isoaudit.lake_command import lake_check

            return lake_check(args)
        return demo_command(args, launched)
    except ConfigError as exc:
        print(f"isoaudit: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenEnvironment as exc:
        print(f"isoaudit: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT


def _guardrails(args: argparse.Namespace) -> int:
    if args.print:
        path, _ = GUARDRAILS[args.print]
        print(path.read_text(), end="")
        return 0
    if args.config is None and args.endpoint_url is None:
        width = max(map(len, GUARDRAILS)) + 1
        for name, (path, what) in GUARDRAILS.items():
            print(f"{name:<{width}}{path}\n{'':<{width}}{what}")
        print("\nisoaudit guardrails --config isoaudit.toml: which accounts the SCP covers")
        return 0
    return _scp_coverage(args)


def _scp_coverage(args: argparse.Namespace) -> int:
    """Which ACTIVE member accounts an SCP in effect protects: one row each, then the share covered."""
    from isoaudit.aws import organizations
    from isoaudit.aws.session import default_session
    from isoaudit.errors import AUDIT_ERRORS, describe_failure
    from isoaudit.guardrails import read_preventive_coverage

    if args.config is not None:
        config = load_config(args.config, endpoint_url=args.endpoint_url)
        home_region, endpoint_url = config.home_region, config.endpoint_url
    else:
        home_region, endpoint_url = AuditConfig.model_fields["home_region"].default, args.endpoint_url
    aws = default_session(region=home_region, endpoint_url=endpoint_url)
    try:
        accounts = organizations.list_accounts(aws=aws)
        coverage = read_preventive_coverage(aws=aws, accounts=accounts)
    except AUDIT_ERRORS as exc:
        print(f"isoaudit: {describe_failure(exc, context='cannot read the Organization')}", file=sys.stderr)
        return EXIT_AWS
    ou_paths = {account.account_id: account.ou_path for account in accounts}
    rows = [
        {
            "account_id": row.account_id,
            "account_name": row.account_name,
            "ou_path": ou_paths[row.account_id],
            "covered": bool(row.covered),
            "policies": row.policies,
        }
        for row in coverage.itertuples()
    ]
    covered = sum(row["covered"] for row in rows)
    summary = {
        "covered": covered,
        "accounts": len(rows),
        "coverage": round(100 * covered / len(rows), 1) if rows else None,
    }
    if args.json:
        print(json.dumps({**summary, "rows": rows}, indent=2))
        return 0
    print("Member accounts where a service control policy denies SageMaker jobs without network isolation:")
    name_width = max((len(row["account_name"]) for row in rows), default=0)
    path_width = max((len(row["ou_path"]) for row in rows), default=0)
    for row in sorted(rows, key=lambda row: (row["covered"], row["account_id"])):
        status = "covered" if row["covered"] else "NOT covered"
        account = f"{row['account_id']}  {row['account_name']:<{name_width}}  {row['ou_path']:<{path_width}}"
        # Without coverage, `policies` names the SCPs that deny only part of the case (e.g. a Bool test).
        by = f"{'by' if row['covered'] else 'only partly by'} {row['policies']}" if row["policies"] else ""
        print(f"  {status:<12} {account}  {by}".rstrip())
    print(f"\npreventive coverage: {covered}/{len(rows)} accounts ({percent(summary['coverage'])})")
    return 0


def _query(args: argparse.Namespace) -> int:
    from isoaudit import local_lake

    if not args.list and not args.sql:
        print("isoaudit: query: give a SQL statement, or --list to see the tables and views", file=sys.stderr)
        return EXIT_CONFIG
    lake = args.lake
    if lake is None:
        reports = (
            load_config(args.config).reports_dir
            if args.config
            else AuditConfig.model_fields["reports_dir"].default
        )
        lake = reports / "lake"
    try:
        connection = local_lake.connect(lake)
        if args.list:
            listing = [
                "\n".join(
                    [f"{relation.name} ({relation.kind})"]
                    + [f"  {column:<28} {type_}" for column, type_ in relation.columns]
                )
                for relation in local_lake.relations(connection)
            ]
            print("\n\n".join(listing))
            return 0
        rows = local_lake.query(connection, args.sql, dialect=args.dialect)
    except local_lake.LocalLakeError as exc:
        print(f"isoaudit: {exc}", file=sys.stderr)
        return EXIT_QUERY
    print(local_lake.render(rows, output_format=args.format))
    return 0


def _configure_logging(*, verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # One line per task state is noise on a terminal; progress comes from the flow's own log lines.
        for noisy in ("prefect.task_runs", "botocore", "urllib3", "werkzeug", "prefect.server", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
