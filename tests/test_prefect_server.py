"""The temporary Prefect server of `isoaudit run`: the services it runs, as the server itself reports them."""

from __future__ import annotations

import httpx
import pytest

from isoaudit import prefect_server

pytestmark = pytest.mark.prefect


def test_the_temporary_server_runs_no_automations_or_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PREFECT_API_URL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    with prefect_server.started_early() as server:
        assert server is not None
        with prefect_server.serving(server):
            settings = httpx.get(f"{server.api_url}/admin/settings", timeout=30).json()
    assert settings["server"]["analytics_enabled"] is False
    assert settings["server"]["services"]["triggers"]["enabled"] is False  # automations and their actions
    # What the run needs stays on: its task runs and events are recorded in Prefect's database.
    assert settings["server"]["services"]["task_run_recorder"]["enabled"] is True
    assert settings["server"]["services"]["event_persister"]["enabled"] is True
