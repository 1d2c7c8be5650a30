"""Why failed jobs failed: the cost side of network isolation.

FAILURE_PATTERNS is the one place that decides. The first pattern that matches a failure reason wins, so
the order is part of the definition:

1. missing_dependency first. Inside an isolated container `pip install foo` fails with network errors
   (NewConnectionError, name resolution) followed by "No matching distribution found for foo". The
   network is blocked by design; the finding is that the image lacks `foo`, and the fix is the same as
   for an ImportError: put the package in the image (or a private mirror). The same holds for conda
   (CondaHTTPError is only raised while fetching packages).
2. credentials_unavailable before network_blocked: with isolation the container gets no AWS credentials;
   botocore may log timeouts to the metadata endpoint before raising NoCredentialsError, and the missing
   credentials are the cause.
3. network_blocked before data_access: a connection that never opened is a network cause even when the
   target was S3; data_access is an S3 answer (AccessDenied, NoSuchBucket) that did arrive.
4. other: everything else, including empty reasons.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

FAILURE_CLASSES = ("missing_dependency", "network_blocked", "credentials_unavailable", "data_access", "other")

_S3_OPERATIONS = r"(?:\w*Object\w*|CreateMultipartUpload|UploadPart\w*|ListBuckets?|HeadBucket|GetBucket\w*)"

FAILURE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("missing_dependency", r"ModuleNotFoundError"),
    ("missing_dependency", r"No module named"),
    ("missing_dependency", r"\bImportError\b"),
    ("missing_dependency", r"Could not find a version that satisfies the requirement"),
    ("missing_dependency", r"No matching distribution found"),
    ("missing_dependency", r"Could not install packages"),
    ("missing_dependency", r"PackagesNotFoundError"),
    ("missing_dependency", r"ResolvePackageNotFound"),
    ("missing_dependency", r"CondaHTTPError"),
    ("credentials_unavailable", r"NoCredentialsError"),
    ("credentials_unavailable", r"Unable to locate credentials"),
    ("network_blocked", r"Could not resolve host"),
    ("network_blocked", r"Name or service not known"),
    ("network_blocked", r"Temporary failure in name resolution"),
    ("network_blocked", r"Connection timed out"),
    ("network_blocked", r"Connection refused"),
    ("network_blocked", r"Network is unreachable"),
    ("network_blocked", r"Max retries exceeded with url"),
    ("network_blocked", r"NewConnectionError"),
    ("network_blocked", r"Failed to establish a new connection"),
    ("network_blocked", r"ConnectTimeoutError|Connect timeout on endpoint URL"),
    ("network_blocked", r"Could not connect to the endpoint URL"),
    ("data_access", rf"\((?:AccessDenied|403)\) when calling the {_S3_OPERATIONS} operation"),
    ("data_access", r"NoSuchBucket"),
    ("data_access", r"AccessDenied \(403\)"),
    ("data_access", r"Access Denied.*\bs3\b|\bs3\b.*Access Denied"),
)

_COMPILED = tuple(
    (cause, re.compile(pattern, re.IGNORECASE | re.DOTALL)) for cause, pattern in FAILURE_PATTERNS
)


def classify_failure(reason: str) -> str:
    """Class of one failure reason (see the module docstring for the order)."""
    for cause, pattern in _COMPILED:
        if pattern.search(reason or ""):
            return cause
    return "other"


def classify_failures(reasons: pd.Series, *, failed: np.ndarray) -> pd.Categorical:
    """Class of each failed row's reason, "" for rows that did not fail; each distinct reason is read once."""
    categories = ["", *FAILURE_CLASSES]
    found, distinct = pd.factorize(reasons[failed])  # a missing reason has code -1: the last entry
    classes = [*(classify_failure(str(reason)) for reason in distinct), classify_failure("")]
    result = np.zeros(len(reasons), dtype=np.int8)
    result[failed] = np.array([categories.index(cause) for cause in classes], dtype=np.int8)[found]
    return pd.Categorical.from_codes(result, categories=categories)
