"""A weekly measure is one declaration (isoaudit.metrics.measures): adding one makes it appear in
weekly_kpis, the run's JSON, the scorecard views (run in DuckDB), the workbook's Teams sheet and its
Methodology sheet, with nothing else edited.

The declarations are read when the modules that derive from them are imported, so the throwaway measures
are declared in a fresh interpreter before anything else is imported, as a developer adding one would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from isoaudit.metrics import measures
from isoaudit.metrics.measures import MEASURES, Kind, Measure, check
from isoaudit.metrics.predicates import PREDICATES, class_matrix, job_classes

ROOT = Path(__file__).resolve().parent.parent

# Three throwaway measures: a count of a named predicate, a sum of a per-run amount, a ratio of the two.
SCRIPT = r"""
import json, sys
from pathlib import Path
from isoaudit.metrics import measures
from isoaudit.metrics.measures import JOBS, PERCENT, Kind, Measure

measures.MEASURES = (
    *measures.MEASURES,
    Measure("throwaway_vpc_only", Kind.COUNT, "Throwaway: runs in a VPC without isolation", JOBS,
            "Throwaway VPC only", predicate="tier:vpc-only"),
    Measure("throwaway_encrypted_violations", Kind.SUM,
            "Throwaway: violations with encryption between containers", JOBS, "Throwaway encrypted",
            predicate="violation", amount="inter_container_encryption"),
    Measure("throwaway_encrypted_share", Kind.RATIO, "Throwaway: encrypted violations / violations, in %",
            PERCENT, "Throwaway share", ratio=("throwaway_encrypted_violations", "violations")),
)
measures.check(measures.MEASURES)

import duckdb, openpyxl, pandas as pd
from isoaudit.config import load_config
from isoaudit.metrics.report import build_report, report_json
from isoaudit.publish.excel import write_workbook
from isoaudit.schema import COVERAGE, empty_frame, ACCOUNTS
from isoaudit.sql import to_duckdb, views
from tests.jobs_factory import job, jobs_frame

week = "2026-W46"
jobs = jobs_frame(
    job("a", "2026-11-10T10:00:00Z", vpc_subnet_ids="subnet-1", inter_container_encryption=True),
    job("b", "2026-11-11T10:00:00Z", vpc_subnet_ids="subnet-1"),
    job("c", "2026-11-12T10:00:00Z", network_isolation=True, inter_container_encryption=True),
    job("d", "2026-11-12T11:00:00Z"),
)
report = build_report(
    jobs=jobs, accounts=empty_frame(ACCOUNTS), coverage=empty_frame(COVERAGE), preventive=None,
    config=load_config(bucket="isoaudit-test"), week=week, generated_at=pd.Timestamp("2026-11-16T06:00:00Z"),
)
kpis = pd.concat([report.trend.drop(columns="audit_coverage"), report.teams], ignore_index=True)
path = write_workbook(report, path=Path(sys.argv[1]) / "report.xlsx")
book = openpyxl.load_workbook(path)
connection = duckdb.connect()
connection.register("weekly_kpis", kpis)
team_view = connection.execute(to_duckdb(views()["team_scorecard"])).df()
org = report_json(report)["org"]
print(json.dumps({
    "org_row": {name: report.org[name] for name in ("throwaway_vpc_only", "throwaway_encrypted_violations",
                                                    "throwaway_encrypted_share", "violations")},
    "kpi_columns": list(report.teams.columns),
    "json_org": {key: org[key] for key in org if key.startswith("throwaway")},
    "view_columns": list(team_view.columns),
    "view_team_row": team_view.loc[team_view["week"] == week, "throwaway_vpc_only"].tolist(),
    "teams_header": [c.value for row in book["Teams"].iter_rows() for c in row
                     if isinstance(c.value, str) and c.value.startswith("Throwaway")],
    "methodology": [c.value for row in book["Methodology"].iter_rows() for c in row
                    if isinstance(c.value, str) and c.value.startswith("Throwaway")],
}, default=float))
"""


def test_a_measure_declared_once_appears_everywhere(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # Jobs a (vpc-only, encrypted), b (vpc-only), d (open) are violations; c is isolated and encrypted.
    assert found["org_row"] == {
        "throwaway_vpc_only": 2,
        "throwaway_encrypted_violations": 1.0,
        "throwaway_encrypted_share": pytest.approx(100 / 3),
        "violations": 3,
    }
    names = ["throwaway_vpc_only", "throwaway_encrypted_violations", "throwaway_encrypted_share"]
    assert found["kpi_columns"][-3:] == names
    assert found["json_org"] == {
        "throwaway_vpc_only": 2,
        "throwaway_encrypted_violations": 1.0,
        "throwaway_encrypted_share": pytest.approx(100 / 3),
    }
    assert found["view_columns"][-3:] == names
    assert found["view_team_row"] == [2]
    assert found["teams_header"] == ["Throwaway VPC only", "Throwaway encrypted", "Throwaway share"]
    # The Methodology sheet: the measure among the weekly measures, and in the column dictionary each header
    # beside its one-line definition.
    methodology = found["methodology"]
    assert (
        "Throwaway VPC only (throwaway_vpc_only, jobs): Throwaway: runs in a VPC without isolation."
        in methodology
    )
    dictionary = [text for text in methodology if "(throwaway_" not in text]
    assert dictionary == [
        "Throwaway VPC only",
        "Throwaway: runs in a VPC without isolation",
        "Throwaway encrypted",
        "Throwaway: violations with encryption between containers",
        "Throwaway share",
        "Throwaway: encrypted violations / violations, in %",
    ]


def test_every_declaration_is_complete_and_refers_to_named_things() -> None:
    check(MEASURES)
    with pytest.raises(ValueError, match="unknown predicate 'no-such'"):
        check((*MEASURES, Measure("x", Kind.COUNT, "x", measures.JOBS, "X", predicate="no-such")))
    with pytest.raises(ValueError, match="needs `amount`"):
        check((*MEASURES, Measure("x", Kind.SUM, "x", measures.JOBS, "X", predicate="run")))
    with pytest.raises(ValueError, match="declared twice"):
        check((*MEASURES, MEASURES[0]))


def test_predicates_are_tested_once_per_class_of_runs() -> None:
    classes = job_classes()
    assert len(classes) == 4 * 3 * 2 * 2 * 3  # posture, violation, dependency, production, pricing
    matrix = class_matrix(["run", "compliant", "violation"])
    # Every class is a run, and either compliant or a violation, never both.
    assert (matrix[:, 0] == 1).all()
    assert (matrix[:, 1] + matrix[:, 2] == 1).all()
    compliant = [job["posture"] for job, row in zip(classes, matrix, strict=True) if row[1]]
    assert set(compliant) == {"isolated+vpc", "isolated"}
    assert set(PREDICATES) >= {"new_violation", "repeat_violation", "dependency_failure", "production"}
