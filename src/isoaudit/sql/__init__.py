"""The views that answer the common questions, as static Athena (Trino) SQL: one SELECT per file in
views/, named after the view, with a header comment saying which question it answers and its columns.

`{measures}` in a view stands for the weekly measures (isoaudit.metrics.measures), the column list of
weekly_kpis after its scope, and `{kpis.measures}` for the same list qualified by `kpis.`: a measure is
declared once and every scorecard view has it.

Views name their tables unqualified: Athena resolves them in the database the view is created in (the
configured one), DuckDB in the schema where isoaudit.local_lake registers the lake copy. The files are
static on purpose: nothing from AWS or the configuration is ever spliced into them.
"""

from __future__ import annotations

import re
from importlib.resources import files

import sqlglot
from sqlglot import exp

from isoaudit.metrics import measures

# A view name is spliced into `CREATE OR REPLACE VIEW <name>`: plain lowercase identifiers only.
VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MEASURES_SLOT = re.compile(r"\{(kpis\.)?measures\}")


def views() -> dict[str, str]:
    """View name -> its SELECT statement (Athena SQL), in name order (no view reads another)."""
    folder = files(__package__) / "views"
    found: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".sql"):
            continue
        name = entry.name.removesuffix(".sql")
        if not VIEW_NAME.match(name):
            raise ValueError(f"views/{entry.name}: a view name is lowercase letters, digits and _")
        sql = expand_measures(entry.read_text(encoding="utf-8").strip())
        statements = sqlglot.parse(sql, read="athena")
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise ValueError(f"views/{entry.name}: expected exactly one SELECT statement")
        found[name] = sql
    return found


def expand_measures(sql: str) -> str:
    """`sql` with `{measures}` and `{kpis.measures}` replaced by the weekly measures' column list (one a
    line in the SELECT, comma-separated in the header comment)."""

    def columns(match: re.Match[str]) -> str:
        prefix = match.group(1) or ""
        names = [f"{prefix}{measure.name}" for measure in measures.stored()]
        line_start = match.string[: match.start()].rsplit("\n", 1)[-1]  # the indentation, or a comment
        return ", ".join(names) if line_start.startswith("--") else f",\n{line_start}".join(names)

    return _MEASURES_SLOT.sub(columns, sql)


# The CUR view reads a table the configuration names: its SQL says `cur`, replaced in the parsed statement
# (never in the text) by the validated `database.table` of `cur_table`.
_CUR_PLACEHOLDER = "cur"


def billed_views(*, cur_table: str | None, net_unblended: bool = True) -> dict[str, str]:
    """`job_billed_cost` over the configured CUR 2.0 table (Athena SQL), or nothing without one. Without
    net columns in the export, net_unblended_cost is NULL."""
    if cur_table is None:
        return {}
    sql = (files(__package__) / "billed" / "job_billed_cost.sql").read_text(encoding="utf-8").strip()
    header = "\n".join(line for line in sql.splitlines() if line.startswith("--"))
    statement = sqlglot.parse_one(sql, read="athena")
    database, table = cur_table.split(".")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name == _CUR_PLACEHOLDER and not node.args.get("db"):
            return exp.table_(table, db=database, alias=node.alias or None)
        if not net_unblended and isinstance(node, exp.Column) and node.name == "line_item_net_unblended_cost":
            return exp.cast(exp.null(), "DOUBLE")
        return node

    body = statement.transform(rewrite).sql(dialect="athena", pretty=True, comments=False)
    return {"job_billed_cost": f"{header}\n{body}"}


def description(sql: str) -> str:
    """The first sentence of a view's header comment: the question it answers."""
    header = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        header.append(line.removeprefix("--").strip())
    return " ".join(header).split(". ", 1)[0].rstrip(".")


def to_duckdb(sql: str) -> str:
    """One Athena (Trino) statement in DuckDB's dialect; sqlglot's errors say what could not be read."""
    statements = sqlglot.transpile(sql, read="athena", write="duckdb", pretty=True)
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]
