"""Files in the lake's table folders that are not Parquet: found, named, and moved aside on request.

One such file (a partial upload, a file copied there by hand) makes every read of its table fail, so every
later run would fail. isoaudit never deletes it nor skips its rows silently: `isoaudit lake check` names
it, and `--repair` moves it to `<prefix>/_quarantine/` (outside every table, kept for inspection).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.schema import TABLES

# Every Parquet file starts and ends with these four bytes.
_MAGIC = b"PAR1"
QUARANTINE = "_quarantine"


def not_parquet(*, aws: AwsSession, config: AuditConfig) -> list[str]:
    """The s3:// URIs of the files in the tables' folders that are not Parquet (sorted): every file read."""
    s3 = aws.client("s3", pool=16)
    prefix = config.prefix.strip("/")
    keys = [
        item["Key"]
        for table in TABLES
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=config.bucket, Prefix=f"{prefix}/{table}/"
        )
        for item in page.get("Contents", [])
    ]
    return not_parquet_among(aws=aws, bucket=config.bucket, keys=keys)


def not_parquet_among(*, aws: AwsSession, bucket: str, keys: Sequence[str]) -> list[str]:
    """The s3:// URIs of those of `keys` that are not Parquet (sorted): two small reads a file."""
    s3 = aws.client("s3", pool=16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        bad = [
            key
            for key, ok in zip(keys, pool.map(lambda key: _is_parquet(s3, bucket, key), keys), strict=True)
            if not ok
        ]
    return sorted(f"s3://{bucket}/{key}" for key in bad)


def _is_parquet(s3: Any, bucket: str, key: str) -> bool:
    if not key.endswith(".parquet"):
        return False
    try:
        head = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-3")["Body"].read()
        tail = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-4")["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # empty file
            return False
        raise
    return head == _MAGIC and tail == _MAGIC


def quarantine_uri(*, config: AuditConfig, uri: str) -> str:
    """Where `--repair` moves a file: same path under `<prefix>/_quarantine/`, no longer ending .parquet."""
    prefix = f"s3://{config.bucket}/{config.prefix.strip('/')}/"
    return f"{prefix}{QUARANTINE}/{uri.removeprefix(prefix)}.not-parquet"


def move_aside(*, aws: AwsSession, config: AuditConfig, uris: list[str]) -> list[tuple[str, str]]:
    """Move each file to its quarantine place (copied, then deleted); the (from, to) pairs."""
    s3 = aws.client("s3")
    moved = []
    for uri in uris:
        target = quarantine_uri(config=config, uri=uri)
        source_key = uri.removeprefix(f"s3://{config.bucket}/")
        target_key = target.removeprefix(f"s3://{config.bucket}/")
        s3.copy_object(
            Bucket=config.bucket, Key=target_key, CopySource={"Bucket": config.bucket, "Key": source_key}
        )
        s3.delete_object(Bucket=config.bucket, Key=source_key)
        moved.append((uri, target))
    return moved
