"""What a job is, named once: compliant, production, a new or repeat violation, a dependency failure, its
posture tier, priced or not, a run or a launcher. Every measure, stage and view that needs one of these
reads it here.

The weekly counts class each run by a few *dimensions* (posture, violation, dependency failure,
production, pricing): 144 classes. A *predicate* is a test of a class, evaluated once per class, never per
row: a count is the number of runs of the classes the predicate accepts (isoaudit.metrics.weekly).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from isoaudit.job_kinds import launcher_kinds

# Posture tiers, best first; the first two are compliant (network isolation on), the others are not: a
# VPC alone is not isolation.
POSTURES = ("isolated+vpc", "isolated", "vpc-only", "open")
COMPLIANT_POSTURES = ("isolated+vpc", "isolated")
# A non-compliant run's place in its family's history ("" for a compliant run).
VIOLATIONS = ("", "new", "repeat")
NEW_VIOLATION, REPEAT_VIOLATION = "new", "repeat"
PRODUCTION = "production"
# Failure classes (isoaudit.metrics.failures) that are a dependency failure: the cost side of isolation.
DEPENDENCY_FAILURES = ("missing_dependency", "network_blocked")
# A tuning job launches training jobs: they are its runs. It is listed (with its definition's isolation)
# but never counted as a run of its own: not in the KPIs, the episodes nor the history of its family.
LAUNCHER_KINDS = launcher_kinds()


def launchers(job_kind: pd.Series) -> np.ndarray:
    """Which rows are launchers (tuning jobs), not runs."""
    if len(LAUNCHER_KINDS) == 1:
        return (job_kind == LAUNCHER_KINDS[0]).to_numpy(dtype=bool)
    return job_kind.isin(LAUNCHER_KINDS).to_numpy(dtype=bool)


def runs_only(facts: pd.DataFrame) -> pd.DataFrame:
    """The rows that are runs: every job but the tuning jobs (their training jobs are their runs)."""
    launcher = launchers(facts["job_kind"])
    return facts.loc[~launcher] if launcher.any() else facts


def posture_codes(*, isolated: np.ndarray, in_vpc: np.ndarray) -> np.ndarray:
    """Each job's position in POSTURES from its isolation and VPC placement (booleans)."""
    return (~isolated).astype(np.int8) * 2 + (~in_vpc).astype(np.int8)


@dataclass(frozen=True)
class Dimension:
    """A property of a run with few values, read from one JOB_FACTS column: `label_of` turns each distinct
    value of the column (as text) into one of `labels`; a value it does not know is the first label."""

    name: str
    column: str
    labels: tuple[str, ...]
    label_of: Callable[[str], str] = str
    # For a property of several columns: each run's position in `labels`, over whole arrays (then
    # `column` and `label_of` are not used).
    positions: Callable[[pd.DataFrame], np.ndarray] | None = None


# Whether a run's spend is known: "priced" (it has a spend), "unpriced" (compute hours but no price: never
# counted as $0), "none" (no compute hours yet: still running, or no billing data).
PRICING = ("none", "priced", "unpriced")


def pricing_positions(facts: pd.DataFrame) -> np.ndarray:
    """Each run's position in PRICING, from its compute_hours and spend_usd."""
    hours = facts["compute_hours"].to_numpy(dtype=float, na_value=np.nan)
    spend = facts["spend_usd"].to_numpy(dtype=float, na_value=np.nan)
    priced = ~np.isnan(spend)
    return np.where(priced, 1, np.where(np.isnan(hours), 0, 2)).astype(np.int32)


DIMENSIONS = (
    Dimension("posture", "posture", POSTURES),
    Dimension("violation", "violation", VIOLATIONS),
    Dimension(
        "dependency",
        "failure_class",
        ("no", "yes"),
        lambda value: "yes" if value in DEPENDENCY_FAILURES else "no",
    ),
    Dimension(
        "production", "environment", ("no", "yes"), lambda value: "yes" if value == PRODUCTION else "no"
    ),
    Dimension("pricing", "spend_usd", PRICING, positions=pricing_positions),
)

# A class of runs: each dimension's label.
JobClass = Mapping[str, str]


@dataclass(frozen=True)
class Predicate:
    """A named test of a class of runs, with its one-line definition."""

    name: str
    definition: str
    test: Callable[[JobClass], bool]


def _compliant(job: JobClass) -> bool:
    return job["posture"] in COMPLIANT_POSTURES


PREDICATES = {
    predicate.name: predicate
    for predicate in (
        Predicate("run", "every run", lambda job: True),
        Predicate("compliant", "network isolation on (posture isolated+vpc or isolated)", _compliant),
        Predicate("production", "in the production environment", lambda job: job["production"] == "yes"),
        Predicate(
            "production_compliant",
            "in production and compliant",
            lambda job: job["production"] == "yes" and _compliant(job),
        ),
        Predicate("violation", "not compliant", lambda job: not _compliant(job)),
        Predicate(
            "new_violation",
            "a violation that opened an exposure episode",
            lambda job: job["violation"] == NEW_VIOLATION,
        ),
        Predicate(
            "repeat_violation",
            "a violation in an episode already open",
            lambda job: job["violation"] == REPEAT_VIOLATION,
        ),
        Predicate(
            "dependency_failure",
            "failed for a missing package or a blocked network",
            lambda job: job["dependency"] == "yes",
        ),
        Predicate("priced", "its spend is known", lambda job: job["pricing"] == "priced"),
        Predicate("unpriced", "compute hours but no known price", lambda job: job["pricing"] == "unpriced"),
        *(
            Predicate(f"tier:{tier}", f"posture tier {tier}", lambda job, tier=tier: job["posture"] == tier)
            for tier in POSTURES
        ),
    )
}


def job_classes() -> list[dict[str, str]]:
    """Every class of runs, in class-code order: the first dimension varies slowest (see class_codes)."""
    names = [dimension.name for dimension in DIMENSIONS]
    return [dict(zip(names, labels, strict=True)) for labels in product(*(d.labels for d in DIMENSIONS))]


def class_matrix(predicates: list[str]) -> np.ndarray:
    """For each class of runs (a row, in class-code order), 0/1 per named predicate (a column)."""
    tests = [PREDICATES[name].test for name in predicates]
    return np.array([[int(test(job)) for test in tests] for job in job_classes()], dtype=np.int64)
