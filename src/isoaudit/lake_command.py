"""`isoaudit lake check [--repair]`: the lake's files that are not Parquet, named, and moved aside."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from isoaudit import audit
from isoaudit.audit import new_run_id
from isoaudit.aws import run_lock
from isoaudit.aws.lake_check import move_aside, not_parquet
from isoaudit.cli import EXIT_ENVIRONMENT
from isoaudit.config import load_config
from isoaudit.errors import AUDIT_ERRORS, BrokenEnvironment, describe_failure


def lake_check(args: argparse.Namespace) -> int:
    """`isoaudit lake check [--repair]`: name the files that are not Parquet; move them aside."""
    config = load_config(args.config, bucket=args.bucket, endpoint_url=args.endpoint_url)
    aws = audit.management_session(config)
    try:
        bad = not_parquet(aws=aws, config=config)
    except AUDIT_ERRORS as exc:
        raise BrokenEnvironment(describe_failure(exc, context=f"cannot list {config.lake_uri}")) from None
    for uri in bad:
        print(f"not Parquet: {uri}")
    if not bad:
        print(f"every file of the lake {config.lake_uri} is Parquet")
        return 0
    if not args.repair:
        print("run again with --repair to move them aside (to the lake's _quarantine folder)")
        return EXIT_ENVIRONMENT
    run_id = new_run_id(datetime.now(UTC))
    with run_lock.held(aws=aws, config=config, run_id=run_id):
        for source, target in move_aside(aws=aws, config=config, uris=bad):
            print(f"moved {source} to {target}")
    return 0
