"""The `isoaudit` executable (pyproject's console script): Prefect's server launched first, then the command.

A run (`isoaudit run`, `isoaudit demo`) needs Prefect's temporary API server, whose start (loading
Prefect's server code: seconds of CPU) was the longest wait of a small organization's run. It is launched
here, before the command's own imports (0.7 s: pydantic-settings, botocore, rich, pandas), and serves only
once the run's input is valid (isoaudit.prefect_server); a command that ends before (bad input, `--help`)
stops it having written nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from isoaudit import prefect_server

RUN_COMMANDS = frozenset({"run", "demo"})
HELP = frozenset({"-h", "--help"})


def run(arguments: list[str]) -> int:
    """The command line `arguments` (isoaudit.cli.main), Prefect's server launched first for a run."""
    starts_a_run = bool(arguments) and arguments[0] in RUN_COMMANDS and not HELP & set(arguments)
    launched = prefect_server.launch() if starts_a_run else None
    try:
        from isoaudit.cli import main  # after the launch: the command's imports overlap the server's

        return main(arguments, launched)
    finally:
        if launched is not None:
            launched.stop()


def command_line() -> NoReturn:
    """`run`, then an exit without the interpreter's teardown.

    Freeing a run's objects one by one (pandas, Arrow, Prefect, botocore) took 0.7-1.2 s after the last line
    was printed. By then every file, lock and server of the run is closed by its context manager; the logs
    and the output are flushed here. An unexpected exception still ends the usual way, with its traceback.
    """
    code = run(sys.argv[1:])
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    command_line()
