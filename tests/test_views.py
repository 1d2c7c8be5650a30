"""The Athena views, proven: each view's SQL, transpiled to DuckDB, runs over the Parquet files the lake
holds and gives exactly the pandas report's numbers; publishing them to Athena (moto: the calls, not the
SQL) creates each view and one named query per view, however often it runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import awswrangler as wr
import boto3
import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from botocore.stub import Stubber

from isoaudit import local_lake
from isoaudit.aws import lake
from isoaudit.aws.session import AwsSession
from isoaudit.aws.wrangler import endpoints
from isoaudit.config import AuditConfig, ConfigError, load_config
from isoaudit.metrics.images import aws_registries, image_health
from isoaudit.schema import JOB_FACTS, TABLES, WEEKLY_KPIS, glue_types
from isoaudit.sql import billed_views, description, to_duckdb, views
from tests.jobs_factory import job, jobs_frame
from tests.lake_factory import DLC, OUTSIDE, TOKENIZER, WEEK, XGBOOST, BuiltLake, build_lake

WORKGROUP = "isoaudit-views"


@pytest.fixture(scope="module")
def aws(emulator) -> AwsSession:
    return AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)


@pytest.fixture(autouse=True)
def wrangler_endpoints(aws) -> Iterator[None]:
    """The tests ask awswrangler directly (as lake does, within its endpoints)."""
    with endpoints(aws):
        yield


@pytest.fixture(scope="module")
def built(aws, emulator, tmp_path_factory) -> BuiltLake:
    config = AuditConfig(
        bucket="isoaudit-views-test",
        database="isoaudit_views",
        athena_workgroup=WORKGROUP,
        endpoint_url=emulator.url,
        trend_weeks=4,
    )
    return build_lake(aws=aws, config=config, folder=tmp_path_factory.mktemp("reports") / "lake")


@pytest.fixture(scope="module")
def connection(built) -> duckdb.DuckDBPyConnection:
    return local_lake.connect(built.folder)


def rows(connection: duckdb.DuckDBPyConnection, sql: str, *, by: list[str]) -> pd.DataFrame:
    """The query's rows sorted by `by`, timestamps as UTC microseconds (the lake stores UTC)."""
    frame = local_lake.query(connection, sql)
    return _comparable(frame, by=by)


def _comparable(frame: pd.DataFrame, *, by: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            values = frame[column]
            values = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
            frame[column] = values.dt.as_unit("us")
        elif frame[column].dtype == "category":
            frame[column] = frame[column].astype(str)
    return frame.sort_values(by, ignore_index=True)


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, *, by: list[str]) -> None:
    assert len(actual), "a comparison over no rows proves nothing"
    pd.testing.assert_frame_equal(
        _comparable(actual, by=by), _comparable(expected[list(actual.columns)], by=by), check_dtype=False
    )


# --- the SQL files ---


def test_every_view_is_one_static_select_with_a_plain_name() -> None:
    found = views()
    assert set(found) == {
        "team_scorecard",
        "account_scorecard",
        "org_trend",
        "violations",
        "open_exposures",
        "failure_causes",
        "image_health",
    }
    assert list(found) == sorted(found)
    for name, sql in found.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
        assert description(sql), f"{name}: the header comment says which question the view answers"


@pytest.mark.parametrize("view", list(views()))
def test_each_view_runs_in_duckdb_and_has_the_columns_its_header_lists(connection, view: str) -> None:
    result = local_lake.query(connection, f"SELECT * FROM {view}")
    assert len(result), f"{view}: no rows over the test lake"
    assert list(result.columns) == _documented_columns(views()[view])


def _documented_columns(sql: str) -> list[str]:
    header = " ".join(line.removeprefix("--") for line in sql.splitlines() if line.startswith("--"))
    listed = header.split("Columns:", 1)[1]
    return [name.strip() for name in re.sub(r"\([^()]*\)", "", listed).split(",")]


# --- the views give the pandas numbers ---


def test_team_scorecard_equals_the_report_teams(connection, built) -> None:
    actual = rows(connection, f"SELECT * FROM team_scorecard WHERE week = '{WEEK}'", by=["team"])
    expected = built.report.teams.rename(columns={"scope_value": "team"})
    assert_same(actual, expected, by=["team"])
    assert list(actual.columns) == ["week", "team", *WEEKLY_KPIS.names[3:]]


def test_account_scorecard_equals_the_report_accounts(connection, built) -> None:
    actual = rows(connection, f"SELECT * FROM account_scorecard WHERE week = '{WEEK}'", by=["account_id"])
    expected = built.report.accounts.rename(columns={"scope_value": "account_id"})
    assert_same(actual.drop(columns="ou_path"), expected, by=["account_id"])
    # The account that left the Organization keeps its numbers, without a name.
    assert actual.loc[actual["account_id"] == "044444444444", "account_name"].isna().all()
    assert set(actual["ou_path"].dropna()) == {
        "/Workloads/Production",
        "/Workloads/NonProduction",
        "/Sandbox",
    }


def test_org_trend_equals_the_report_trend_with_audit_coverage(connection, built) -> None:
    trend = built.report.trend
    actual = rows(connection, "SELECT * FROM org_trend", by=["week"])
    assert_same(actual, trend, by=["week"])
    # The re-run replaced the failed account-region: 3 audited of 4 tried (the skipped one is out of scope).
    coverage = actual.set_index("week")["audit_coverage"]
    assert coverage[WEEK] == 75.0
    assert pd.isna(coverage["2026-W44"])  # no run that week


def test_violations_of_the_week_equal_the_report_violations(connection, built) -> None:
    actual = rows(connection, f"SELECT * FROM violations WHERE week = '{WEEK}'", by=["job_arn"])
    expected = built.report.violations
    assert_same(actual, expected, by=["job_arn"])
    assert set(actual["posture"]) == {"vpc-only", "open"}


def test_new_and_repeat_violations_of_every_week_equal_pandas(connection, built) -> None:
    actual = rows(connection, "SELECT job_arn, violation FROM violations", by=["job_arn"])
    facts = built.facts.loc[~built.facts["compliant"]]
    violation = facts["violation"].astype(str).where(facts["job_kind"] != "tuning", "tuning job")
    expected = pd.DataFrame({"job_arn": facts["job_arn"], "violation": violation})
    assert_same(actual, expected, by=["job_arn"])
    assert set(actual["violation"]) == {"new", "repeat", "tuning job"}


def test_a_tuning_job_is_listed_once_with_its_training_jobs(connection, built) -> None:
    actual = rows(
        connection,
        "SELECT job_name, violation, training_jobs FROM violations WHERE job_name LIKE 'hpo-1%'",
        by=["job_name"],
    )
    assert list(actual["job_name"]) == ["hpo-1", "hpo-1-001-0a1b2c31", "hpo-1-002-0a1b2c32"]
    assert list(actual["violation"]) == ["tuning job", "new", "repeat"]
    assert actual["training_jobs"].iloc[0] == 2
    assert actual["training_jobs"].iloc[1:].isna().all()


def test_image_health_equals_pandas_with_the_image_to_rebuild_first(connection, built) -> None:
    actual = rows(connection, "SELECT * FROM image_health", by=["rank"])
    expected = image_health(built.facts)
    assert_same(actual, expected, by=["rank"])
    first = actual.iloc[0]
    assert first["image_uri"] == TOKENIZER  # isolated, failing twice for missing packages
    assert (first["registry"], first["registry_account"], first["repository"]) == (
        "own ECR",
        "222222222222",
        "nlp/tokenizer",
    )
    assert first["missing_dependency_isolated"] == 2
    registries = dict(zip(actual["image_uri"], actual["registry"], strict=True))
    assert registries[DLC] == "AWS Deep Learning Containers"
    assert registries[XGBOOST] == "AWS SageMaker images"
    assert registries[OUTSIDE] == "outside ECR"
    # The tuning job is not a run of its image: the DLC counts the detector's two runs and hpo-1's two.
    assert actual.set_index("image_uri").loc[DLC, "jobs"] == 4


def test_image_health_names_every_aws_registry_the_python_side_knows() -> None:
    sql = views()["image_health"]
    listed = dict(re.findall(r"\('(\d{12})', '([^']+)'\)", sql))
    assert listed == aws_registries()


def test_failure_causes_equal_the_report_and_the_pandas_groupby(connection, built) -> None:
    of_week = rows(
        connection,
        "SELECT team, failure_class, network_isolation, jobs, spend_usd FROM failure_causes"
        f" WHERE week = '{WEEK}'",
        by=["team", "failure_class", "network_isolation"],
    )
    assert_same(of_week, built.report.failure_causes, by=["team", "failure_class", "network_isolation"])

    keys = ["week", "team", "failure_class", "network_isolation"]
    failed = built.facts.loc[built.facts["status"] == "Failed"].astype({"week": str, "team": str})
    failed = failed.assign(
        failure_class=failed["failure_class"].astype(str), network_isolation=failed["compliant"]
    )
    grouped = failed.groupby(keys)
    expected = pd.DataFrame({"jobs": grouped.size(), "spend_usd": grouped["spend_usd"].sum(min_count=1)})
    expected = expected.reset_index()
    assert_same(rows(connection, "SELECT * FROM failure_causes", by=keys), expected, by=keys)


def test_open_exposures_equal_the_open_and_dormant_episodes(connection, built) -> None:
    keys = ["account_id", "region", "family", "opened_at"]
    actual = rows(connection, "SELECT * FROM open_exposures", by=keys)
    expected = built.report.open_exposures
    assert_same(actual.drop(columns="account_name"), expected, by=keys)
    assert set(actual["state"]) == {"open", "dormant"}
    stored = built.episodes
    assert len(actual) == int(stored["state"].isin(["open", "dormant"]).sum())


# --- billed cost (CUR 2.0) ---


@pytest.mark.parametrize("net_unblended", [True, False])
def test_job_billed_cost_joins_the_cur_on_the_lower_cased_arn(built, tmp_path, net_unblended: bool) -> None:
    jobs = built.facts.loc[built.facts["job_kind"] == "training"].astype({"job_arn": str}).head(2)
    first, second = jobs["job_arn"].tolist()
    # A CUR 2.0 (Data Exports) file: two lines of the first job (one with the ARN's letter case changed),
    # one of the second, and lines that must not count (another product, no resource id).
    cur = pd.DataFrame(
        {
            "line_item_resource_id": [first, first.upper().replace("ARN:AWS:SAGEMAKER", "arn:aws:sagemaker"),
                                      second, second, ""],
            "line_item_product_code": ["AmazonSageMaker"] * 3 + ["AmazonS3", "AmazonSageMaker"],
            "line_item_unblended_cost": [1.25, 0.75, 3.0, 9.0, 5.0],
            "line_item_net_unblended_cost": [1.0, 0.5, 2.7, 8.0, 4.0],
            "line_item_usage_start_date": pd.to_datetime(["2026-11-10"] * 5),
        }
    )  # fmt: skip
    if not net_unblended:
        cur = cur.drop(columns="line_item_net_unblended_cost")
    cur.to_parquet(tmp_path / "cur.parquet")
    connection = local_lake.connect(built.folder)
    connection.execute("CREATE SCHEMA billing")
    # The file's path is a parameter of the query: DuckDB views cannot take one, a table can.
    connection.execute(
        "CREATE TABLE billing.cur2 AS SELECT * FROM read_parquet($path)",
        {"path": str(tmp_path / "cur.parquet")},
    )
    (sql,) = billed_views(cur_table="billing.cur2", net_unblended=net_unblended).values()
    connection.execute(f"CREATE VIEW job_billed_cost AS {to_duckdb(sql)}")
    billed = rows(connection, "SELECT * FROM job_billed_cost", by=["job_arn"]).set_index("job_arn")
    assert sorted(billed.index) == sorted([first, second])
    assert billed.loc[first, "unblended_cost"] == pytest.approx(2.0)
    assert billed.loc[second, "unblended_cost"] == pytest.approx(3.0)
    assert billed.loc[first, "cost_lines"] == 2
    if net_unblended:
        assert billed.loc[first, "net_unblended_cost"] == pytest.approx(1.5)
    else:
        assert billed["net_unblended_cost"].isna().all()
    spend = built.facts.set_index(built.facts["job_arn"].astype(str))["spend_usd"]
    assert billed.loc[first, "spend_usd"] == pytest.approx(spend[first], nan_ok=True)


def test_no_billed_cost_view_without_a_cur_table() -> None:
    assert billed_views(cur_table=None) == {}


# --- the Glue tables ---


@pytest.mark.parametrize("table", ["jobs", "job_facts"])
def test_growing_tables_are_partitioned_by_month_with_projection(aws, built, table: str) -> None:
    parameters = wr.catalog.get_table_parameters(
        database=built.config.database, table=table, boto3_session=aws.boto3_session
    )
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.creation_month.type"] == "date"
    assert parameters["projection.creation_month.format"] == "yyyy-MM"
    assert parameters["projection.creation_month.range"] == "2017-01,NOW"
    assert parameters["projection.creation_month.interval"] == "1"
    assert parameters["projection.creation_month.interval.unit"] == "MONTHS"


@pytest.mark.parametrize("table", list(TABLES))
def test_glue_columns_follow_the_schema(aws, built, table: str) -> None:
    types = wr.catalog.get_table_types(
        database=built.config.database, table=table, boto3_session=aws.boto3_session
    )
    expected = glue_types(TABLES[table])
    if table in ("jobs", "job_facts"):
        expected["creation_month"] = "string"
    assert types == expected


# --- publishing to Athena ---


def test_publish_views_twice_creates_each_view_and_one_named_query_per_view(aws, built) -> None:
    config = built.config
    athena = aws.client("athena")
    athena.create_work_group(Name=WORKGROUP)
    before = set(_execution_ids(athena, workgroup=WORKGROUP))
    lake.publish_views(aws=aws, config=config, views=views())
    # The definitions did not change: the second publication reads one fingerprint and calls nothing else.
    counted = aws.counted()
    lake.publish_views(aws=counted, config=config, views=views())
    assert counted.counter.count == 1

    saved = [
        athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        for page in athena.get_paginator("list_named_queries").paginate(WorkGroup=WORKGROUP)
        for query_id in page["NamedQueryIds"]
    ]
    names = sorted(query["Name"] for query in saved)
    assert names == sorted(f"isoaudit_views.{view}" for view in views())
    for query in saved:
        view = query["Name"].split(".", 1)[1]
        assert query["QueryString"] == views()[view]
        assert query["Database"] == config.database
        assert query["Description"] == description(views()[view])

    executions = [
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        for query_id in _execution_ids(athena, workgroup=WORKGROUP)
        if query_id not in before
    ]
    created = sorted(execution["Query"].split(" AS\n", 1)[0] for execution in executions)
    assert created == sorted(f"CREATE OR REPLACE VIEW {view}" for view in views())
    for execution in executions:
        assert execution["QueryExecutionContext"]["Database"] == config.database
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(config.athena_output)


def _execution_ids(athena, *, workgroup: str) -> list[str]:
    return [
        query_id
        for page in athena.get_paginator("list_query_executions").paginate(WorkGroup=workgroup)
        for query_id in page["QueryExecutionIds"]
    ]


def test_views_are_published_again_when_their_sql_or_a_schema_changed(aws, built, monkeypatch) -> None:
    config = built.config.model_copy(update={"database": "isoaudit_changes", "athena_workgroup": "primary"})
    athena = aws.client("athena")

    def published(definitions: dict[str, str]) -> list[str]:
        before = set(_execution_ids(athena, workgroup="primary"))
        lake.publish_views(aws=aws, config=config, views=definitions)
        return [
            athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Query"]
            for query_id in _execution_ids(athena, workgroup="primary")
            if query_id not in before
        ]

    assert len(published(views())) == len(views())
    assert published(views()) == []
    # moto has no UpdateNamedQuery (its use is tested above with botocore's stubber): recorded here.
    saved: list[dict[str, str]] = []
    monkeypatch.setattr(lake, "_save_named_queries", lambda **arguments: saved.append(arguments["views"]))
    changed = {**views(), "org_trend": views()["org_trend"] + "\n-- reworded"}
    assert len(published(changed)) == len(views())
    assert saved == [changed]
    # A column added to a table changes what every view over it reads: all are created again.
    monkeypatch.setitem(
        TABLES,
        "accounts",
        TABLES["accounts"].append(
            pa.field("cost_center", pa.string(), metadata={"description": "Cost center"})
        ),
    )
    assert len(published(changed)) == len(views())
    assert published(changed) == []


def test_publish_views_declares_the_tables_no_run_has_written(aws, built) -> None:
    # A new deployment: no table yet (Athena would refuse a view over a missing one).
    config = built.config.model_copy(
        update={"database": "isoaudit_fresh", "prefix": "fresh", "athena_workgroup": "primary"}
    )
    lake.publish_views(aws=aws, config=config, views=views())
    declared = wr.catalog.get_tables(database="isoaudit_fresh", boto3_session=aws.boto3_session)
    tables = {table["Name"] for table in declared}
    assert tables == set(TABLES)
    parameters = wr.catalog.get_table_parameters(
        database="isoaudit_fresh", table="job_facts", boto3_session=aws.boto3_session
    )
    assert parameters["projection.creation_month.interval.unit"] == "MONTHS"
    columns = wr.catalog.get_table_types(
        database="isoaudit_fresh", table="job_facts", boto3_session=aws.boto3_session
    )
    assert list(columns) == [*JOB_FACTS.names, "creation_month"]

    # The first real write appends to the declared table as to any other.
    frame = jobs_frame(job("first", "2026-11-10T10:00:00Z"))
    lake.write_table(aws=aws, config=config, table="jobs", frame=frame)
    assert list(lake.read_table(aws=aws, config=config, table="jobs")["job_name"]) == ["first"]


def test_a_named_query_whose_sql_changed_is_updated_not_duplicated(aws, built) -> None:
    # moto has no UpdateNamedQuery: the calls are checked against botocore's stubber.
    config = built.config
    athena = aws.client("athena")
    current = {"team_scorecard": "SELECT 1", "org_trend": views()["org_trend"]}
    with Stubber(athena) as stub:
        stub.add_response(
            "list_named_queries", {"NamedQueryIds": ["q-team", "q-org"]}, {"WorkGroup": WORKGROUP}
        )
        for query_id, view in (("q-team", "team_scorecard"), ("q-org", "org_trend")):
            stub.add_response(
                "get_named_query",
                {
                    "NamedQuery": {
                        "Name": f"isoaudit_views.{view}",
                        "Description": description(views()[view]),
                        "Database": config.database,
                        "QueryString": current[view],
                        "NamedQueryId": query_id,
                    }
                },
                {"NamedQueryId": query_id},
            )
        stub.add_response(
            "update_named_query",
            {},
            {
                "NamedQueryId": "q-team",
                "Name": "isoaudit_views.team_scorecard",
                "Description": description(views()["team_scorecard"]),
                "QueryString": views()["team_scorecard"],
            },
        )
        stub.add_response(
            "create_named_query",
            {"NamedQueryId": "q-new"},
            {
                "Name": "isoaudit_views.violations",
                "Description": description(views()["violations"]),
                "QueryString": views()["violations"],
                "Database": config.database,
                "WorkGroup": WORKGROUP,
            },
        )
        wanted = {view: views()[view] for view in ("team_scorecard", "org_trend", "violations")}
        lake._save_named_queries(athena=athena, config=config, views=wanted)
        stub.assert_no_pending_responses()


def test_publish_views_refuses_a_view_name_that_is_not_an_identifier(aws, built) -> None:
    with pytest.raises(ValueError, match="not a view name"):
        lake.publish_views(aws=aws, config=built.config, views={"x; DROP TABLE jobs --": "SELECT 1"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("database", "isoaudit; DROP TABLE jobs"),
        ("database", "Isoaudit"),
        ("database", "iso-audit"),
        ("database", '"isoaudit"'),
        ("athena_workgroup", "primary'--"),
        ("athena_workgroup", "a b"),
    ],
)
def test_database_and_workgroup_must_be_plain_names(field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_config(bucket="isoaudit-lake", **{field: value})
    assert load_config(bucket="isoaudit-lake", database="isoaudit_prod", athena_workgroup="data.team-1")
