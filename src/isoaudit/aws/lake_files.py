"""The Parquet files of the lake's folders, as S3 lists them: which are versions of the same month, and
which a write supersedes (isoaudit.aws.lake deletes those)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def _month_of(uri: str) -> str | None:
    marker = f"/{PARTITION_COLUMN}="
    return uri.split(marker, 1)[1].split("/", 1)[0] if marker in uri else None
