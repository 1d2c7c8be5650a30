"""The local copy of the lake (reports/lake, left by every run) in DuckDB: explore it without Athena.

Every table of isoaudit.schema is a DuckDB view over its Parquet files (partition folders such as
`creation_month=2026-11` become string columns, as in Glue), and every isoaudit view is created from the
same Athena SQL files as in Athena, transpiled by sqlglot: the tests prove that they give the pandas
report's numbers. Nothing is written back: each connection starts from the files again.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd
import sqlglot.errors

from isoaudit.schema import TABLES
from isoaudit.sql import to_duckdb, views

Dialect = Literal["athena", "duckdb"]
OutputFormat = Literal["table", "csv", "json"]


class LocalLakeError(Exception):
    """The lake copy is missing or a query failed; the message is one line, meant for the user."""


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # "table" or "view"
    columns: list[tuple[str, str]]  # (name, DuckDB type)


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's tables and isoaudit's views; LocalLakeError without a lake."""
    files = {table: sorted((lake / table).rglob("*.parquet")) for table in TABLES}
    if not any(files.values()):
        raise LocalLakeError(f"no lake copy in {lake}: run `make demo` first (or pass --lake)")
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # timestamps print in UTC, as the lake stores them
    for table, paths in files.items():
        if paths:
            # Parameters, not text: a folder name never becomes SQL. Partition values stay strings.
            relation = connection.sql(
                "SELECT * FROM read_parquet($paths, hive_partitioning = true, hive_types_autocast = false,"
                " union_by_name = true)",
                params={"paths": [str(path) for path in paths]},
            )
        else:  # a table never written (e.g. no episode yet): empty, so the views still work
            relation = connection.from_arrow(TABLES[table].empty_table())
        relation.create_view(table)
    for name, sql in views().items():
        connection.execute(f"CREATE VIEW {name} AS {to_duckdb(sql)}")
    return connection


def query(connection: duckdb.DuckDBPyConnection, sql: str, *, dialect: Dialect = "athena") -> pd.DataFrame:
    """The rows of one statement, written in Athena SQL (transpiled) or in DuckDB's own SQL."""
    try:
        statement = to_duckdb(sql) if dialect == "athena" else sql
        return connection.sql(statement).df()
    except (sqlglot.errors.SqlglotError, ValueError, duckdb.Error) as exc:
        raise LocalLakeError(f"query failed: {_first_line(exc)}") from None


def relations(connection: duckdb.DuckDBPyConnection) -> list[Relation]:
    """The lake's tables, then isoaudit's views, each with its columns."""
    found = []
    for kind, names in (("table", list(TABLES)), ("view", list(views()))):
        for name in names:
            relation = connection.table(name)
            columns = [
                (column, str(type_)) for column, type_ in zip(relation.columns, relation.types, strict=True)
            ]
            found.append(Relation(name=name, kind=kind, columns=columns))
    return found


# OWASP's CSV injection guidance: a cell starting with one of these is a formula to a spreadsheet
# (=HYPERLINK(...), =cmd|' /C calc'!A0, @SUM(1), +1); a leading single quote makes it plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0 and C1 control characters (NUL, ESC, ...) but tab and newline: on a terminal, an AWS tag could move
# the cursor, rewrite earlier lines or change the window title.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def render(rows: pd.DataFrame, *, output_format: OutputFormat) -> str:
    """Rows as an aligned text table (every column, every row), CSV or JSON records.

    Text comes from AWS (job names, tags) and is untrusted: CSV cells that a spreadsheet would run as a
    formula are neutralised, and the table output carries no control character. JSON escapes both itself.
    """
    if output_format == "csv":
        # Every text cell quoted: a carriage return inside one (which pandas leaves bare otherwise, its
        # line end being "\n") can then not split a row in two either.
        neutral = _text_cells(rows, _neutralise_formula)
        return neutral.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).rstrip("\n")
    if output_format == "json":
        # pandas writes NaN as null and timestamps as ISO 8601; json re-dumps it without escaping "/".
        return json.dumps(json.loads(rows.to_json(orient="records", date_format="iso")), indent=2)
    rows = _text_cells(rows, _printable)
    rows.columns = [_printable(str(name)) for name in rows.columns]
    if rows.empty:
        return f"(no rows; columns: {', '.join(rows.columns)})"
    with pd.option_context("display.max_columns", None, "display.width", None, "display.max_rows", None):
        return rows.to_string(index=False)


def _text_cells(rows: pd.DataFrame, clean: Callable[[str], str]) -> pd.DataFrame:
    """`rows` with `clean` applied to every text cell (numbers, times and missing values as they are)."""
    cleaned = rows.copy()
    for column in cleaned.columns:
        if cleaned[column].dtype == object or pd.api.types.is_string_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].map(
                lambda value: clean(value) if isinstance(value, str) else value
            )
    return cleaned


def _neutralise_formula(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _printable(text: str) -> str:
    return _CONTROL.sub("", text)


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
