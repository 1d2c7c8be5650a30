"""Turn SageMaker's records (Search or Describe, any job kind) into rows of the JOBS schema."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from isoaudit.aws.organizations import Account
from isoaudit.job_kinds import NO_COMPUTE, JobKind
from isoaudit.schema import ACCOUNTS, JOBS, conform, empty_frame

_NO_JOBS = empty_frame(JOBS)


def no_jobs() -> pd.DataFrame:
    """An empty JOBS frame. Most account-regions of a re-run have no job to store, and building an empty
    frame from the schema takes a millisecond of CPU, several times an account-region: one is built once
    and shared (a shallow copy: pandas copies on write)."""
    return _NO_JOBS.copy(deep=False)


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


def job_row(
    record: dict[str, Any], *, kind: JobKind, account_id: str, region: str, seen_at: datetime
) -> dict[str, Any]:
    return {
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
        **NO_COMPUTE,
        **kind.fields(record),
    }


def job_rows(
    records: Iterable[dict[str, Any]], *, kind: JobKind, account_id: str, region: str, seen_at: datetime
) -> pd.DataFrame:
    """One JOBS row per record; `seen_at` is this audit's time (first and last seen)."""
    rows = [
        job_row(record, kind=kind, account_id=account_id, region=region, seen_at=seen_at)
        for record in records
    ]
    return _to_frame(_rows_table(rows)) if rows else no_jobs()


class Kept(NamedTuple):
    """What a long listing keeps of a record while it reads on: whether it became a row (its page's
    rows are kept as a small table, see `RowKeeper`), else the note that leaves it out; and the tuning
    job that launched it."""

    row: bool
    note: str
    tuning_job_arn: str


_A_ROW = Kept(row=True, note="", tuning_job_arn="")


# A long listing's rows are gathered into blocks of PAGES_PER_BLOCK pages as they arrive, allocated by the
# system's allocator: thousands of 100-row tables, in Arrow's default pool (mimalloc, which keeps what is
# freed), cost twice their data. Measured on 100,000 jobs: +99 MB while reading before, +50 MB now.
_ROWS_POOL = pa.system_memory_pool()
PAGES_PER_BLOCK = 64


class RowKeeper:
    """Turns each page of records into rows as it arrives, kept as Arrow tables (a few hundred bytes a job
    instead of the record's kilobytes, and no pandas frame per page), so that 462,178 records are never held
    at once and their rows become one frame with a single copy."""

    def __init__(self, *, kind: JobKind, account_id: str, region: str, seen_at: datetime) -> None:
        self._where = {"kind": kind, "account_id": account_id, "region": region, "seen_at": seen_at}
        self.kind = kind
        self._blocks: list[pa.Table] = []  # pages gathered, PAGES_PER_BLOCK each
        self._pages: list[pa.Table] = []  # pages not gathered yet
        self._lock = threading.Lock()  # the slices of a listing keep their pages from several threads

    def __call__(self, records: list[dict[str, Any]]) -> list[Kept]:
        kept, rows = [], []
        for record in records:
            _, left_out = usable_records([record], kind=self.kind)
            tuning = record.get("TuningJobArn") or ""
            if not left_out and not tuning:
                kept.append(_A_ROW)  # the common case, one object for all
            else:
                kept.append(Kept(not left_out, left_out[0] if left_out else "", tuning))
            if not left_out:
                rows.append(job_row(record, **self._where))
        if rows:
            page = _rows_table(rows)
            with self._lock:
                self._pages.append(page)
                if len(self._pages) >= PAGES_PER_BLOCK:
                    pages, self._pages = self._pages, []
                    self._blocks.append(pa.concat_tables(pages).combine_chunks(memory_pool=_ROWS_POOL))
        return kept

    def frame(self, kept: Iterable[Kept]) -> tuple[pd.DataFrame | None, list[str]]:
        """The JOBS rows of every page kept (each job once, its last record; None when no page was kept),
        and the notes of the records left out."""
        notes = [item.note for item in kept if not item.row]
        with self._lock:
            tables, self._blocks, self._pages = [*self._blocks, *self._pages], [], []
        if not tables:
            return None, notes
        table = _each_job_once(pa.concat_tables(tables))  # the blocks' buffers, not copied
        del tables
        return _to_frame(table), notes


def _each_job_once(table: pa.Table) -> pa.Table:
    """Each job's last row. Slices of a listing share their edges, so a few jobs are read twice; only rows
    sharing a creation time can be one job, and only their ARNs are compared (every ARN of a 462,178-job
    region as Python text took 150 MB at the collector's peak). Only the blocks holding a row read twice
    are copied: the frame shares the blocks' text, and filtering the whole table copied it (239 MB more)."""
    created = pd.Series(table.column("creation_time").to_numpy())
    candidates = np.flatnonzero(created.duplicated(keep=False).to_numpy())
    del created
    arns = table.column("job_arn").take(pa.array(candidates)).to_numpy(zero_copy_only=False)
    twice = candidates[pd.Series(arns, dtype=object).duplicated(keep="last").to_numpy()]
    if not len(twice):
        return table
    keep = np.ones(table.num_rows, dtype=bool)
    keep[twice] = False
    batches, start = [], 0
    for batch in table.to_batches():
        kept = keep[start : start + batch.num_rows]
        start += batch.num_rows
        batches.append(batch if kept.all() else batch.filter(pa.array(kept)))
    return pa.Table.from_batches(batches, schema=table.schema)


def _rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (`job_row`'s) as JOBS types them, straight into Arrow: no pandas frame on the way."""
    return pa.Table.from_pylist(rows, schema=JOBS)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    # As `conform` converts: pandas metadata ignored, so every frame gets the same dtypes.
    return table.to_pandas(ignore_metadata=True, memory_pool=_ROWS_POOL)


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
