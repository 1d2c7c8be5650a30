"""Prefect's temporary API server, started by `isoaudit run` as a child that dies with it.

Without PREFECT_API_URL, Prefect starts a temporary server (a uvicorn subprocess) for the run and stops
it when the run exits normally; a run killed with SIGKILL left it running forever. Here it is started
before the flow, the same way Prefect does (Prefect then reuses this instance: it is a per-process
singleton), except that the child asks Linux to kill it when its parent dies (PR_SET_PDEATHSIG).
Elsewhere than on Linux, Prefect's own behaviour is kept.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1


def start_tied_server() -> None:
    """Start Prefect's temporary server now, as a child killed when this process dies; nothing to do when
    a Prefect API is configured (PREFECT_API_URL) or on another system than Linux."""
    from prefect.server.api import server
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if (
        PREFECT_API_URL.value()
        or not PREFECT_SERVER_EPHEMERAL_ENABLED
        or not sys.platform.startswith("linux")
    ):
        return

    class _TiedServer(server.SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect builds the command; only the child's set-up before exec is added. The CLI calls this
            # from its main thread before any work starts, so no other process is spawned meanwhile.
            original = server.subprocess.Popen
            server.subprocess.Popen = functools.partial(  # type: ignore[misc]
                original, preexec_fn=_die_with(os.getpid())
            )
            try:
                return super()._run_uvicorn_command()
            finally:
                server.subprocess.Popen = original  # type: ignore[misc]

    _TiedServer().start()


def _die_with(parent: int) -> Callable[[], None]:
    # Loaded here, in the parent: between fork and exec the child should do as little as possible.
    libc = ctypes.CDLL(None, use_errno=True)

    def in_child() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return in_child
