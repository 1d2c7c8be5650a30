"""Shared fixtures. Each fixture says who relies on it; keep them small."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch real AWS: dummy credentials, no profile, no global endpoint (which would bypass the
# emulator's per-client endpoint), no account override (it breaks assumed-role accounts in moto).
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    DO_NOT_TRACK="1",
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
)
for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
    os.environ.pop(variable, None)
# Prefect keeps its database here (ignored by git), and its temporary server needs time on a busy machine.
os.environ.setdefault("PREFECT_HOME", str(Path(__file__).resolve().parent.parent / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from isoaudit.emulator import Emulator, start_emulator  # noqa: E402


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One in-process AWS emulator for the whole session (moto's state is global to the process anyway).

    A test that builds an organization calls `emulator.reset()` first: one organization per reset. A test
    that changes `emulator.faults` puts it back before it ends.
    """
    with start_emulator(seed=7) as running:
        yield running


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real, temporary Prefect API for the session (starting it takes 10-20 s): flows run for real."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
