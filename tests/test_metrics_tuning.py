"""Each run counted once: a tuning job is a launcher, its training jobs are the runs.

A small organization worked out by hand, in the ml-prod account (team ml-platform, production), week
2026-W10. The tuning job hpo-0303 (no isolation in its definition) launched 5 training jobs without
isolation on 03-03; hpo-empty (no isolation) was created on 03-04 and launched nothing yet; an isolated
processing job ran on 03-05. Runs: 5 + 1 = 6, of which 1 compliant; violations: the 5 children, in one
family (the tuning job's name): 1 new and 4 repeat, one open episode. Counting tuning jobs as jobs, as
isoaudit once did, gave 8 jobs and 7 violations.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.report import build_report, report_json
from isoaudit.schema import ACCOUNTS, COVERAGE, conform, empty_frame
from tests.test_metrics import ACCOUNT_ROWS, CONFIG, GENERATED_AT, ML, job, jobs_frame

CHILDREN = [f"hpo-0303-{number:03d}-4f2a9c1{number}" for number in range(1, 6)]
ROWS = [
    job("hpo-0303", "2026-03-03T08:00:00", posture="open", kind="tuning", tuning="hpo-0303"),
    *(
        job(name, f"2026-03-03T08:{10 * number}:00", posture="open", tuning="hpo-0303")
        for number, name in enumerate(CHILDREN, start=1)
    ),
    job("hpo-empty", "2026-03-04T10:00:00", posture="vpc-only", kind="tuning", tuning="hpo-empty"),
    job("features", "2026-03-05T10:00:00", kind="processing"),
]


@pytest.fixture(scope="module")
def report() -> Any:
    return build_report(
        jobs=jobs_frame(ROWS),
        accounts=conform(pd.DataFrame(ACCOUNT_ROWS), ACCOUNTS),
        coverage=empty_frame(COVERAGE),
        preventive=None,
        config=CONFIG.model_copy(update={"trend_weeks": 2}),
        week="2026-W10",
        generated_at=GENERATED_AT,
    )


def test_a_tuning_job_with_5_children_counts_as_5_jobs(report: Any) -> None:
    org = report.org
    assert (org["jobs"], org["compliant"], org["violations"]) == (6, 1, 5)
    assert (org["new_violations"], org["repeat_violations"]) == (1, 4)
    assert (org["tier_open"], org["tier_vpc_only"], org["tier_isolated"]) == (5, 0, 1)
    assert org["episodes_open"] == 1
    assert org["isolation_rate"] == pytest.approx(100 / 6)
    (team,) = report.teams.itertuples()
    assert (team.scope_value, team.jobs, team.violations) == ("ml-platform", 6, 5)
    kinds = report.job_kinds.set_index("scope_value")["jobs"].to_dict()
    assert kinds == {"processing": 1, "training": 5}  # no "tuning" row: not a run
    document = json.loads(json.dumps(report_json(report)))
    assert document["org"]["jobs"] == 6
    # The one image: 6 runs (not 8: the tuning jobs ran nothing themselves).
    (image,) = document["images"]
    assert (image["rank"], image["jobs"], image["isolated_jobs"]) == (1, 6, 1)


def test_each_tuning_job_is_listed_once_with_its_training_jobs_and_its_isolation(report: Any) -> None:
    violations = report.violations.set_index("job_name")
    assert sorted(violations.index) == sorted([*CHILDREN, "hpo-0303", "hpo-empty"])
    tuning = violations.loc[["hpo-0303", "hpo-empty"]]
    assert list(tuning["violation"]) == ["tuning job", "tuning job"]
    assert list(tuning["training_jobs"]) == [5, 0]
    assert list(tuning["posture"]) == ["open", "vpc-only"]  # the definition's isolation (and VPC)
    assert list(tuning["console_url"].str.split("#/").str[1]) == ["hyper-tuning-jobs/hpo-0303",
                                                                  "hyper-tuning-jobs/hpo-empty"]  # fmt: skip
    children = violations.loc[CHILDREN]
    assert children["training_jobs"].isna().all()
    assert list(children["violation"]) == ["new", "repeat", "repeat", "repeat", "repeat"]
    # The episode is opened by the first training job, not by the tuning job created before it.
    (episode,) = report.open_exposures.itertuples()
    assert (episode.family, episode.first_job_name, episode.non_compliant_runs) == (
        "hpo-0303",
        CHILDREN[0],
        5,
    )


def test_a_tuning_job_has_no_place_in_its_family_history() -> None:
    facts = job_facts(jobs_frame(ROWS), conform(pd.DataFrame(ACCOUNT_ROWS), ACCOUNTS), config=CONFIG)
    facts = facts.set_index("job_name")
    assert facts.loc["hpo-0303", "family"] == facts.loc[CHILDREN[0], "family"] == "hpo-0303"
    assert facts.loc["hpo-0303", "violation"] == ""
    assert facts.loc[CHILDREN[0], "violation"] == "new"
    assert (facts["account_id"] == ML).all()
