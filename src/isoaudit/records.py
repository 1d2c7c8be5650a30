"""Turn SageMaker's records (Search or Describe, any job kind) into rows of the JOBS schema."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from isoaudit.aws.organizations import Account
from isoaudit.job_kinds import JobKind
from isoaudit.schema import ACCOUNTS, JOBS, conform, empty_frame


def usable_records(
    records: Iterable[dict[str, Any]], *, kind: JobKind
) -> tuple[list[dict[str, Any]], list[str]]:
    """The records that can become rows, and a note naming each one that cannot (no ARN, name or creation
    time): such a record is left out and reported, never guessed at, and never ends the run."""
    usable, left_out = [], []
    for record in records:
        missing = [
            key
            for key, wanted in ((kind.arn_key, str), (kind.name_key, str), ("CreationTime", datetime))
            if not isinstance(record.get(key), wanted) or not record.get(key)
        ]
        if missing:
            who = record.get(kind.name_key) or record.get(kind.arn_key) or "(unnamed)"
            left_out.append(f"{kind.name} job {str(who)[:100]} (no {', '.join(missing)})")
        else:
            usable.append(record)
    return usable, left_out


def job_rows(
    records: Iterable[dict[str, Any]], *, kind: JobKind, account_id: str, region: str, seen_at: datetime
) -> pd.DataFrame:
    """One JOBS row per record; `seen_at` is this audit's time (first and last seen)."""
    rows = []
    for record in records:
        rows.append(
            {
                "job_arn": record[kind.arn_key],
                "job_kind": kind.name,
                "account_id": account_id,
                "region": region,
                "job_name": record[kind.name_key],
                "failure_reason": record.get("FailureReason") or "",
                "creation_time": record.get("CreationTime"),
                "last_modified_time": record.get("LastModifiedTime"),
                "tags_json": json.dumps(
                    {tag["Key"]: tag["Value"] for tag in record.get("Tags") or []}, sort_keys=True
                ),
                "first_seen": seen_at,
                "last_seen": seen_at,
                "listed": True,
                **kind.fields(record),
            }
        )
    if not rows:
        return empty_frame(JOBS)
    frame = pd.DataFrame(rows)
    for column in (
        "creation_time",
        "start_time",
        "end_time",
        "last_modified_time",
        "first_seen",
        "last_seen",
    ):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return conform(frame, JOBS)


def accounts_frame(accounts: Sequence[Account]) -> pd.DataFrame:
    if not accounts:
        return empty_frame(ACCOUNTS)
    rows = [
        {
            "account_id": account.account_id,
            "account_name": account.name,
            "account_status": account.status,
            "ou_path": account.ou_path,
            "tags_json": json.dumps(account.tags, sort_keys=True),
        }
        for account in accounts
    ]
    return conform(pd.DataFrame(rows), ACCOUNTS)
