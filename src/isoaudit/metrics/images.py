"""Image health: which container images to rebuild first.

Per image (its URI: registry account, region, repository and tag), over every run known (training and
processing jobs; a tuning job counts through its training jobs): runs, teams, isolated share, failed runs by
class, first and last use. An image whose isolated runs fail with `missing_dependency` needs its packages
baked in: it is ranked first. Rank order: isolated runs failing with missing_dependency, then every
missing_dependency failure, then network_blocked failures, then runs (most first), then the URI.

Images from AWS's own registries are named as such: the Deep Learning Containers, and the other SageMaker
images (built-in algorithms, XGBoost, scikit-learn, ...), from the registry accounts the SageMaker Python
SDK knows (aws_registries.json). The `image_health` Athena view computes the same table in SQL.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

from isoaudit.metrics.columns import codes, from_micros, micros
from isoaudit.metrics.failures import FAILURE_CLASSES
from isoaudit.metrics.predicates import runs_only

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@<digest>); the view uses the same.
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)[:@](.+)$")
AWS_DLC = "AWS Deep Learning Containers"
AWS_SAGEMAKER = "AWS SageMaker images"
OWN_ECR = "own ECR"
OUTSIDE_ECR = "outside ECR"
IMAGE_COLUMNS = (
    "rank",
    "image_uri",
    "registry",
    "registry_account",
    "region",
    "repository",
    "tag",
    "jobs",
    "teams",
    "team_names",
    "isolated_jobs",
    "isolated_share",
    "failed",
    "missing_dependency_isolated",
    *FAILURE_CLASSES,
    "first_used",
    "last_used",
)
RANK_ORDER = (
    ("missing_dependency_isolated", False),
    ("missing_dependency", False),
    ("network_blocked", False),
    ("jobs", False),
    ("image_uri", True),
)


@cache
def aws_registries() -> dict[str, str]:
    """Registry account -> the name of AWS's registry it is."""
    data = json.loads((files(__package__) / "aws_registries.json").read_text())
    return {
        **dict.fromkeys(data["sagemaker_images"], AWS_SAGEMAKER),
        **dict.fromkeys(data["deep_learning_containers"], AWS_DLC),
    }


def parse_image(uri: str) -> dict[str, str]:
    """registry (whose), registry_account, region, repository and tag (or digest) of an image URI."""
    found = ECR_IMAGE.match(uri)
    if found is None:
        return {"registry": OUTSIDE_ECR, "registry_account": "", "region": "", "repository": uri, "tag": ""}
    account, region, repository, tag = found.groups()
    registry = aws_registries().get(account, OWN_ECR)
    return {
        "registry": registry,
        "registry_account": account,
        "region": region,
        "repository": repository,
        "tag": tag,
    }


def image_health(facts: pd.DataFrame) -> pd.DataFrame:
    """IMAGE_COLUMNS, one row per image of the runs in `facts` (JOB_FACTS), in rank order (1 first).

    Counted with integer codes and bincounts: millions of runs cost a few whole-array operations, and each
    distinct image, team and failure class is looked at once.
    """
    runs = runs_only(facts)
    image, images = codes(runs["image_uri"].fillna(""))
    if not len(image):
        return pd.DataFrame({column: pd.Series(dtype=object) for column in IMAGE_COLUMNS})
    image, images = _used(image, images)
    count = len(images)
    failed = (runs["status"] == "Failed").to_numpy(dtype=bool)
    isolated = runs["compliant"].to_numpy(dtype=bool)
    failure, classes = codes(runs["failure_class"])
    by_class = {name: np.zeros(count, dtype=np.int64) for name in FAILURE_CLASSES}
    for code, name in enumerate(classes.astype(str)):
        if name in by_class:
            by_class[name] = np.bincount(image, weights=failed & (failure == code), minlength=count)
    lacking = failed & isolated & (failure == classes.astype(str).get_indexer(["missing_dependency"])[0])
    lacking &= failure >= 0  # no such class among the values: get_indexer's -1 must not match a missing one
    team_counts, team_names = _teams(image, runs["team"], count=count)
    created = micros(runs["creation_time"])
    first, last = np.full(count, np.iinfo(np.int64).max), np.full(count, np.iinfo(np.int64).min)
    np.minimum.at(first, image, created)
    np.maximum.at(last, image, created)
    jobs = np.bincount(image, minlength=count)
    isolated_jobs = np.bincount(image, weights=isolated, minlength=count)
    table = pd.DataFrame(
        {
            "image_uri": np.asarray(images.astype(str), dtype=object),
            "jobs": jobs,
            "teams": team_counts,
            "team_names": team_names,
            "isolated_jobs": isolated_jobs,
            "isolated_share": 100.0 * isolated_jobs / jobs,
            "failed": np.bincount(image, weights=failed, minlength=count),
            "missing_dependency_isolated": np.bincount(image, weights=lacking, minlength=count),
            **by_class,
            "first_used": from_micros(first),
            "last_used": from_micros(last),
        }
    )
    counts = ["jobs", "teams", "isolated_jobs", "failed", "missing_dependency_isolated", *FAILURE_CLASSES]
    table = table.astype(dict.fromkeys(counts, np.int64))
    parts = pd.DataFrame([parse_image(uri) for uri in table["image_uri"]], index=table.index)
    table = pd.concat([table, parts], axis=1)
    columns, ascending = zip(*RANK_ORDER, strict=True)
    table = table.sort_values(list(columns), ascending=list(ascending), ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1, dtype=np.int64)
    return table[list(IMAGE_COLUMNS)]


def _used(found: np.ndarray, distinct: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Codes renumbered over the values in use (a categorical may carry categories no run has)."""
    used, renumbered = np.unique(found, return_inverse=True)
    return renumbered.reshape(-1).astype(np.int64), distinct[used]


def _teams(image: np.ndarray, team: pd.Series, *, count: int) -> tuple[np.ndarray, list[str]]:
    """Per image code: how many teams ran it, and their names in text order, comma-separated."""
    found, teams = codes(team)
    pairs = np.unique(image * (len(teams) + 1) + (found + 1))  # distinct (image, team) pairs
    pair_image, pair_team = pairs // (len(teams) + 1), pairs % (len(teams) + 1) - 1
    named = pair_team >= 0
    texts = np.asarray(teams.astype(str), dtype=object)
    names = [", ".join(sorted(texts[pair_team[named & (pair_image == code)]])) for code in range(count)]
    return np.bincount(pair_image[named], minlength=count), names
