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

from isoaudit.metrics.episodes import runs_only
from isoaudit.metrics.failures import FAILURE_CLASSES

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
    """IMAGE_COLUMNS, one row per image of the runs in `facts` (JOB_FACTS), in rank order (1 first)."""
    runs = runs_only(facts)
    failed = (runs["status"] == "Failed").to_numpy(dtype=bool)
    failure_class = runs["failure_class"].astype(str).to_numpy()
    isolated = runs["compliant"].to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {
            "image_uri": runs["image_uri"].astype(str).to_numpy(),
            "team": runs["team"].astype(str).to_numpy(),
            "isolated": isolated,
            "failed": failed,
            "missing_dependency_isolated": failed & isolated & (failure_class == "missing_dependency"),
            **{name: failed & (failure_class == name) for name in FAILURE_CLASSES},
            "created": runs["creation_time"].to_numpy(),
        }
    )
    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in IMAGE_COLUMNS})
    groups = frame.groupby("image_uri", sort=False)
    counts = ["failed", "missing_dependency_isolated", *FAILURE_CLASSES]
    table = groups[counts].sum().astype(np.int64)
    table["jobs"] = groups.size()
    table["isolated_jobs"] = groups["isolated"].sum().astype(np.int64)
    table["isolated_share"] = 100.0 * table["isolated_jobs"] / table["jobs"]
    table["teams"] = groups["team"].nunique()
    table["team_names"] = groups["team"].agg(lambda teams: ", ".join(sorted(set(teams))))
    table["first_used"] = groups["created"].min()
    table["last_used"] = groups["created"].max()
    table = table.reset_index()
    parts = pd.DataFrame([parse_image(uri) for uri in table["image_uri"]], index=table.index)
    table = pd.concat([table, parts], axis=1)
    columns, ascending = zip(*RANK_ORDER, strict=True)
    table = table.sort_values(list(columns), ascending=list(ascending), ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1, dtype=np.int64)
    for column in ("first_used", "last_used"):
        table[column] = pd.to_datetime(table[column], utc=True)
    return table[list(IMAGE_COLUMNS)]
