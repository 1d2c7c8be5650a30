"""The process of Prefect's temporary API server (isoaudit.prefect_server): `python -m uvicorn` with the
same arguments, its app loaded with fewer garbage collections, and served only once the run says so.

Loading Prefect's server (`prefect.server.api.server`, FastAPI, SQLAlchemy, pydantic's models) is most of
the server's 2.8 s of CPU before it answers, and a fifth of that was Python's cyclic garbage collector
traversing the objects being loaded (see isoaudit.garbage_collector). Run as
`python -m isoaudit.prefect_server_process <uvicorn's arguments>`.

The process is started with the `isoaudit` command, before its input is read, so that loading the app (the
seconds that matter) overlaps the command's own start. It serves (opens its port and database) only when
the line SERVE arrives on its stdin, sent once the input is valid; at the end of its stdin without it (bad
input, `--help`) it exits having written nothing.
"""

from __future__ import annotations

import sys

from isoaudit.garbage_collector import loading_code

SERVE = "serve"


def main() -> None:
    with loading_code():
        import uvicorn
        from prefect.server.api import server  # noqa: F401  (the app's module, which uvicorn loads next)
    if sys.stdin.readline().strip() != SERVE:
        return
    uvicorn.main()  # reads the arguments of this process, as `python -m uvicorn` does


if __name__ == "__main__":
    main()
