"""`isoaudit doctor`: every prerequisite of a run checked before the first one, each with its fix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from isoaudit.config import load_config

EXIT_ENVIRONMENT = 3


def add_doctor_command(commands: Any) -> None:
    """The `doctor` sub-command, on the command line's sub-parsers."""
    doctor = commands.add_parser(
        "doctor",
        help="check every prerequisite of a run before the first one",
        description="Check, one by one, what a run needs and print ✓ or ✗ with the fix: the caller's "
        "identity and Organizations read access, AssumeRole into the audit role (in a sample of accounts; "
        "every account with --all), the bucket (a probe object written and deleted, with KMS when set), "
        "the Glue database, the Athena workgroup and its output location, the SNS topic, and the SES "
        "sender. Exit code 0 only when every check passes, 3 otherwise.",
    )
    doctor.add_argument("--config", type=Path, help="TOML configuration file (see isoaudit.example.toml)")
    doctor.add_argument("--bucket", help="S3 bucket of the Parquet lake (overrides the config)")
    doctor.add_argument(
        "--endpoint-url", help="AWS-compatible endpoint for every service (an emulator); omit for AWS"
    )
    doctor.add_argument("--all", action="store_true", help="try the audit role in every account")
    doctor.add_argument("-v", "--verbose", action="store_true", help="show AWS client logs")


def doctor_command(args: argparse.Namespace) -> int:
    """Every check, one line each; exit 3 when any fails."""
    from isoaudit import doctor

    config = load_config(args.config, bucket=args.bucket, endpoint_url=args.endpoint_url)
    checks = doctor.run_checks(config, every_account=args.all)
    for check in checks:
        print(doctor.render(check))
    failed = sum(not check.ok for check in checks)
    print(f"\n{len(checks) - failed} of {len(checks)} checks passed" + ("" if failed else ": ready to run"))
    return EXIT_ENVIRONMENT if failed else 0
