"""The Parquet files of the lake's folders, as S3 lists them: which are versions of the same month, which a
write supersedes (isoaudit.aws.lake deletes those), which already hold the rows a write would put there
(a file's name carries a digest of its rows), and how they are read (one GET each)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from isoaudit.aws.session import AwsSession

PARTITION_COLUMN = "creation_month"


@dataclass(frozen=True)
class LakeObject:
    uri: str
    last_modified: datetime
    etag: str = ""
    size: int = 0

    @classmethod
    def listed(cls, bucket: str, item: dict[str, Any]) -> LakeObject:
        """From one entry of a ListObjectsV2 page."""
        return cls(f"s3://{bucket}/{item['Key']}", item["LastModified"], item["ETag"], item["Size"])

    @property
    def key(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[2]

    @property
    def folder(self) -> str:
        return self.uri.rsplit("/", 1)[0]

    @property
    def order(self) -> tuple[datetime, str]:
        """The order of writes, the same for every writer that lists the folder (the file name breaks
        ties: it starts with the time of its write)."""
        return self.last_modified, self.uri.rsplit("/", 1)[-1]


def objects_under(aws: AwsSession, path: str) -> list[LakeObject]:
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    found = []
    for page in aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found.append(LakeObject.listed(bucket, item))
    return found


def months_with_copies(objects: Sequence[LakeObject]) -> set[str]:
    """Months whose folder holds more than one file: a write is one file a month, so two are two versions
    (an interrupted write, or runs that wrote at the same time)."""
    months = Counter(_month_of(found.uri) for found in objects if found.uri.endswith(".parquet"))
    return {month for month, files in months.items() if month is not None and files > 1}


def months_of(objects: Sequence[LakeObject]) -> set[str]:
    """The months whose folders hold files."""
    return {month for found in objects if (month := _month_of(found.uri)) is not None}


def superseded(
    objects: Sequence[LakeObject], *, written: Iterable[str], months: set[str] | None
) -> list[str]:
    """The files this write replaces (of `months` only, when given): in each folder it wrote, every file
    but the latest; in another folder, the files written before its first one.

    Listed after writing, not before: of two writers at once, the one that lists last sees both files
    and keeps only the latest, and neither ever deletes the latest: whatever the interleaving, each
    folder ends with exactly one file (never none, never two). The latest may be the other writer's.
    """
    own = set(written)
    in_scope = [found for found in objects if months is None or _month_of(found.uri) in months]
    latest: dict[str, LakeObject] = {}
    for found in in_scope:
        if found.folder not in latest or found.order > latest[found.folder].order:
            latest[found.folder] = found
    mine = [found for found in in_scope if found.uri in own]
    if not mine:
        return []
    wrote = {found.folder for found in mine}
    first = min(found.order for found in mine)
    return [
        found.uri
        for found in in_scope
        if (found.folder in wrote and found is not latest[found.folder])
        or (found.folder not in wrote and found.order < first)
    ]


@dataclass(frozen=True)
class Part:
    """The rows of one file to write: a creation month's, or the whole table's."""

    month: str | None
    frame: pd.DataFrame
    digest: str


def parts_of(
    frame: pd.DataFrame,
    *,
    key: Sequence[str],
    partitioned: bool,
    months: set[str] | None,
    current: Sequence[LakeObject],
) -> list[Part]:
    """The files a write of `frame` makes: one, or one per month (of `months` and of the months holding
    copies, when given; `frame` then has the partition column)."""
    if not partitioned:
        return [] if frame.empty else [Part(None, frame, _digest(frame, key))]
    if months is not None:
        frame = frame[frame[PARTITION_COLUMN].isin(set(months) | months_with_copies(current))]
    return [
        Part(str(month), rows, _digest(rows.drop(columns=PARTITION_COLUMN), key))
        for month, rows in frame.groupby(PARTITION_COLUMN, sort=True)
    ]


def _digest(frame: pd.DataFrame, key: Sequence[str]) -> str:
    """Of the rows (in key order), their values and types: equal frames, equal digests."""
    rows = frame.sort_values(list(key), kind="stable")
    content = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    content.update(json.dumps([[name, str(dtype)] for name, dtype in rows.dtypes.items()]).encode())
    return content.hexdigest()[:DIGEST_LENGTH]


DIGEST_LENGTH = 16
# `<time of the write>-<digest of the rows>-<awswrangler's unique part>.snappy.parquet`
_WRITTEN = re.compile(rf"^\d{{8}}T\d{{12}}Z-([0-9a-f]{{{DIGEST_LENGTH}}})-")


def unchanged(part: Part, *, path: str, current: Sequence[LakeObject]) -> bool:
    """Whether the part's folder (under the table's `path`) holds exactly one file, and that file holds the
    part's rows."""
    folder = f"{path}{PARTITION_COLUMN}={part.month}" if part.month else path.rstrip("/")
    there = [found for found in current if found.folder == folder]
    if len(there) != 1:
        return False
    named = _WRITTEN.match(there[0].uri.rsplit("/", 1)[-1])
    return named is not None and named.group(1) == part.digest


def read_files(aws: AwsSession, uris: Sequence[str]) -> pa.Table:
    """The Parquet files, one GET each, side by side, as one table (in the order given)."""
    s3 = aws.client("s3", pool=READERS)

    def read(uri: str) -> pa.Table:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return pq.read_table(pa.BufferReader(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        tables = list(pool.map(read, uris))
    # Files written before a column existed lack it: the column is null there.
    return pa.concat_tables(tables, promote_options="permissive")


READERS = 16


def _month_of(uri: str) -> str | None:
    marker = f"/{PARTITION_COLUMN}="
    return uri.split(marker, 1)[1].split("/", 1)[0] if marker in uri else None
