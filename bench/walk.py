"""How one walk of the facts goes through the metrics: the isoaudit.metrics modules `kpi_tables` and
`report_from_tables` (what audit.analyse runs) enter, in order, how often the walk comes back to a module it
had already left, and how often it goes back to isoaudit.metrics.columns to encode (codes, micros) or
decode (from_micros) a column.

    .venv/bin/python bench/walk.py /work/coord/before-10/demo     # the demo's stored lake, saved by equality.py
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from isoaudit.config import load_config
from isoaudit.metrics.report import kpi_tables, report_from_tables

RUN_AT = pd.Timestamp("2026-11-18T10:00:00Z")
WEEK = "2026-W46"
ENCODERS = ("codes", "micros", "from_micros")
# Modules that hold definitions and array helpers, not a stage of the line.
HELPERS = {"columns", "weeks", "predicates", "measures", "failures"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path, help="a folder with jobs.pkl, accounts.pkl, coverage.pkl")
    args = parser.parse_args()
    jobs, accounts, coverage = (
        pd.read_pickle(args.snapshot / f"{name}.pkl") for name in ("jobs", "accounts", "coverage")
    )
    config = load_config(bucket="isoaudit-walk")
    visited: list[str] = []
    encodings: Counter[str] = Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("isoaudit.metrics"):
            return
        if module == "isoaudit.metrics.columns" and frame.f_code.co_name in ENCODERS:
            encodings[frame.f_code.co_name] += 1
        if not visited or visited[-1] != module:
            visited.append(module)

    sys.setprofile(trace)
    try:
        tables = kpi_tables(
            jobs=jobs, accounts=accounts, coverage=coverage, config=config, week=WEEK, generated_at=RUN_AT
        )
        report_from_tables(
            tables,
            accounts=accounts,
            coverage=coverage,
            preventive=None,
            config=config,
            week=WEEK,
            generated_at=RUN_AT,
        )
    finally:
        sys.setprofile(None)
    returns = sum(1 for at, module in enumerate(visited) if module in visited[:at])
    first_visits = list(dict.fromkeys(visited))
    print(
        "modules entered, in first-visit order:",
        " -> ".join(name.rsplit(".", 1)[-1] for name in first_visits),
    )
    print(f"module transitions: {len(visited) - 1}, returns to a module already left: {returns}")
    stages = [name.rsplit(".", 1)[-1] for name in visited if name.rsplit(".", 1)[-1] not in HELPERS]
    stages = [name for at, name in enumerate(stages) if not at or stages[at - 1] != name]
    stage_returns = sum(1 for at, name in enumerate(stages) if name in stages[:at])
    print(f"stages walked ({len(stages)}, {stage_returns} returns): {' -> '.join(stages)}")
    print(f"calls to columns: {dict(encodings)} ({sum(encodings.values())} in all)")


if __name__ == "__main__":
    main()
