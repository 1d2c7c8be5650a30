"""The failure classifier on failure reasons as SageMaker reports them (tracebacks, pip, conda, botocore)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from isoaudit.metrics.failures import FAILURE_CLASSES, FAILURE_PATTERNS, classify_failure, classify_failures

TRACEBACK_IMPORT = """AlgorithmError: ExecuteUserScriptError:
ExitCode 1
ErrorMessage "Traceback (most recent call last):
  File "/opt/ml/code/train.py", line 3, in <module>
    import lightgbm
ModuleNotFoundError: No module named 'lightgbm'
"
Command "/opt/conda/bin/python3.10 train.py --epochs 10", exit code: 1"""

PIP_BEHIND_ISOLATION = """AlgorithmError: InstallRequirementsError:
ExitCode 1
ErrorMessage "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at \
0x7f3c2a1b9d50>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': \
/simple/xgboost/
ERROR: Could not find a version that satisfies the requirement xgboost==2.0.3 (from versions: none)
ERROR: No matching distribution found for xgboost==2.0.3"
Command "/opt/conda/bin/python3.10 -m pip install -r requirements.txt", exit code: 1"""

CONDA_MISSING = """PackagesNotFoundError: The following packages are not available from current channels:

  - rdkit=2023.09

Current channels:

  - https://repo.anaconda.com/pkgs/main/linux-64"""

REQUESTS_BLOCKED = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "requests.exceptions.ConnectionError: '
    "HTTPSConnectionPool(host='api.wandb.ai', port=443): Max retries exceeded with url: /graphql (Caused by "
    "NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f8>: Failed to establish a new "
    "connection: [Errno -3] Temporary failure in name resolution'))\""
)

NO_CREDENTIALS_AFTER_IMDS_TIMEOUT = """Traceback (most recent call last):
  File "/opt/ml/code/train.py", line 12, in <module>
    s3.download_file("my-bucket", "data/train.csv", "/tmp/train.csv")
botocore.exceptions.ConnectTimeoutError: Connect timeout on endpoint URL: \
"http://169.254.169.254/latest/api/token"
During handling of the above exception, another exception occurred:
botocore.exceptions.NoCredentialsError: Unable to locate credentials"""


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (TRACEBACK_IMPORT, "missing_dependency"),
        (
            "ImportError: cannot import name 'soft_unicode' from 'markupsafe' "
            "(/opt/conda/lib/python3.8/site-packages/markupsafe/__init__.py)",
            "missing_dependency",
        ),
        # pip reached for PyPI and the network said no: the finding is the missing package.
        (PIP_BEHIND_ISOLATION, "missing_dependency"),
        (CONDA_MISSING, "missing_dependency"),
        ("ResolvePackageNotFound: \n  - cudatoolkit=11.8", "missing_dependency"),
        (
            "CondaHTTPError: HTTP 000 CONNECTION FAILED for url "
            "<https://conda.anaconda.org/conda-forge/linux-64/current_repodata.json>",
            "missing_dependency",
        ),
        (REQUESTS_BLOCKED, "network_blocked"),
        (
            "fatal: unable to access 'https://github.com/acme/features.git/': "
            "Could not resolve host: github.com",
            "network_blocked",
        ),
        ("urllib.error.URLError: <urlopen error [Errno -2] Name or service not known>", "network_blocked"),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "network_blocked"),
        ("TimeoutError: [Errno 110] Connection timed out", "network_blocked"),
        (
            "botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "
            '"https://my-bucket.s3.eu-west-1.amazonaws.com/data/train.csv"',
            "network_blocked",
        ),
        (NO_CREDENTIALS_AFTER_IMDS_TIMEOUT, "credentials_unavailable"),
        ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", "credentials_unavailable"),
        (
            "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject "
            "operation: Access Denied",
            "data_access",
        ),
        (
            "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
            "data_access",
        ),
        (
            "botocore.errorfactory.NoSuchBucket: An error occurred (NoSuchBucket) when calling the "
            "ListObjectsV2 operation: The specified bucket does not exist",
            "data_access",
        ),
        ("An error occurred (403) when calling the HeadObject operation: Forbidden", "data_access"),
        (
            "ClientError: Data download failed:Failed to download data. AccessDenied (403): Access Denied "
            "s3://my-bucket/train/",
            "data_access",
        ),
        # Not S3: a KMS or IAM denial is not a data-access failure of the script.
        (
            "An error occurred (AccessDeniedException) when calling the Decrypt operation: not authorized",
            "other",
        ),
        (
            "AlgorithmError: ExecuteUserScriptError:\nRuntimeError: CUDA out of memory. Tried to allocate "
            "2.00 GiB",
            "other",
        ),
        (
            "CapacityError: Unable to provision requested ML compute capacity. "
            "Please retry using a different ML instance type.",
            "other",
        ),
        ("", "other"),
    ],
)
def test_classify_failure(reason: str, expected: str) -> None:
    assert classify_failure(reason) == expected


def test_the_pattern_table() -> None:
    classes = {cause for cause, _ in FAILURE_PATTERNS}
    assert classes == set(FAILURE_CLASSES) - {"other"}
    # The order is the definition: dependency patterns come first, network ones before S3 answers.
    order = list(dict.fromkeys(cause for cause, _ in FAILURE_PATTERNS))
    assert order == ["missing_dependency", "credentials_unavailable", "network_blocked", "data_access"]


def test_classify_failures_reads_failed_rows_only() -> None:
    reasons = pd.Series([TRACEBACK_IMPORT, TRACEBACK_IMPORT, "Connection refused", None, "ignored"])
    failed = np.array([True, True, True, True, False])
    classes = classify_failures(reasons, failed=failed)
    assert list(classes) == ["missing_dependency", "missing_dependency", "network_blocked", "other", ""]
