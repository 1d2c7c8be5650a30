"""The one error policy for reading AWS: a failure becomes a coverage row, never only a log line.

Unread is not compliant: an account-region whose read failed is a gap the report shows by name and reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError


class UnexpectedResponse(Exception):
    """An answer that is not the document the operation promises (e.g. a proxy's HTML page with 200 OK).

    botocore reads such a body as `{"message": ...}`: without this check it would pass for an empty page.
    """


class BrokenEnvironment(Exception):
    """Something outside isoaudit is not as a run needs it (credentials, bucket, catalog, lock, folder).

    The message is one line naming the resource and what to do; the command exits 3 before writing.
    """


# Errors of AWS's answers (refused, throttled beyond retries, unreadable, not the expected document): they
# end the audit of one account-region and are recorded as its coverage gap. A failure of any other kind
# inside one account (a bug, a record isoaudit cannot handle) still ends only that account: see
# `collect.audit_account`, the one place that decides.
AUDIT_ERRORS: tuple[type[Exception], ...] = (
    ClientError,
    BotoCoreError,
    ResponseParserError,
    UnexpectedResponse,
)


def expect(response: Mapping[str, Any], *keys: str, operation: str) -> Mapping[str, Any]:
    """`response`, once it is shown to hold every key the operation always returns."""
    missing = [key for key in keys if key not in response]
    if missing:
        found = sorted(key for key in response if key != "ResponseMetadata")
        holds = f"it holds only {', '.join(found)}" if found else "it holds nothing"
        raise UnexpectedResponse(
            f"{operation}: unexpected answer without {', '.join(missing)} ({holds}): a proxy or endpoint in "
            "the way?"
        )
    return response


# Defence in depth: an AWS error message should never carry a credential, but if one ever did, it would
# otherwise travel into the report, the logs and the Parquet lake.
_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
_LONG_SECRET = re.compile(r"[A-Za-z0-9/+=]{40,}")


def describe_failure(exc: Exception, *, context: str = "") -> str:
    """A one-line, credential-free reason for the coverage table."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{exc.operation_name}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    elif isinstance(exc, UnexpectedResponse):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    if context:
        text = f"{context}: {text}"
    # An unreadable answer can quote a whole page: one line, and short enough for a report cell.
    return redact(" ".join(text.split())[:_MAX_REASON])


_MAX_REASON = 300


def redact(text: str) -> str:
    return _LONG_SECRET.sub("[redacted]", _ACCESS_KEY.sub("[redacted]", text))
