"""Proof that a refactoring changed no number: every table of the demo organization and of bench/metrics.py's
synthetic organization, saved once (`save DIR`) and compared later (`check DIR`) with assert_frame_equal.

- demo: the demo organization (fixed seed and report time) built in the embedded emulator, collected,
  stored and analysed through `isoaudit.audit` (the steps the flow sequences), then every table: the
  stored jobs, coverage and accounts, the job facts, weekly KPIs, episodes, each frame of the weekly
  report, the report's JSON, the alert message and every cell of the workbook.
- synthetic: `kpi_tables` over bench/metrics.py's 5,000,000 rows (generated once, cached in bench/.data/):
  the job facts, weekly KPIs and episodes, and the report built from them.

    .venv/bin/python bench/equality.py save /tmp/before
    .venv/bin/python bench/equality.py check /tmp/before      # exit 1 and the first difference on a change
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import metrics as synthetic

from isoaudit import audit
from isoaudit.alerts import new_violations_message
from isoaudit.config import load_config
from isoaudit.metrics.report import WeeklyReport, report_from_tables, report_json
from isoaudit.publish.excel import write_workbook

DEMO_SEED = 7
DEMO_NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)  # a Wednesday: the report week is 2026-W46
RUN_AT = pd.Timestamp("2026-11-18T10:00:00Z")
_FRAMES = ("teams", "accounts", "environments", "job_kinds", "trend", "team_trend", "violations",
           "open_exposures", "failure_causes", "coverage", "preventive", "images")  # fmt: skip


def demo_tables() -> dict[str, Any]:
    """Every table of the demo organization, by name: DataFrames and JSON-able values."""
    from isoaudit.emulator.demo import demo_spec
    from isoaudit.emulator.organization import build_organization
    from isoaudit.emulator.server import start_emulator

    # The emulator accepts any credentials (as `isoaudit demo` sets them): not secrets.
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    with start_emulator(seed=DEMO_SEED) as emulator, tempfile.TemporaryDirectory() as reports:
        spec = demo_spec(seed=DEMO_SEED, now=DEMO_NOW)
        built = build_organization(endpoint_url=emulator.url, spec=spec)
        config = load_config(
            bucket=built.bucket,
            endpoint_url=emulator.url,
            role_name=spec.audit_role_name,
            reports_dir=reports,
        )
        aws = audit.management_session(config)
        run = audit.start_run(now=RUN_AT, run_id="equality")
        organization = audit.discover(aws=aws, config=config, run=run)
        audits = audit.collect_organization(aws=aws, config=config, run=run, organization=organization)
        stored = audit.store(aws=aws, config=config, run=run, accounts=organization.accounts, audits=audits)
        policies = audit.preventive(aws=aws, accounts=organization.accounts)
        analysis = audit.analyse(config=config, run=run, stored=stored, policies=policies)
        message = new_violations_message(
            analysis.tables.facts, run_started_at=run.started_at, report_uri="s3://r"
        )
        workbook = write_workbook(analysis.weekly, path=Path(reports) / "report.xlsx")
        cells = _cells(workbook)
    sort = ["account_id", "region", "job_arn"]
    return {
        "jobs": stored.jobs.sort_values(sort, ignore_index=True),
        "coverage": stored.coverage.sort_values(["account_id", "region"], ignore_index=True),
        "accounts": stored.accounts.sort_values("account_id", ignore_index=True),
        **_analysis_tables(analysis.tables, analysis.weekly),
        "alert": None if message is None else {"subject": message.subject, "message": message.message},
        "workbook": cells,
        "workbook_content": _content(cells),
    }


def synthetic_tables() -> dict[str, Any]:
    paths = synthetic.data_paths(rows=synthetic.ROWS)
    if not all(path.exists() for path in paths.values()):
        subprocess.run([sys.executable, synthetic.__file__, "--generate-only"], check=True)
    config = load_config(bucket="x-bench", team_mapping={"/Research": "research", "/Sandbox": "data-eng"})
    jobs, accounts, coverage = synthetic.load(paths)
    tables = synthetic.compute(jobs, accounts, coverage, config=config)
    week = synthetic.last_complete_week(synthetic.GENERATED_AT)
    weekly = report_from_tables(
        tables,
        accounts=accounts,
        coverage=coverage,
        preventive=None,
        config=config,
        week=week,
        generated_at=synthetic.GENERATED_AT,
    )
    return _analysis_tables(tables, weekly)


def _analysis_tables(tables: Any, weekly: WeeklyReport) -> dict[str, Any]:
    return {
        "facts": tables.facts,
        "kpis": tables.kpis,
        "episodes": tables.episodes,
        **{f"report_{name}": getattr(weekly, name).reset_index(drop=True) for name in _FRAMES},
        "report_org": weekly.org.to_frame().T.astype(str),
        "report_json": report_json(weekly),
    }


def _cells(path: Path) -> dict[str, list[list[Any]]]:
    book = openpyxl.load_workbook(path)
    return {
        sheet.title: [[_plain(cell.value) for cell in row] for row in sheet.iter_rows()]
        for sheet in book.worksheets
    }


def _content(cells: dict[str, list[list[Any]]]) -> dict[str, Any]:
    """The workbook's cells, less what the redesign of issue 10 changed on purpose: the order of the measure
    columns on the Teams and Accounts sheets (now their declared order, so the Methodology's column
    dictionary's order too) and the Methodology's list of the weekly measures (new). Equal content means the
    same numbers under the same headers and the same texts."""
    content: dict[str, Any] = {}
    for sheet, rows in cells.items():
        if sheet in ("Teams", "Accounts"):
            content[sheet] = sorted([str(value) for value in column] for column in zip(*rows, strict=True))
        elif sheet == "Methodology":
            # The new section, with the blank row before its heading; the column dictionary follows the
            # Teams sheet's column order: rows compared as a set.
            content[sheet] = sorted(
                str(row)
                for at, row in enumerate(rows)
                if not _measure_line(row[0])
                and not (at + 1 < len(rows) and str(rows[at + 1][0]).startswith("Weekly measures ("))
            )
        else:
            content[sheet] = rows
    return content


def _measure_line(text: Any) -> bool:
    """A line of the Methodology's weekly measures: its heading, or "<header> (<name>, <unit>): ..."."""
    return isinstance(text, str) and (
        text.startswith("Weekly measures (") or re.search(r" \([a-z0-9_]+, [^)]+\): ", text) is not None
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def save(tables: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in tables.items():
        if isinstance(value, pd.DataFrame):
            value.to_pickle(directory / f"{name}.pkl")
        else:
            (directory / f"{name}.json").write_text(json.dumps(value, indent=1, sort_keys=True, default=str))


def check(tables: dict[str, Any], directory: Path) -> list[str]:
    """Names of the tables that differ from those saved in `directory` (each difference printed)."""
    differ = []
    for name, value in tables.items():
        try:
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, _saved_frame(directory, name))
            else:
                saved = _saved_json(directory, name)
                now = json.loads(json.dumps(value, sort_keys=True, default=str))
                assert now == saved, f"{name}: JSON differs: {_differences(now, saved)}"
            print(f"  {name}: identical")
        except AssertionError as exc:
            differ.append(name)
            print(f"  {name}: DIFFERS\n{str(exc)[:2000]}")
    return differ


def _saved_frame(directory: Path, name: str) -> pd.DataFrame:
    """A saved DataFrame. The job facts' family categorical holds only the families of some job since issue
    14's seventh pass (before, also the name stems of the jobs a family tag names): a snapshot taken before
    is compared with those unused categories removed, the others in their order, every value as saved."""
    frame = pd.read_pickle(directory / f"{name}.pkl")
    if name == "facts":
        frame["family"] = frame["family"].cat.remove_unused_categories()
    return frame


def _saved_json(directory: Path, name: str) -> Any:
    """A saved JSON table; the workbook's content is derived from the saved workbook when a snapshot taken
    before it existed lacks it."""
    path = directory / f"{name}.json"
    if name == "workbook_content" and not path.exists():
        return json.loads(json.dumps(_content(json.loads((directory / "workbook.json").read_text()))))
    return json.loads(path.read_text())


def _differences(now: Any, saved: Any, path: str = "", found: list[str] | None = None) -> list[str]:
    """The first paths (at most 20) where two JSON values differ, with both values."""
    found = [] if found is None else found
    if len(found) >= 20:
        return found
    if isinstance(now, dict) and isinstance(saved, dict):
        for key in sorted(set(now) | set(saved)):
            _differences(now.get(key), saved.get(key), f"{path}/{key}", found)
    elif isinstance(now, list) and isinstance(saved, list) and len(now) == len(saved):
        for index, (left, right) in enumerate(zip(now, saved, strict=True)):
            _differences(left, right, f"{path}[{index}]", found)
    elif now != saved:
        found.append(f"{path}: now {str(now)[:80]!r}, before {str(saved)[:80]!r}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--only", choices=["demo", "synthetic"])
    args = parser.parse_args()
    differ = []
    for part, build in (("demo", demo_tables), ("synthetic", synthetic_tables)):
        if args.only and args.only != part:
            continue
        print(f"{part}:", flush=True)
        tables = build()
        if args.action == "save":
            save(tables, args.directory / part)
            print(f"  saved {len(tables)} tables in {args.directory / part}")
        else:
            differ += [f"{part}/{name}" for name in check(tables, args.directory / part)]
    if differ:
        print(f"DIFFERENT: {', '.join(differ)}")
        sys.exit(1)
    print("every table identical" if args.action == "check" else "saved")


if __name__ == "__main__":
    main()
