"""Prefect's API for one `isoaudit run`: a temporary server started first, tied to this process's life.

Without PREFECT_API_URL, Prefect starts a temporary server (a uvicorn subprocess) when the flow starts, and
the flow waits for it: 3-9 s here, most of a small organization's run, spent after every import and AWS
check. The `isoaudit` executable launches the same server (Prefect's own command and environment) before
it imports anything else, so that loading the server's code overlaps the command's imports, the
validation of its input, the preflight checks and the run lock; the server opens its port and database
only once the input is valid (isoaudit.prefect_server_process), and the flow is pointed at it. The child
also asks Linux to stop it when this process dies (PR_SET_PDEATHSIG, with SIGTERM): Prefect's own temporary
server outlived a run killed with SIGKILL.

At the end of a run the server is asked to stop (SIGTERM) and not waited for: by then the run's logs and
events have reached it, and its shutdown (a fifth of a second: writing the last events into its database,
stopping its services) happens after the command has printed its result and returned.

When a Prefect API is configured (environment or profile), or elsewhere than on Linux, nothing is started
and Prefect's own behaviour is kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from isoaudit.garbage_collector import loading_code
from isoaudit.prefect_server_process import SERVE

_PR_SET_PDEATHSIG = 1
# What Prefect's SubprocessASGIServer sets for its temporary server: no UI, no background services.
_SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
# Off unless the environment says otherwise, because a server that lives for one run has no use for them:
# - automations (triggers and their actions): they react to events over time, on a lasting server; here
#   their start (reading the automations, building a second API app for the actions' client) competed with
#   the run's first requests: 0.9 of 1.9 s of the server's CPU for them, measured on a busy machine;
# - telemetry: a security audit does not report to Prefect's analytics, and offline its failure was an
#   ERROR line in every run's output.
_SERVER_DEFAULTS = {
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
_STARTUP_FAILURE = 3  # uvicorn's exit code when its port is taken or its app fails to start


class TemporaryServer:
    """Prefect's temporary API server, started at once; `serving()` waits for it and points Prefect at it."""

    def __init__(self, errors: IO[bytes]) -> None:
        self._errors = errors  # the server's stderr, for the one line of a failure
        self._process, self.port = self._launch()

    def serve(self) -> None:
        """Let the server open its port and database (the run's input is valid); once is enough."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # it ended already: `_wait_ready` says why
                self._process.stdin.write(f"{SERVE}\n".encode())
                self._process.stdin.close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
            temporary_settings,
        )

        if PREFECT_API_URL.value():  # a profile names a Prefect API: Prefect uses it, this one is not needed
            self.stop()
            yield
            return
        _load_what_the_flow_call_loads()
        self._wait_ready(timeout=PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        # No heartbeats: they tell a lasting server that a run's process died, and this server dies with it.
        # Prefect's flow engine sleeps between heartbeats in steps of a second and waits for the step to end
        # when the flow returns: up to a second of every run.
        updates = {PREFECT_API_URL: self.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        with temporary_settings(updates=updates):
            try:
                yield
            finally:
                _send_pending()

    def stop(self) -> None:
        """Ask the server to stop; it finishes on its own (see the module's docstring). Told this before it
        was let serve, it ends having written nothing."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        if self._process.poll() is None:
            self._process.terminate()
        self._errors.close()

    def _launch(self) -> tuple[subprocess.Popen[bytes], int]:
        port = _free_port()
        command = [
            sys.executable, "-m", "isoaudit.prefect_server_process", "--app-dir", _site_packages(),
            "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        # The command is Prefect's own (SubprocessASGIServer's uvicorn and arguments), with this interpreter
        # and its app loaded with fewer garbage collections (isoaudit.prefect_server_process): no outside
        # input.
        process = subprocess.Popen(  # noqa: S603
            command,
            env={**_SERVER_DEFAULTS, **os.environ, **_SERVER_ENVIRONMENT},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            preexec_fn=_die_with(os.getpid()),
        )
        return process, port

    def _wait_ready(self, *, timeout: float) -> None:
        import httpx  # Prefect's own client library, loaded with Prefect by now

        from isoaudit.errors import BrokenEnvironment  # botocore's parsers: not loaded before the launch

        deadline = time.monotonic() + timeout
        # One client for every poll: `httpx.get` builds a TLS context each time (20 ms of CPU), which at
        # this pace took half a core from the server's start on a busy machine.
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() == _STARTUP_FAILURE and "address already in use" in self._output():
                    self._process, self.port = self._launch()  # the port was taken after it was chosen
                    self.serve()
                elif self._process.poll() is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(0.02)
        raise BrokenEnvironment(self._failure(timeout))

    def _output(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")

    def _failure(self, timeout: float) -> str:
        code = self._process.poll()
        lines = self._output().strip().splitlines()
        # The exception's own line ("sqlite3.OperationalError: unable to open database file") says most.
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
        why = f"exited with code {code}" if code is not None else f"not ready after {timeout:g} s"
        detail = f" ({(errors or lines)[-1][:200]})" if lines else ""
        return (
            f"Prefect's temporary API server {why}{detail}: fix that, or set PREFECT_API_URL to a running "
            "Prefect server"
        )


# What Prefect imports when a flow is called (its graph visualisation, the encoder of the flow run's
# parameters): 0.1-0.2 s, spent after the wait for the server unless spent before it.
_LOADED_BY_A_FLOW_CALL = ("prefect.utilities.visualization", "fastapi.encoders")


def _load_what_the_flow_call_loads() -> None:
    with loading_code():
        for module in _LOADED_BY_A_FLOW_CALL:
            with contextlib.suppress(ImportError):  # another version of Prefect may not need it
                importlib.import_module(module)


def _send_pending() -> None:
    """Send the run's last logs and events to the server before it stops (Prefect sends them in the
    background, and would otherwise try at exit, when the server is gone)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5, at_exit=False)
    EventsWorker.drain_all(timeout=5, at_exit=False)


def launch() -> TemporaryServer | None:
    """Prefect's temporary server, launched now (serving once told to); None when Prefect is told to use an
    API (PREFECT_API_URL in the environment) or elsewhere than on Linux."""
    if os.environ.get("PREFECT_API_URL") or not sys.platform.startswith("linux"):
        return None
    return TemporaryServer(tempfile.TemporaryFile())


@contextlib.contextmanager
def started_early(launched: TemporaryServer | None) -> Iterator[TemporaryServer | None]:
    """The server the executable launched (`launched`), or one launched now; serving from now (the input is
    valid), stopped on leaving."""
    server = launched or launch()
    try:
        if server is not None:
            server.serve()
        yield server
    finally:
        if server is not None:
            server.stop()


def serving(server: TemporaryServer | None) -> contextlib.AbstractContextManager[None]:
    return server.serving() if server is not None else contextlib.nullcontext()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _site_packages() -> str:
    """The folder Prefect is installed in, found without importing Prefect (a second of this run's start)."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations, "prefect is a dependency of isoaudit"
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _die_with(parent: int) -> Callable[[], None]:
    # Loaded here, in the parent: between fork and exec the child should do as little as possible.
    libc = ctypes.CDLL(None, use_errno=True)

    def in_child() -> None:
        # SIGTERM: uvicorn's graceful stop, which also ends a server whose parent ended normally after
        # asking it to stop (a SIGKILL would cut the writing of the last events short).
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return in_child
