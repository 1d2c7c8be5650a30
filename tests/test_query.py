"""`isoaudit query`: SQL over the local copy of the lake, with the Athena views, without AWS."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import boto3
import pandas as pd
import pytest

from isoaudit import local_lake
from isoaudit.aws.session import AwsSession
from isoaudit.cli import main
from isoaudit.config import AuditConfig
from isoaudit.schema import TABLES
from isoaudit.sql import views
from tests.lake_factory import WEEK, BuiltLake, build_lake

TEAMS_SQL = f"SELECT team, jobs, isolation_rate FROM team_scorecard WHERE week = '{WEEK}' ORDER BY team"


@pytest.fixture(scope="module")
def built(emulator, tmp_path_factory) -> BuiltLake:
    aws = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)
    config = AuditConfig(
        bucket="isoaudit-query-test", database="isoaudit_query", endpoint_url=emulator.url, trend_weeks=4
    )
    return build_lake(aws=aws, config=config, folder=tmp_path_factory.mktemp("reports") / "lake")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["query", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def expected_teams(built: BuiltLake) -> pd.DataFrame:
    teams = built.report.teams.rename(columns={"scope_value": "team"})
    return teams[["team", "jobs", "isolation_rate"]].sort_values("team", ignore_index=True)


def test_table_output_shows_the_teams_numbers(capsys, built) -> None:
    code, out, err = run(capsys, "--lake", str(built.folder), TEAMS_SQL)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["team", "jobs", "isolation_rate"]
    for line, team in zip(lines[1:], expected_teams(built).itertuples(), strict=True):
        name, jobs, _ = line.split()
        assert (name, int(jobs)) == (team.team, team.jobs)


def test_csv_output_equals_the_report(capsys, built) -> None:
    code, out, _ = run(capsys, "--lake", str(built.folder), "--format", "csv", TEAMS_SQL)
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(out)), expected_teams(built), check_dtype=False)


def test_json_output_is_records_with_null_for_missing_values(capsys, built) -> None:
    sql = f"SELECT team, mttr_hours FROM team_scorecard WHERE week = '{WEEK}' ORDER BY team"
    code, out, _ = run(capsys, "--lake", str(built.folder), "--format", "json", sql)
    assert code == 0
    records = json.loads(out)
    expected = built.report.teams.sort_values("scope_value")
    assert [record["team"] for record in records] == list(expected["scope_value"])
    assert [record["mttr_hours"] for record in records] == [
        None if pd.isna(value) else value for value in expected["mttr_hours"]
    ]


def test_athena_sql_is_translated_and_timestamps_are_utc(capsys, built) -> None:
    # date_format (Java-style %i minutes), regexp_like and element_at are Athena's (Trino's) spellings.
    sql = (
        "SELECT element_at(split(first_job_name, '-'), 1) AS stem,"
        " date_format(opened_at, '%Y-%m-%d %H:%i') AS opened"
        " FROM open_exposures WHERE regexp_like(family, '^old')"
    )
    code, out, err = run(capsys, "--lake", str(built.folder), "--format", "json", sql)
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"stem": "old", "opened": "2026-07-01 10:00"}]


def test_duckdb_dialect_is_passed_through(capsys, built) -> None:
    sql = "SELECT list_sort(list(DISTINCT state)) AS states FROM open_exposures"
    code, out, _ = run(capsys, "--lake", str(built.folder), "--dialect", "duckdb", "--format", "json", sql)
    assert code == 0
    assert json.loads(out) == [{"states": ["dormant", "open"]}]


def test_list_shows_every_table_and_view_with_its_columns(capsys, built) -> None:
    code, out, _ = run(capsys, "--lake", str(built.folder), "--list")
    assert code == 0
    for table in TABLES:
        assert f"{table} (table)" in out.splitlines()
    for view in views():
        assert f"{view} (view)" in out.splitlines()
    # Partition folders are columns, kept as strings (as in Glue); so are account ids.
    blocks = {block.split(" ", 1)[0]: block.splitlines()[1:] for block in out.split("\n\n")}
    jobs = [line.split() for line in blocks["jobs"]]
    assert ["creation_month", "VARCHAR"] in jobs
    assert ["account_id", "VARCHAR"] in jobs
    team_scorecard = [line.split()[0] for line in blocks["team_scorecard"]]
    assert team_scorecard[:3] == ["week", "team", "jobs"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT no_such_column FROM violations", "no_such_column"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT (1", "Expecting )"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
    ],
)
def test_a_failing_query_is_one_clear_line_and_exit_code_1(capsys, built, sql: str, message: str) -> None:
    code, out, err = run(capsys, "--lake", str(built.folder), sql)
    assert code == 1
    assert out == ""
    assert err.startswith("isoaudit: query failed: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_lake_says_to_run_the_demo_first(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "--lake", str(tmp_path / "nowhere"), "SELECT 1")
    assert code == 1
    assert "run `make demo` first" in err
    assert len(err.strip().splitlines()) == 1


def test_the_default_lake_is_in_the_configured_reports_folder(capsys, built, tmp_path) -> None:
    reports = tmp_path / "weekly"
    shutil.copytree(built.folder, reports / "lake")
    config = tmp_path / "isoaudit.toml"
    config.write_text(f'bucket = "isoaudit-lake"\nreports_dir = "{reports.as_posix()}"\n')
    code, out, _ = run(capsys, "--config", str(config), "--format", "csv", "SELECT count(*) AS n FROM jobs")
    assert code == 0
    assert out.split() == ['"n"', str(len(built.facts))]  # text quoted, numbers not


def test_a_table_never_written_is_empty_and_its_views_still_work(capsys, built, tmp_path) -> None:
    # No episode was ever stored; the folder's name is passed to DuckDB as a value, never as SQL text.
    lake = tmp_path / "o'brien's lake"
    shutil.copytree(
        built.folder, lake, ignore=lambda folder, _: ["episodes"] if Path(folder) == built.folder else []
    )
    code, out, _ = run(capsys, "--lake", str(lake), "SELECT * FROM open_exposures")
    assert code == 0
    assert out.startswith("(no rows; columns: state, team, environment, account_id")
    code, out, _ = run(capsys, "--lake", str(lake), "--format", "csv", "SELECT count(*) AS n FROM violations")
    assert out.split() == ['"n"', str(int((~built.facts["compliant"]).sum()))]


def test_query_needs_sql_or_list(capsys) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "--list" in err


HOSTILE_SQL = (
    "SELECT * FROM (VALUES "
    "('=HYPERLINK(\"http://evil\",\"x\")', -1), ('=cmd|'' /C calc''!A0', 2), ('@SUM(1)', 3), ('+1', 4),"
    " ('-2+3', 5), (chr(9) || '=1', 6), (chr(13) || '=1', 7), ('plain', 8)"
    ") AS t(job_name, n) ORDER BY n"
)


def test_csv_cells_that_a_spreadsheet_would_run_are_plain_text(capsys, built) -> None:
    # Job names and tags come from AWS: in a CSV opened in a spreadsheet they must never become formulas.
    expected = [
        '\'=HYPERLINK("http://evil","x")',
        "'=cmd|' /C calc'!A0",
        "'@SUM(1)",
        "'+1",
        "'-2+3",
        "'\t=1",
        "'\r=1",
        "plain",
    ]
    connection = local_lake.connect(built.folder)
    rendered = local_lake.render(
        local_lake.query(connection, HOSTILE_SQL, dialect="duckdb"), output_format="csv"
    )
    header, *rows = list(csv.reader(io.StringIO(rendered, newline="")))
    assert header == ["job_name", "n"]
    assert [name for name, _ in rows] == expected
    assert [int(number) for _, number in rows] == [-1, 2, 3, 4, 5, 6, 7, 8]  # numbers stay numbers
    # The command prints the same (a terminal shows a carriage return as a line end).
    code, out, _ = run(
        capsys, "--lake", str(built.folder), "--format", "csv", "--dialect", "duckdb", HOSTILE_SQL
    )
    assert code == 0
    assert out.startswith('"job_name","n"\n"\'=HYPERLINK(""http://evil"",""x"")",-1\n"\'=cmd|')


def test_table_output_carries_no_control_character(capsys, built) -> None:
    sql = "SELECT 'a' || chr(27) || '[2J' || chr(27) || ']0;pwned' || chr(7) || 'b' || chr(0) || 'c' AS tag"
    code, out, _ = run(capsys, "--lake", str(built.folder), "--dialect", "duckdb", sql)
    assert code == 0
    assert not {character for character in out if ord(character) < 32 and character != "\n"}
    assert "a[2J]0;pwnedbc" in out
