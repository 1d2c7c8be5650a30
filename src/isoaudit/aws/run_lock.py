"""The run lock: one run at a time writes a lake, taken with S3 conditional writes.

Two runs at once (a manual run during the Monday schedule) would each rewrite the tables from what they
read before the other wrote. The lock is one small JSON object beside the tables, created with
`If-None-Match: *` (S3 refuses it when the object exists), holding the run id, host, process, start and
expiry. A lock past its expiry (its run was killed) is taken over with `If-Match` on its ETag, so that of
two runs taking it over at once only one succeeds. The run that holds it deletes it when it ends.
moto 5.2 honours both conditions on PutObject as S3 does (tests/test_lake_integrity.py).
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
            release(aws=aws, config=config, run_id=run_id)


def acquire(*, aws: AwsSession, config: AuditConfig, run_id: str, now: datetime | None = None) -> bool:
    """Take the lock for `run_id`: True when taken now, False when `run_id` already held it."""
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
    if _put(s3, {**request, "IfNoneMatch": "*"}):
        return True
    current, etag = _read(s3, config)
    if current is None:  # released meanwhile
        if _put(s3, {**request, "IfNoneMatch": "*"}):
            return True
        current, etag = _read(s3, config)
    if current is not None and current.run_id == run_id:
        return False
    if current is not None and current.expiry > now:
        raise LakeLocked(_locked_message(config, current))
    if etag is not None and _put(s3, {**request, "IfMatch": etag}):
        return True
    current, _ = _read(s3, config)  # another run took the expired lock over first
    raise LakeLocked(_locked_message(config, current))


def release(*, aws: AwsSession, config: AuditConfig, run_id: str) -> None:
    """Delete the lock if `run_id` holds it (a lock taken over after expiry is the new holder's)."""
    s3 = aws.client("s3")
    current, _ = _read(s3, config)
    if current is not None and current.run_id == run_id:
        s3.delete_object(Bucket=config.bucket, Key=lock_key(config))


def _put(s3: Any, request: dict[str, Any]) -> bool:
    """Whether the conditional write succeeded (False: the condition did not hold)."""
    try:
        s3.put_object(**request, ContentType="application/json")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _CONFLICTS:
            return False
        raise
    return True


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
