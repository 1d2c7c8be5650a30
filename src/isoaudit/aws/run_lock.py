"""The run lock: one run at a time writes a lake, taken with S3 conditional writes.

Two runs at once (a manual run during the Monday schedule) would each rewrite the tables from what they
read before the other wrote. The lock is one small JSON object beside the tables, created with
`If-None-Match: *` (S3 refuses it when the object exists), holding the run id, host, process, start and
expiry. A lock past its expiry (its run was killed) is taken over with `If-Match` on its ETag, so that of
two runs taking it over at once only one succeeds. The run that holds it deletes it when it ends, with
`If-Match` on the ETag of its own write (S3's conditional delete): a lock taken over meanwhile is left to
its new holder, in one call. moto 5.2 honours these conditions as S3 does (tests/test_lake_integrity.py).
The lock's write is the run's first in the bucket: a missing or unwritable bucket is reported there.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.errors import BrokenEnvironment

# Longer than any run; a run killed without releasing its lock blocks the next ones for at most this long.
LOCK_TTL = timedelta(hours=6)
# S3's answers when a conditional write finds the object (or its ETag) not as required.
_CONFLICTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})


class LakeLocked(BrokenEnvironment):
    """Another run holds the lake."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    pid: int
    started_at: str  # ISO 8601, UTC
    expires_at: str

    @property
    def expiry(self) -> datetime:
        moment = datetime.fromisoformat(self.expires_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_UNREADABLE = Holder(
    run_id="unknown", host="unknown", pid=0, started_at="", expires_at="1970-01-01T00:00:00+00:00"
)


def lock_key(config: AuditConfig) -> str:
    return f"{config.prefix.strip('/')}/_run.lock"


@contextmanager
def held(*, aws: AwsSession, config: AuditConfig, run_id: str, now: datetime | None = None) -> Iterator[None]:
    """Hold the lake's run lock while the block runs; LakeLocked when another live run holds it.

    Re-entrant for one run id: the command line takes the lock before Prefect starts (so a second run
    fails in a second, on one line), and the flow, given the same run id, finds it already its own.
    """
    owned = acquire(aws=aws, config=config, run_id=run_id, now=now)
    try:
        yield
    finally:
        if owned:
            release(aws=aws, config=config, run_id=run_id, etag=owned)


def acquire(*, aws: AwsSession, config: AuditConfig, run_id: str, now: datetime | None = None) -> str | None:
    """Take the lock for `run_id`: the ETag of the lock written when taken now, None when `run_id` already
    held it."""
    now = now or datetime.now(UTC)
    s3 = aws.client("s3")
    mine = Holder(
        run_id=run_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=now.isoformat(timespec="seconds"),
        expires_at=(now + LOCK_TTL).isoformat(timespec="seconds"),
    )
    body = json.dumps(asdict(mine)).encode()
    request: dict[str, Any] = {"Bucket": config.bucket, "Key": lock_key(config), "Body": body}
    if taken := _put(s3, {**request, "IfNoneMatch": "*"}):
        return taken
    current, etag = _read(s3, config)
    if current is None:  # released meanwhile
        if taken := _put(s3, {**request, "IfNoneMatch": "*"}):
            return taken
        current, etag = _read(s3, config)
    if current is not None and current.run_id == run_id:
        return None
    if current is not None and current.expiry > now:
        raise LakeLocked(_locked_message(config, current))
    if etag is not None and (taken := _put(s3, {**request, "IfMatch": etag})):
        return taken
    current, _ = _read(s3, config)  # another run took the expired lock over first
    raise LakeLocked(_locked_message(config, current))


def release(*, aws: AwsSession, config: AuditConfig, run_id: str, etag: str | None = None) -> None:
    """Delete the lock if `run_id` holds it (a lock taken over after expiry is the new holder's). With the
    `etag` of the lock `run_id` wrote: one conditional delete, which leaves a lock written since."""
    s3 = aws.client("s3")
    if etag is not None:
        try:
            s3.delete_object(Bucket=config.bucket, Key=lock_key(config), IfMatch=etag)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {*_CONFLICTS, "NoSuchKey", "404"}:
                raise
        return
    current, _ = _read(s3, config)
    if current is not None and current.run_id == run_id:
        s3.delete_object(Bucket=config.bucket, Key=lock_key(config))


def _put(s3: Any, request: dict[str, Any]) -> str | None:
    """The ETag written when the conditional write succeeded (None: the condition did not hold)."""
    bucket = request["Bucket"]
    try:
        return str(s3.put_object(**request, ContentType="application/json")["ETag"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in _CONFLICTS:
            return None
        if code in {"NoSuchBucket", "404"}:
            raise BrokenEnvironment(
                f"bucket {bucket} does not exist: create it (aws s3 mb s3://{bucket}) or set `bucket`"
            ) from None
        raise BrokenEnvironment(
            f"bucket {bucket} cannot be written ({code}): give the identity infra/auditor-policy.yaml"
        ) from None


def _read(s3: Any, config: AuditConfig) -> tuple[Holder | None, str | None]:
    try:
        answer = s3.get_object(Bucket=config.bucket, Key=lock_key(config))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None, None
        raise
    try:
        holder = Holder(**json.loads(answer["Body"].read()))
        holder.expiry  # noqa: B018  (parsed now: a lock whose expiry cannot be read is no lock)
    except (ValueError, TypeError):  # not a lock isoaudit wrote: treated as expired, taken over
        holder = _UNREADABLE
    return holder, answer["ETag"]


def _locked_message(config: AuditConfig, holder: Holder | None) -> str:
    where = f"s3://{config.bucket}/{lock_key(config)}"
    if holder is None:
        return f"the lake is locked by another run ({where}); try again in a minute"
    return (
        f"the lake is locked by run {holder.run_id} on {holder.host} (pid {holder.pid}) since "
        f"{holder.started_at}, until {holder.expires_at}: wait for it to end, or if that run is dead, "
        f"delete {where}"
    )
