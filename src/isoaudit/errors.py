"""The one error policy for reading AWS: a failure becomes a coverage row, never only a log line.

Unread is not compliant: an account-region whose read failed is a gap the report shows by name and reason.
"""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

# Errors that end the audit of one account-region and are recorded as its coverage gap. Anything else is
# a bug in isoaudit and must stop the run loudly.
AUDIT_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

# Defence in depth: an AWS error message should never carry a credential, but if one ever did, it would
# otherwise travel into the report, the logs and the Parquet lake.
_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
_LONG_SECRET = re.compile(r"[A-Za-z0-9/+=]{40,}")


def describe_failure(exc: Exception, *, context: str = "") -> str:
    """A one-line, credential-free reason for the coverage table."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{exc.operation_name}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    else:
        text = f"{type(exc).__name__}: {exc}"
    if context:
        text = f"{context}: {text}"
    return redact(text)


def redact(text: str) -> str:
    return _LONG_SECRET.sub("[redacted]", _ACCESS_KEY.sub("[redacted]", text))
