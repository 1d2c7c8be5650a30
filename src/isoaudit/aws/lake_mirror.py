"""The local copy of the lake (reports/lake, which `isoaudit query` reads), kept in step with S3 file by file.

A run changes a few files of the lake; the copy downloads those only. Which file on disk is which S3 file is
kept beside them, in `_mirror.json` (relative path -> ETag): a file is downloaded again when its ETag or
its size differs from S3's, and a file S3 no longer holds is deleted.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from isoaudit.aws import lake_view
from isoaudit.aws.lake_files import LakeObject
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.schema import TABLES

INDEX = "_mirror.json"
DOWNLOADERS = 8


def mirror(
    *, aws: AwsSession, config: AuditConfig, destination: Path, lake: LakeView | None = None
) -> list[Path]:
    """Make `destination` hold every Parquet file of the lake's tables, in the table/partition layout;
    return the files downloaded. `lake`: the run's view, whose listing is current (else one listing)."""
    view = lake if lake is not None else lake_view.survey(aws=aws, config=config)
    prefix = f"s3://{view.bucket}/{view.prefix}/"
    wanted = {
        found.uri.removeprefix(prefix): found
        for table in TABLES
        for found in view.files(table)
        if found.uri.endswith(".parquet")
    }
    index_path = destination / INDEX
    index = _read_index(index_path)
    _remove_unwanted(destination, keep=set(wanted))
    missing = {
        relative: found
        for relative, found in wanted.items()
        if index.get(relative) != found.etag or not _same_size(destination / relative, found.size)
    }
    s3 = aws.client("s3", pool=DOWNLOADERS)

    def download(item: tuple[str, LakeObject]) -> Path:
        relative, found = item
        local = destination / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=view.bucket, Key=found.key)["Body"].read()
        local.write_bytes(body)
        return local

    with ThreadPoolExecutor(max_workers=DOWNLOADERS) as pool:
        copied = list(pool.map(download, sorted(missing.items())))
    destination.mkdir(parents=True, exist_ok=True)
    index_path.write_text(json.dumps({relative: found.etag for relative, found in sorted(wanted.items())}))
    return copied


def _read_index(path: Path) -> dict[str, str]:
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):  # no copy yet, or an index not written by isoaudit: download everything
        return {}
    return index if isinstance(index, dict) else {}


def _same_size(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _remove_unwanted(destination: Path, *, keep: set[str]) -> None:
    """Delete the files S3 no longer holds (the folder is isoaudit's alone), and folders left empty."""
    if not destination.is_dir():
        return
    for path in sorted(destination.rglob("*"), reverse=True):
        relative = path.relative_to(destination).as_posix()
        if path.is_file() and relative != INDEX and relative not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
