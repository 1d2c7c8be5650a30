"""awswrangler's endpoints, confined: it reads them from its global configuration, not from the session it
is given, so they are set only around the calls that need them and put back after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import awswrangler as wr

from isoaudit.aws.session import AwsSession

SERVICES = ("s3", "glue", "athena", "sts")
_state = threading.Condition()
_users = 0
_endpoint: str | None = None
_saved: dict[str, str | None] = {}


@contextmanager
def endpoints(aws: AwsSession) -> Iterator[None]:
    """awswrangler calls inside use `aws`'s endpoint (None: AWS's own). Calls for the same endpoint run side
    by side (the lake's reads are concurrent); one for another endpoint waits until they are done."""
    global _users, _endpoint
    with _state:
        _state.wait_for(lambda: _users == 0 or _endpoint == aws.endpoint_url)
        if _users == 0:
            _saved.update({service: getattr(wr.config, f"{service}_endpoint_url") for service in SERVICES})
            for service in SERVICES:
                setattr(wr.config, f"{service}_endpoint_url", aws.endpoint_url)
            _endpoint = aws.endpoint_url
        _users += 1
    try:
        yield
    finally:
        with _state:
            _users -= 1
            if _users == 0:
                for service, value in _saved.items():
                    setattr(wr.config, f"{service}_endpoint_url", value)
                _endpoint = None
                _state.notify_all()
