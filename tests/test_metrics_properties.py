"""Properties of the KPIs on random organizations: what must hold whatever the jobs are."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.episodes import exposure_episodes
from isoaudit.metrics.kpis import weekly_kpis
from isoaudit.metrics.predicates import POSTURES
from isoaudit.schema import ACCOUNTS, COVERAGE, conform
from tests.test_metrics import job, jobs_frame

ACCOUNT_IDS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")
START = pd.Timestamp("2026-01-05T00:00:00")  # a Monday: 2026-W02
CONFIG = AuditConfig(bucket="audit-bucket")
ACCOUNTS_FRAME = conform(
    pd.DataFrame(
        {
            "account_id": ACCOUNT_IDS,
            "account_name": ["a", "b", "c"],
            "account_status": "ACTIVE",
            "ou_path": ["/Prod", "/Dev", "/Sandbox"],
            "tags_json": [json.dumps({"team": "platform"}), "{}", "{}"],
        }
    ),
    ACCOUNTS,
)
COUNTS = [
    "jobs",
    "compliant",
    "production_jobs",
    "violations",
    "new_violations",
    "repeat_violations",
    "tier_isolated_vpc",
    "tier_isolated",
    "tier_vpc_only",
    "tier_open",
    "episodes_closed",
    "episodes_open",
    "episodes_dormant",
    "dependency_failures",
]
PROPERTIES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

job_rows = st.lists(
    st.builds(
        dict,
        account=st.sampled_from(ACCOUNT_IDS),
        region=st.sampled_from(REGIONS),
        family=st.sampled_from(["train", "score", "etl"]),
        posture=st.sampled_from(POSTURES),
        hour=st.integers(0, 24 * 7 * 8),  # eight weeks, with ties
        team=st.sampled_from([None, "fraud", "search"]),
        failed=st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


def facts_of(rows: list[dict]) -> pd.DataFrame:
    jobs = [
        job(
            f"{row['family']}-{index}",
            str(START + pd.Timedelta(hours=row["hour"])),
            account=row["account"],
            region=row["region"],
            posture=row["posture"],
            tags={"pipeline": row["family"], **({"team": row["team"]} if row["team"] else {})},
            status="Failed" if row["failed"] else "Completed",
            reason="ModuleNotFoundError: No module named 'x'" if row["failed"] else "",
        )
        for index, row in enumerate(rows)
    ]
    return job_facts(jobs_frame(jobs), ACCOUNTS_FRAME, config=CONFIG)


def weeks_of(facts: pd.DataFrame) -> list[str]:
    return sorted(set(facts["week"].astype(str)) | {"2026-W12"})


@PROPERTIES
@given(job_rows)
def test_rates_are_percentages_and_scopes_add_up(rows: list[dict]) -> None:
    facts = facts_of(rows)
    kpis = weekly_kpis(facts, weeks=weeks_of(facts), dormant_days=14)
    for column in ("isolation_rate", "production_isolation_rate"):
        rates = kpis[column].dropna()
        assert ((rates >= 0) & (rates <= 100)).all()
    assert (kpis["jobs"] >= kpis["compliant"]).all()
    assert (kpis["episodes_open"] >= kpis["episodes_dormant"]).all()
    assert (kpis["mttr_hours"].dropna() >= 0).all()
    org = kpis.loc[kpis["scope"] == "org"].set_index("week")[COUNTS]
    assert org["jobs"].sum() == len(facts)
    for scope in ("team", "account", "environment", "job_kind"):
        parts = kpis.loc[kpis["scope"] == scope].groupby("week")[COUNTS].sum()
        assert parts.reindex(org.index, fill_value=0).equals(org), scope


@PROPERTIES
@given(job_rows)
def test_episodes_never_overlap_and_never_run_backwards(rows: list[dict]) -> None:
    facts = facts_of(rows)
    as_of = START + pd.Timedelta(weeks=9)
    episodes = exposure_episodes(facts, as_of=as_of, dormant_days=14)
    assert (episodes["hours_to_remediate"].dropna() >= 0).all()
    assert (episodes["age_hours"].dropna() >= 0).all()
    assert episodes["non_compliant_runs"].sum() == (~facts["compliant"]).sum()
    for _, family in episodes.groupby(["account_id", "region", "family"]):
        family = family.sort_values("opened_at")
        # Every episode but the last is closed, and the next one opens after it closed.
        assert family["state"].iloc[:-1].eq("closed").all()
        assert (family["opened_at"].iloc[1:].to_numpy() > family["closed_at"].iloc[:-1].to_numpy()).all()
    assert len(episodes) == (facts["violation"] == "new").sum()
    assert episodes.equals(_episodes_by_hand(facts, as_of=as_of))


@PROPERTIES
@given(job_rows, st.lists(st.sampled_from(ACCOUNT_IDS), unique=True), st.integers(0, 7))
def test_carrying_a_stale_account_forward_never_adds_or_removes_jobs(
    rows: list[dict], missed: list[str], week_index: int
) -> None:
    facts = facts_of(rows)
    weeks = weeks_of(facts)
    week = weeks[min(week_index, len(weeks) - 1)]
    coverage = conform(
        pd.DataFrame(
            [
                {
                    "audit_week": week,
                    "run_id": "r",
                    "account_id": account,
                    "account_name": "",
                    "region": region,
                    "status": "failed" if account in missed else "audited",
                    "reason": "",
                    "listing": "full",
                    "jobs_seen": 0,
                    "api_calls": 1,
                    "audited_at": pd.Timestamp("2026-03-01T00:00Z"),
                }
                for account in ACCOUNT_IDS
                for region in REGIONS
            ]
        ),
        COVERAGE,
    )
    plain = weekly_kpis(facts, weeks=weeks, dormant_days=14)
    stale = weekly_kpis(facts, weeks=weeks, dormant_days=14, coverage=coverage)
    key = ["week", "scope", "scope_value"]
    merged = plain.merge(stale, on=key, how="outer", suffixes=("", "_stale"), indicator=True)
    assert set(merged["_merge"]) <= {"both", "right_only"}  # stale rows may only be added
    added = merged.loc[merged["_merge"] == "right_only"]
    assert (added["jobs_stale"] == 0).all() and added["isolation_rate_stale"].isna().all()
    common = merged.loc[merged["_merge"] == "both"]
    for column in [*COUNTS, "isolation_rate"]:
        before, after = (
            common[name].fillna(-1).to_numpy(dtype=float) for name in (column, f"{column}_stale")
        )
        assert np.array_equal(before, after), column
    org = stale.loc[(stale["scope"] == "org") & (stale["week"] == week), "stale_accounts"]
    assert org.tolist() == [len(missed)]


def _episodes_by_hand(facts: pd.DataFrame, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """The definition, one job at a time: the reference the vectorised code must match."""
    rows = []
    seen = facts.loc[facts["creation_time"] <= as_of.tz_localize("UTC")].assign(
        late=lambda frame: frame["compliant"]  # non-compliant first at equal times
    )
    ordered = (
        seen.reset_index(drop=True)
        .reset_index()
        .sort_values(["account_id", "region", "family", "creation_time", "late", "index"])
    )
    for _, family in ordered.groupby(["account_id", "region", "family"], observed=True):
        current: dict | None = None
        for _, run in family.iterrows():
            if not run["compliant"] and current is None:
                current = {"opener": run, "runs": 0}
            if not run["compliant"]:
                current["runs"] += 1
                current["last"] = run["creation_time"]
            elif current is not None:
                rows.append(_episode_row(current, closed=run["creation_time"], as_of=as_of))
                current = None
        if current is not None:
            rows.append(_episode_row(current, closed=None, as_of=as_of))
    frame = pd.DataFrame(
        rows,
        columns=[
            "account_id",
            "region",
            "family",
            "first_job_name",
            "opened_at",
            "closed_at",
            "non_compliant_runs",
            "last_run_at",
            "state",
        ],
    )
    ours = exposure_episodes(facts, as_of=as_of, dormant_days=14)
    frame = frame.astype({column: str for column in ("account_id", "region", "family")}).assign(
        **{
            column: pd.to_datetime(frame[column], utc=True).dt.as_unit("us")
            for column in ("opened_at", "closed_at", "last_run_at")
        }
    )
    merged = ours.drop(columns=frame.columns.drop(["account_id", "region", "family", "opened_at"])).merge(
        frame, on=["account_id", "region", "family", "opened_at"], how="outer"
    )
    return merged[ours.columns].astype(ours.dtypes.to_dict())


def _episode_row(current: dict, *, closed: pd.Timestamp | None, as_of: pd.Timestamp) -> dict:
    opener = current["opener"]
    utc = as_of.tz_localize("UTC")
    if closed is not None:
        state = "closed"
    elif utc - current["last"] >= pd.Timedelta(days=14):
        state = "dormant"
    else:
        state = "open"
    return {
        "account_id": opener["account_id"],
        "region": opener["region"],
        "family": opener["family"],
        "first_job_name": opener["job_name"],
        "opened_at": opener["creation_time"],
        "closed_at": closed if closed is not None else pd.NaT,
        "non_compliant_runs": current["runs"],
        "last_run_at": current["last"],
        "state": state,
    }


def test_by_hand_reference_sees_a_closed_and_an_open_episode() -> None:
    """The reference itself on a tiny case, so that its agreement means something."""
    rows = [
        {
            "account": ACCOUNT_IDS[0],
            "region": "us-east-1",
            "family": "train",
            "posture": posture,
            "hour": hour,
            "team": None,
            "failed": False,
        }
        for posture, hour in (("open", 0), ("vpc-only", 5), ("isolated", 10), ("open", 20))
    ]
    facts = facts_of(rows)
    episodes = _episodes_by_hand(facts, as_of=START + pd.Timedelta(days=2))
    assert episodes["state"].tolist() == ["closed", "open"]
    assert episodes["non_compliant_runs"].tolist() == [2, 1]
    assert np.allclose(episodes["hours_to_remediate"].fillna(-1), [10.0, -1])
