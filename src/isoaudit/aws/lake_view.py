"""A run's view of its lake: listed once under the run lock, kept current by the run's own writes.

A weekly run whose lake did not change should cost a few S3 calls, not one listing per read and write, two
reads of every file for the Parquet check, awswrangler's catalog calls on every write and a download of
every file for the local copy. The view holds what the run learns once:

- the tables' files (one listing of `<prefix>/`, with ETags and sizes), which the reads, the writes and the
  local copy use instead of listing again; a write replaces its table's files with the listing it makes
  after writing (see isoaudit.aws.lake_files);
- the lake's state as the last run left it, `<prefix>/_lake_state.json`: the fingerprints of the published
  definitions (views, tables and where they go) and of the tables' Glue entries, and the files known to be
  Parquet (key and ETag: checked by an earlier run, or written by isoaudit), so that only new files are
  checked;
- the tables that exist in Glue;
- frames read by this run, handed over once to the step that needs them next (discover reads the jobs and
  the coverage, store merges them: read once, held once).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from isoaudit.aws.lake_files import LakeObject
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.schema import TABLES

STATE_KEY = "_lake_state.json"
# After every code point: a StartAfter that skips a whole folder of the listing.
_PAST_FOLDER = "\U0010ffff"


@dataclass
class LakeView:
    bucket: str
    prefix: str  # without slashes at either end
    objects: dict[str, LakeObject]  # uri -> object, for the files in the tables' folders
    parquet: dict[str, str]  # uri -> ETag of each file known to be Parquet
    definitions: str | None  # what the last run published (isoaudit.aws.lake.definitions_fingerprint)
    tables: str | None  # what the last run declared in Glue (isoaudit.aws.lake.tables_fingerprint)
    glue_tables: frozenset[str] = frozenset()  # the tables Glue holds (set by the preflight)
    listed: bool = True  # False: only the state was read (`stored`), the files were not listed
    _stored: dict[str, Any] = field(default_factory=dict, repr=False)  # the state as read
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)  # a threading.Lock

    def folder(self, table: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{table}/"

    def files(self, table: str) -> list[LakeObject]:
        """The table's files, sorted by name (which starts with the time of the write)."""
        folder = self.folder(table)
        with self._lock:
            return sorted((found for uri, found in self.objects.items() if uri.startswith(folder)), key=_uri)

    def unchecked(self) -> list[LakeObject]:
        """Files not known to be Parquet: new since the last run, or replaced (another ETag)."""
        with self._lock:
            found = [found for uri, found in self.objects.items() if self.parquet.get(uri) != found.etag]
        return sorted(found, key=_uri)

    def known_parquet(self, objects: Iterable[LakeObject]) -> None:
        with self._lock:
            self.parquet.update({found.uri: found.etag for found in objects})

    def replace(self, table: str, listed: Iterable[LakeObject], *, written: Iterable[str]) -> None:
        """After a write: the table's files are `listed`, of which `written` are this run's own."""
        folder, listed, own = self.folder(table), list(listed), set(written)
        with self._lock:
            self.objects = {uri: found for uri, found in self.objects.items() if not uri.startswith(folder)}
            self.objects |= {found.uri: found for found in listed}
            self.parquet |= {found.uri: found.etag for found in listed if found.uri in own}
            self._frames.pop(table, None)

    def keep(self, table: str, frame: pd.DataFrame) -> None:
        """Hold a frame read from the table until its next reader takes it."""
        with self._lock:
            self._frames[table] = frame

    def take(self, table: str) -> pd.DataFrame | None:
        with self._lock:
            return self._frames.pop(table, None)

    def state(self, *, definitions: str | None, tables: str | None) -> dict[str, Any]:
        """The state to leave for the next run: only files still in the lake are remembered."""
        if not self.listed:
            return {**self._stored, "definitions": definitions, "tables": tables}
        with self._lock:
            parquet = {
                found.key: found.etag
                for uri, found in sorted(self.objects.items())
                if self.parquet.get(uri) == found.etag
            }
        return {"definitions": definitions, "tables": tables, "parquet": parquet}


def survey(*, aws: AwsSession, config: AuditConfig) -> LakeView:
    """The tables' files (one listing, or a few for a large lake) and the state the last run left."""
    s3 = aws.client("s3")
    prefix = config.prefix.strip("/")
    stored = _read_state(s3, bucket=config.bucket, key=f"{prefix}/{STATE_KEY}")
    objects = {found.uri: found for found in _table_files(s3, bucket=config.bucket, prefix=prefix)}
    parquet = {f"s3://{config.bucket}/{key}": etag for key, etag in (stored.get("parquet") or {}).items()}
    return LakeView(
        bucket=config.bucket,
        prefix=prefix,
        objects=objects,
        parquet=parquet,
        definitions=stored.get("definitions"),
        tables=stored.get("tables"),
        _stored=stored,
    )


def stored(*, aws: AwsSession, config: AuditConfig) -> LakeView:
    """The state the last run left, without listing the files (one GET)."""
    prefix = config.prefix.strip("/")
    state = _read_state(aws.client("s3"), bucket=config.bucket, key=f"{prefix}/{STATE_KEY}")
    return LakeView(
        bucket=config.bucket,
        prefix=prefix,
        objects={},
        parquet={},
        definitions=state.get("definitions"),
        tables=state.get("tables"),
        listed=False,
        _stored=state,
    )


def save(*, aws: AwsSession, config: AuditConfig, view: LakeView, definitions: str, tables: str) -> None:
    """Leave the state for the next run; nothing is written when it is the state this run found."""
    state = view.state(definitions=definitions, tables=tables)
    if state == view._stored:
        return
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_id} if config.kms_key_id else {}
    aws.client("s3").put_object(
        Bucket=config.bucket,
        Key=f"{view.prefix}/{STATE_KEY}",
        Body=json.dumps(state, sort_keys=True).encode(),
        ContentType="application/json",
        **extra,
    )
    view._stored = state


def _read_state(s3: Any, *, bucket: str, key: str) -> dict[str, Any]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return {}
        raise
    try:
        state = json.loads(body)
    except ValueError:  # not a state isoaudit wrote: as if there were none (every file is checked)
        return {}
    return state if isinstance(state, dict) else {}


def _table_files(s3: Any, *, bucket: str, prefix: str) -> list[LakeObject]:
    """The files under `<prefix>/<table>/` for every table. One listing of `<prefix>/`; a page that ends
    in another folder (the report archive grows every week) is followed by a jump past that folder."""
    folders = tuple(f"{prefix}/{table}/" for table in TABLES)
    found: list[LakeObject] = []
    start = ""
    while True:
        after = {"StartAfter": start} if start else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", **after)
        contents = page.get("Contents", [])
        for item in contents:
            if item["Key"].startswith(folders):
                found.append(LakeObject.listed(bucket, item))
        if not page.get("IsTruncated") or not contents:
            return found
        start = contents[-1]["Key"]
        folder = start.removeprefix(f"{prefix}/").split("/", 1)
        if len(folder) == 2 and f"{prefix}/{folder[0]}/" not in folders:
            start = f"{prefix}/{folder[0]}/{_PAST_FOLDER}"


def _uri(found: LakeObject) -> str:
    return found.uri
