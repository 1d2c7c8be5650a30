"""Benchmark tool: where the seconds of one `isoaudit run` go, on the small organization of versus_c7n.py.

One `isoaudit run` (the same arguments as bench/versus_c7n.py) in a process of its own, whose steps print
the time since the process was started: imports, the configuration, Prefect's temporary server (launched,
waited for), the checks and the lake's survey, each step of the flow, the end. The emulator adds the first
AWS call; with `--http`, every request to Prefect's API is shown too. `--deployed`: with a Prefect server
already running (PREFECT_API_URL), as a deployment's worker has.

    .venv/bin/python bench/timeline.py [--deployed] [--http]

The steps are timed by wrapping functions when their module is first imported, so the imports happen in
their real order; the wrapped names are this file's STEPS.
"""

from __future__ import annotations

import importlib.abc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = {
    "isoaudit.config": ("load_config",),
    "isoaudit.prefect_server": (
        "TemporaryServer._launch",
        "TemporaryServer.serve",
        "TemporaryServer._wait_ready",
        "TemporaryServer.stop",
    ),
    "isoaudit.run_command": ("weekly_flow", "_weekly_run"),
    "isoaudit.aws.preflight": ("check", "survey_lake"),
    "isoaudit.audit": ("discover", "preventive", "store", "price", "analyse", "publish", "alert"),
    "flows.weekly_audit": ("_collect_accounts", "deliver", "_publish_artifacts"),
}


def main() -> None:
    import scale
    from versus_c7n import last_week_stored, prefect_api

    deployed, http = "--deployed" in sys.argv, "--http" in sys.argv
    folder = Path(tempfile.mkdtemp(prefix="isoaudit-timeline-"))
    emulator = scale.EmulatorProcess(scale.serve_small_org)
    built = emulator.built
    try:
        last_week_stored(emulator, folder)
        environment = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
        environment["TIMELINE_HTTP"] = "1" if http else ""
        command = [
            sys.executable, __file__, "--child", "run", "--bucket", built.bucket, "--endpoint-url", emulator.url,
            "--role-name", built.spec.audit_role_name, "--regions", ",".join(scale.SMALL_REGIONS),
            "--out", str(folder / "reports"), "--json",
        ]  # fmt: skip
        with prefect_api() if deployed else _nothing() as api_url:
            if api_url:
                environment["PREFECT_API_URL"] = api_url
            emulator.call("reset_counts")
            environment["TIMELINE_START"] = repr(time.time())
            started = float(environment["TIMELINE_START"])
            finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
            ended = time.time() - started
        first_call = emulator.call("first_request_at") - started
        calls = emulator.call("counts")["requests"]
    finally:
        emulator.stop()
    lines = [line[3:] for line in finished.stderr.splitlines() if line.startswith("TL ")]
    lines.append(f"{first_call:7.3f} first AWS call (emulator)")
    lines.append(f"{ended:7.3f} process exit (code {finished.returncode}), {calls} AWS calls")
    print(f"isoaudit run ({'deployment' if deployed else 'CLI'}), seconds since the process started:")
    print("\n".join(sorted(lines, key=lambda line: float(line.split()[0]))))


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def child() -> None:
    """Inside the timed process: wrap the steps as their modules load, then run the command line."""
    start = float(os.environ["TIMELINE_START"])

    def mark(what: str) -> None:
        print(f"TL {time.time() - start:7.3f} {what}", file=sys.stderr, flush=True)

    def timed(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            mark(f"{label} starts")
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{label} ends")

        setattr(owner, name, wrapper)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> object:
            if name not in STEPS:
                return None
            for finder in sys.meta_path:
                spec = finder.find_spec(name, path, target) if finder is not self else None
                if spec is not None:
                    load = spec.loader.exec_module

                    def exec_module(module: object, load=load, name=name) -> None:
                        mark(f"import {name} starts")
                        load(module)
                        for step in STEPS[name]:
                            owner, _, attribute = step.rpartition(".")
                            timed(getattr(module, owner) if owner else module, attribute, step)
                        mark(f"import {name} ends")

                    spec.loader.exec_module = exec_module
                    return spec
            return None

    mark("interpreter ready")
    sys.meta_path.insert(0, Finder())
    if os.environ.get("TIMELINE_HTTP"):
        import httpx

        send = httpx.Client.send

        def logged(client: httpx.Client, request: httpx.Request, **kwargs: object) -> httpx.Response:
            began = time.time()
            try:
                return send(client, request, **kwargs)
            finally:
                mark(
                    f"  Prefect API {request.method} {request.url.path} {1000 * (time.time() - began):.0f} ms"
                )

        httpx.Client.send = logged
    from isoaudit import executable

    code = executable.run(sys.argv[2:])
    mark("main returns")
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child()
    else:
        main()
