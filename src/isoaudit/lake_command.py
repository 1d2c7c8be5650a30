"""`isoaudit lake check [--repair]`: the lake's files that are not Parquet, named, and moved aside."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from isoaudit.config import load_config
from isoaudit.errors import AUDIT_ERRORS, BrokenEnvironment, describe_failure


def add_lake_command(commands: Any) -> None:
    """The `lake` sub-command, on the command line's sub-parsers."""
    lake = commands.add_parser(
        "lake",
        help="check the lake's files; move aside those that are not Parquet",
        description="`isoaudit lake check` lists the files in the lake's table folders that are not Parquet "
        "(every read of their table would fail). With --repair, each is moved to <prefix>/_quarantine/ "
        "(kept, outside every table), under the lake's run lock. No row of a readable file is ever dropped.",
    )
    lake.add_argument("action", choices=("check",), help="check")
    lake.add_argument("--repair", action="store_true", help="move the files that are not Parquet aside")
    lake.add_argument("--config", type=Path, help="TOML configuration file (bucket, prefix)")
    lake.add_argument("--bucket", help="S3 bucket of the lake")
    lake.add_argument("--endpoint-url", help="AWS-compatible endpoint (an emulator); omit for AWS")
    lake.set_defaults(verbose=False, out=None)


def lake_check(args: argparse.Namespace) -> int:
    """Name the files that are not Parquet (exit 3 while any remains); with --repair, move them aside."""
    # Imported here: `isoaudit --help` need not load pandas and awswrangler.
    from isoaudit import audit
    from isoaudit.aws import run_lock
    from isoaudit.aws.lake_check import move_aside, not_parquet

    config = load_config(args.config, bucket=args.bucket, endpoint_url=args.endpoint_url)
    aws = audit.management_session(config)
    try:
        bad = not_parquet(aws=aws, config=config)
    except AUDIT_ERRORS as exc:
        raise BrokenEnvironment(describe_failure(exc, context=f"cannot list {config.lake_uri}")) from None
    if not bad:
        print(f"every file of the lake {config.lake_uri} is Parquet")
        return 0
    for uri in bad:
        print(f"not Parquet: {uri}")
    if not args.repair:
        raise BrokenEnvironment(
            f"{len(bad)} lake file(s) not Parquet: run `isoaudit lake check --repair` to move them aside"
        )
    with run_lock.held(aws=aws, config=config, run_id=audit.new_run_id(datetime.now(UTC))):
        for source, target in move_aside(aws=aws, config=config, uris=bad):
            print(f"moved {source} to {target}")
    return 0
