"""S3, Glue and Athena, through awswrangler: the Parquet lake and its catalog.

Every table is laid out for cheap queries: Parquet (snappy), partitioned by month where it grows with
time, with Athena partition projection so no crawler or MSCK REPAIR is ever needed, and rewritten per
partition so files do not pile up week after week.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import awswrangler as wr
import pandas as pd
import pyarrow as pa
from awswrangler.typing import AthenaPartitionProjectionSettings
from botocore.client import BaseClient

from isoaudit.aws import lake_view
from isoaudit.aws.lake_files import (
    PARTITION_COLUMN,
    Part,
    months_of,
    objects_under,
    parts_of,
    read_files,
    superseded,
    unchanged,
)
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.session import AwsSession
from isoaudit.aws.wrangler import endpoints
from isoaudit.config import AuditConfig
from isoaudit.schema import TABLES, conform, descriptions, empty_frame, glue_types
from isoaudit.sql import VIEW_NAME, description

MONTH_FORMAT = "%Y-%m"


@dataclass(frozen=True)
class TableLayout:
    name: str
    description: str
    key: tuple[str, ...]
    newest: str | None = None  # among rows of one key, the one with the latest value here wins
    partitioned_by_creation_month: bool = False

    @property
    def schema(self) -> pa.Schema:
        return TABLES[self.name]


# Tables that grow with the job history are partitioned by the month a job was created: a job never
# changes month, so rewriting the months a run touched replaces each job exactly once. The small tables
# are rewritten whole, one file each.
LAYOUTS = {
    layout.name: layout
    for layout in (
        TableLayout(
            "jobs",
            "Every SageMaker job ever seen, by ARN",
            key=("job_arn",),
            newest="last_seen",
            partitioned_by_creation_month=True,
        ),
        TableLayout(
            "job_facts",
            "Jobs with team, posture, family",
            key=("job_arn",),
            newest="last_seen",
            partitioned_by_creation_month=True,
        ),
        TableLayout(
            "coverage",
            "Per audit week: each account-region's audit status and reason",
            key=("audit_week", "account_id", "region"),
            newest="audited_at",
        ),
        TableLayout("accounts", "Member accounts: name, OU path, tags (latest run)", key=("account_id",)),
        TableLayout(
            "episodes",
            "Exposure episodes per family (latest run)",
            key=("account_id", "region", "family", "opened_at"),
        ),
        TableLayout(
            "weekly_kpis", "KPIs per ISO week and scope (latest run)", key=("week", "scope", "scope_value")
        ),
        TableLayout(
            "prices",
            "Hourly list prices of the instance types the jobs use (Price List API)",
            key=("region", "instance_type", "usage"),
            newest="fetched_at",
        ),
    )
}


def creation_months(frame: pd.DataFrame) -> set[str]:
    return set(frame["creation_time"].dt.strftime(MONTH_FORMAT).unique())


def _path(config: AuditConfig, table: str) -> str:
    return f"{config.lake_uri}/{table}/"


def table_uri(config: AuditConfig, table: str) -> str:
    """Where a table's files are, as registered in Glue."""
    return _path(config, table)


def read_table(
    *, aws: AwsSession, config: AuditConfig, table: str, lake: LakeView | None = None
) -> pd.DataFrame:
    """The whole table, conformed to its schema; empty when nothing was written yet.

    With `lake` (the run's view), the files it lists are read, one GET each, and a frame this run already
    read and kept there is handed over instead; without, the table's folder is listed first."""
    if lake is not None and (kept := lake.take(table)) is not None:
        return kept
    layout = LAYOUTS[table]
    files = lake.files(table) if lake is not None else objects_under(aws, _path(config, table))
    uris = sorted(found.uri for found in files if found.uri.endswith(".parquet"))
    if not uris:
        return empty_frame(layout.schema)
    frame = read_files(aws, uris).to_pandas()
    # A column added by a later version of isoaudit (e.g. the compute fields) is empty in older files.
    added = [name for name in layout.schema.names if name not in frame.columns]
    frame = conform(frame.reindex(columns=[*frame.columns, *added]), layout.schema)
    # A write interrupted before its clean-up leaves two versions of some rows: the newest is the truth.
    if layout.newest:
        frame = frame.sort_values(layout.newest, kind="stable")
    return frame.drop_duplicates(list(layout.key), keep="last").reset_index(drop=True)


def write_table(
    *,
    aws: AwsSession,
    config: AuditConfig,
    table: str,
    frame: pd.DataFrame,
    months: set[str] | None = None,
    lake: LakeView | None = None,
) -> None:
    """Replace the table with `frame`; with `months`, replace only those creation months.

    With `months`, `frame` must hold every row of those months (the partitions are rewritten whole), and a
    month found holding more than one file is rewritten too: it holds two versions of some rows.
    New files are written before the old ones are deleted, so a write that fails half-way loses nothing:
    it leaves at worst two versions of some rows, which `read_table` resolves and the next run cleans up.

    With `lake` (the run's view) and a catalog whose definitions did not change since the last run, the
    write costs nothing where the content is that of the file already there (each file's name carries a
    digest of its rows), and no Glue call: Athena finds the months by partition projection. Otherwise the
    table (and its partitions) is declared in Glue by the write, as awswrangler does.
    """
    with endpoints(aws):
        layout = LAYOUTS[table]
        frame = conform(frame, layout.schema)
        if layout.newest:
            frame = frame.sort_values(layout.newest, kind="stable")
        frame = frame.drop_duplicates(list(layout.key), keep="last")  # each key once, whatever was passed
        path = _path(config, table)
        current = lake.files(table) if lake is not None else objects_under(aws, path)
        partitioned = layout.partitioned_by_creation_month
        if partitioned:
            frame = frame.assign(**{PARTITION_COLUMN: frame["creation_time"].dt.strftime(MONTH_FORMAT)})
        parts = parts_of(frame, key=layout.key, partitioned=partitioned, months=months, current=current)
        catalog = lake is None or not catalog_current(lake, config)
        if not catalog:
            parts = [part for part in parts if not unchanged(part, path=path, current=current)]
        if not parts:
            return
        if catalog:
            wr.catalog.create_database(config.database, exist_ok=True, boto3_session=aws.boto3_session)
        written = _write_parts(aws=aws, config=config, layout=layout, parts=parts, catalog=catalog)
        listed = objects_under(aws, path)
        # The months written, and those no row is in any more when the whole table was given.
        gone = months_of(current) - set(frame[PARTITION_COLUMN]) if partitioned and months is None else set()
        scope = {part.month for part in parts if part.month} | gone if partitioned else None
        stale = superseded(listed, written=written, months=scope)
        if stale:
            wr.s3.delete_objects(stale, boto3_session=aws.boto3_session)
        if lake is not None:
            lake.replace(table, [found for found in listed if found.uri not in set(stale)], written=written)


def _write_parts(
    *, aws: AwsSession, config: AuditConfig, layout: TableLayout, parts: Sequence[Part], catalog: bool
) -> list[str]:
    """One file per part; the S3 URIs written. Through the catalog, one after the other (each may declare
    the table); without, side by side."""
    glue = _glue_table(layout)
    settings = {"description": layout.description, "columns_comments": glue.comments}
    settings["parameters"] = glue.parameters
    declare: dict[str, Any] = {
        "database": config.database,
        "table": layout.name,
        "athena_partition_projection_settings": glue.projection,
        "glue_table_settings": settings,
    }

    def write(part: Part) -> list[str]:
        return wr.s3.to_parquet(
            part.frame,
            path=_path(config, layout.name),
            dataset=True,
            mode="append",
            dtype={**glue.columns, **glue.partitions},
            partition_cols=list(glue.partitions) or None,
            compression="snappy",
            boto3_session=aws.boto3_session,
            s3_additional_kwargs=_encryption(config),
            # Names sort in the order of writes even within one second (S3's LastModified resolution).
            filename_prefix=f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{part.digest}-",
            **(declare if catalog else {}),
        )["paths"]

    if catalog or len(parts) == 1:
        return [uri for part in parts for uri in write(part)]
    with ThreadPoolExecutor(max_workers=min(len(parts), WRITERS)) as pool:
        return [uri for paths in pool.map(write, parts) for uri in paths]


WRITERS = 8


def tables_fingerprint(config: AuditConfig) -> str:
    """What the tables' Glue entries are made of: every table's schema and layout, and where they go."""
    definitions = {
        "tables": {name: str(schema) for name, schema in sorted(TABLES.items())},
        "layouts": {name: repr(_glue_table(layout)) for name, layout in sorted(LAYOUTS.items())},
        "where": [config.database, config.lake_uri],
    }
    return hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()


def catalog_current(lake: LakeView, config: AuditConfig) -> bool:
    """Whether Glue holds every table as this version declares it (as the last run left it)."""
    return lake.tables == tables_fingerprint(config) and set(LAYOUTS) <= lake.glue_tables


@dataclass(frozen=True)
class _GlueTable:
    """How a table is declared in Glue: by every write, and before the first one (see publish_views)."""

    columns: dict[str, str]  # column -> Glue type, partition columns excluded
    partitions: dict[str, str]  # partition column -> Glue type
    comments: dict[str, str]
    parameters: dict[str, str]
    projection: AthenaPartitionProjectionSettings | None


def _glue_table(layout: TableLayout) -> _GlueTable:
    comments = descriptions(layout.schema)
    if not layout.partitioned_by_creation_month:
        return _GlueTable(
            columns=glue_types(layout.schema),
            partitions={},
            comments=comments,
            parameters={},
            projection=None,
        )
    comments[PARTITION_COLUMN] = "Month of creation_time (yyyy-MM, UTC): the partition"
    return _GlueTable(
        columns=glue_types(layout.schema),
        partitions={PARTITION_COLUMN: "string"},
        comments=comments,
        # awswrangler has no setting for the interval unit of a string-typed date projection.
        parameters={f"projection.{PARTITION_COLUMN}.interval.unit": "MONTHS"},
        projection={
            "projection_types": {PARTITION_COLUMN: "date"},
            "projection_ranges": {PARTITION_COLUMN: "2017-01,NOW"},
            "projection_formats": {PARTITION_COLUMN: "yyyy-MM"},
            "projection_intervals": {PARTITION_COLUMN: "1"},
        },
    )


def _encryption(config: AuditConfig) -> dict[str, str] | None:
    if not config.kms_key_id:
        return None
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_id}


def publish_views(
    *, aws: AwsSession, config: AuditConfig, views: Mapping[str, str], lake: LakeView | None = None
) -> None:
    """Create or replace each view (name -> SELECT, e.g. isoaudit.sql.views()) in the configured database
    through Athena, and keep one named query per view in the workgroup, so that the questions are one
    click away in the Athena console. Safe to repeat: nothing is duplicated.

    Tables no run has written yet are declared (empty) first: Athena refuses a view over a missing table.
    Nothing is done when the views' SQL, the tables' schemas and where they go are those of the last
    publication (a fingerprint in the lake's state, `<prefix>/_lake_state.json`, which the run's view
    `lake` has read already): no call instead of 25 Athena and Glue calls every run. Last, the lake's state
    is left for the next run (isoaudit.aws.lake_view.save: one PUT, when it changed).
    """
    with endpoints(aws):
        for name in views:
            if not VIEW_NAME.match(name):
                raise ValueError(f"{name!r} is not a view name (lowercase letters, digits and _)")
        fingerprint = definitions_fingerprint(config=config, views=views)
        view = lake if lake is not None else lake_view.stored(aws=aws, config=config)
        # A table dropped from Glue since (the preflight found it missing) is declared again, empty or not.
        if view.definitions != fingerprint or (lake is not None and not set(LAYOUTS) <= lake.glue_tables):
            _declare_missing_tables(aws=aws, config=config)
        if view.definitions != fingerprint:
            for name, sql in views.items():
                # Static SQL from the package; the database and workgroup are validated identifiers.
                wr.athena.start_query_execution(
                    sql=f"CREATE OR REPLACE VIEW {name} AS\n{sql}",
                    database=config.database,
                    workgroup=config.athena_workgroup,
                    s3_output=config.athena_output,
                    wait=True,
                    boto3_session=aws.boto3_session,
                    **_athena_encryption(config),
                )
            _save_named_queries(athena=aws.client("athena"), config=config, views=views)
        # Written last: a publication that failed half-way is done again by the next run.
        lake_view.save(
            aws=aws, config=config, view=view, definitions=fingerprint, tables=tables_fingerprint(config)
        )


def definitions_fingerprint(*, config: AuditConfig, views: Mapping[str, str]) -> str:
    """What the views and the tables under them are: their SQL, every table's schema (with its Glue
    layout), and the database, workgroup and folder they are published to."""
    definitions = {
        "views": dict(sorted(views.items())),
        "tables": {name: str(schema) for name, schema in sorted(TABLES.items())},
        "layouts": {name: repr(_glue_table(layout)) for name, layout in sorted(LAYOUTS.items())},
        "where": [config.database, config.athena_workgroup, config.athena_output, config.lake_uri],
    }
    return hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()


def _declare_missing_tables(*, aws: AwsSession, config: AuditConfig) -> None:
    wr.catalog.create_database(config.database, exist_ok=True, boto3_session=aws.boto3_session)
    for layout in LAYOUTS.values():
        # GetTable per table: the auditor's policy already allows it (GetTables would need more).
        if wr.catalog.does_table_exist(
            database=config.database, table=layout.name, boto3_session=aws.boto3_session
        ):
            continue
        glue = _glue_table(layout)
        wr.catalog.create_parquet_table(
            database=config.database,
            table=layout.name,
            path=_path(config, layout.name),
            columns_types=glue.columns,
            partitions_types=glue.partitions,
            compression="snappy",
            description=layout.description,
            parameters=glue.parameters,
            columns_comments=glue.comments,
            athena_partition_projection_settings=glue.projection,
            boto3_session=aws.boto3_session,
        )


def _athena_encryption(config: AuditConfig) -> dict[str, str]:
    if not config.kms_key_id:
        return {}
    return {"encryption": "SSE_KMS", "kms_key": config.kms_key_id}


def named_query_name(*, config: AuditConfig, view: str) -> str:
    """`<database>.<view>`: unique per database, so two deployments can share a workgroup."""
    return f"{config.database}.{view}"


def _save_named_queries(*, athena: BaseClient, config: AuditConfig, views: Mapping[str, str]) -> None:
    """One named query per view, whose text is the view's SELECT: created once, updated when it changed."""
    existing = _named_queries(athena=athena, workgroup=config.athena_workgroup)
    for view, sql in views.items():
        name = named_query_name(config=config, view=view)
        wanted = {"Name": name, "Description": description(sql), "QueryString": sql}
        current = existing.get(name)
        if current is None:
            athena.create_named_query(**wanted, Database=config.database, WorkGroup=config.athena_workgroup)
        elif any(current.get(key) != value for key, value in wanted.items()):
            athena.update_named_query(NamedQueryId=current["NamedQueryId"], **wanted)


def _named_queries(*, athena: BaseClient, workgroup: str) -> dict[str, dict[str, Any]]:
    """The workgroup's named queries by name."""
    found: dict[str, dict[str, Any]] = {}
    for page in athena.get_paginator("list_named_queries").paginate(WorkGroup=workgroup):
        # GetNamedQuery one by one: BatchGetNamedQuery would save calls on AWS, but moto lacks it.
        for query_id in page["NamedQueryIds"]:
            query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
            found[query["Name"]] = query
    return found
