"""The few-valued texts as integer codes: job_facts encodes them once (free for a categorical, as the KPI step
reads them dictionary-encoded), and what it builds from the codes equals what the texts give."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import _sorted_categorical, job_facts
from isoaudit.metrics.columns import codes
from isoaudit.metrics.money import Rates, _numbered
from isoaudit.schema import ACCOUNTS, conform
from tests.jobs_factory import job, jobs_frame

CONFIG = AuditConfig(bucket="encoded", team_mapping={"/Research": "research"})
RATES = Rates(listed={("us-east-1", "ml.m5.xlarge", "training"): 0.23,
                      ("eu-west-1", "ml.g5.2xlarge", "processing"): 1.7}, negotiated={})  # fmt: skip
# Cluster shapes: priced for some places, an instance type without a price, none.
SHAPES = ('{"ml.g5.2xlarge": 2}', '{"ml.m5.xlarge": 1}', '{"ml.trn1.2xlarge": 1}', None)
# The columns the KPI step reads dictionary-encoded (bench/metrics.py DICTIONARY_COLUMNS).
ENCODED = ["job_kind", "account_id", "region", "status", "failure_reason", "vpc_subnet_ids", "tags_json",
           "instance_groups_json"]  # fmt: skip


def _jobs() -> pd.DataFrame:
    """Two accounts, two regions, both kinds of run and a tuning job, several cluster shapes (one unpriced,
    one missing), tags, failures, violations and fixes: every code job_facts takes from a text."""
    rows = []
    for n in range(24):
        account = ("222222222222", "111111111111")[n % 2]
        region = ("eu-west-1", "us-east-1")[n % 3 == 0]
        rows.append(
            job(
                f"pipe-{n % 3}",
                f"2026-11-{1 + n:02d}T10:00:00Z",
                account_id=account,
                region=region,
                job_kind=("processing", "training")[n % 4 != 0],
                network_isolation=n > 12 and n % 5 != 0,
                vpc_subnet_ids=("", "subnet-1")[n % 3 == 1],
                tags_json=json.dumps({"team": f"team-{n % 2}"} if n % 4 else {}),
                status=("Completed", "Failed")[n % 6 == 0],
                failure_reason="ModuleNotFoundError: No module named 'x'" if n % 6 == 0 else "",
                instance_groups_json=SHAPES[n % 4],
            )
        )
    rows.append(job("hpo", "2026-11-20T09:00:00Z", job_kind="tuning", tuning_job_name="hpo"))
    return jobs_frame(*rows)


def _accounts() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "account_id": ["111111111111", "222222222222"],
            "account_name": ["a", "b"],
            "account_status": ["ACTIVE", "ACTIVE"],
            "ou_path": ["/Research", "/Workloads"],
            "tags_json": ["{}", "{}"],
        }
    )
    return conform(frame, ACCOUNTS)


def _categorical(values: pd.Series) -> pd.Series:
    """values as a categorical whose categories are in reverse order with one unused, as a dictionary read
    can give them (not sorted)."""
    present = sorted(values.dropna().unique(), reverse=True)
    return values.astype(pd.CategoricalDtype([*present, "unused"]))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as their values (the order of the categories follows the input)."""
    texts = {name: str for name in frame.columns if isinstance(frame[name].dtype, pd.CategoricalDtype)}
    return frame.astype(texts)


def test_job_facts_from_categoricals_equal_job_facts_from_plain_text() -> None:
    plain = _jobs()
    encoded = plain.assign(**{name: _categorical(plain[name]) for name in ENCODED})
    assert all(isinstance(encoded[name].dtype, pd.CategoricalDtype) for name in ENCODED)
    expected = job_facts(plain, _accounts(), config=CONFIG, rates=RATES)
    found = job_facts(encoded, _accounts(), config=CONFIG, rates=RATES)
    assert expected["spend_usd"].notna().any() and expected["spend_usd"].isna().any()  # priced and not
    assert (expected["violation"] == "new").any() and expected["remediated_at"].notna().any()
    pdt.assert_frame_equal(_as_text(found), _as_text(expected.astype({name: str for name in ENCODED})))


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["training", "processing", None, "training", "tuning"], dtype=str),  # unsorted, missing
        pd.Series(["a", "b", "b"], dtype=str),  # already sorted
        pd.Series([], dtype=str),
        pd.Series(["z", "a", None], dtype=pd.CategoricalDtype(["z", "a", "m"])),  # its own order kept
    ],
)
def test_sorted_categorical_from_codes_is_pd_categorical_of_the_values(values: pd.Series) -> None:
    found = _sorted_categorical(values, codes(values))
    # Categories compared in order (assert_series_equal checks the categories' order).
    pdt.assert_series_equal(pd.Series(found), pd.Series(pd.Categorical(values)))


def test_numbered_places_are_the_same_by_table_and_by_hashing() -> None:
    keys = np.array([7, 3, 7, 0, 3, 9], dtype=np.int64)
    by_table = _numbered(keys, size=10)
    by_hash = _numbered(keys, size=10**9)  # a table larger than the keys: hashed instead
    for found, distinct in (by_table, by_hash):
        assert (distinct[found] == keys).all()
        assert len(distinct) == len(set(keys.tolist()))
