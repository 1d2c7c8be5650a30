"""Image health on a small organization whose ranks are worked out by hand.

One account (team ml by its tag); jobs tagged with their team (fraud, except dlc-1 and dlc-2: vision;
tool-1: untagged, so ml).

| image | runs | isolated | failed (class, isolated?) | rank | why |
| --- | --- | --- | --- | --- | --- |
| own ECR fraud/gnn:1.4 | 3 | 3 | 2 missing_dependency (isolated) | 1 | isolated runs missing packages |
| DLC pytorch-training | 4 | 2 | missing_dependency (not isolated), network_blocked (isolated) | 2 | 1 m_d |
| ghcr.io/acme/tool:2 | 1 | 0 | network_blocked | 3 | no missing package, 1 network_blocked |
| SageMaker XGBoost | 5 | 5 | none | 4 | healthy |

A tuning job whose definition names a fifth image ran nothing itself: that image has no row.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.images import AWS_DLC, AWS_SAGEMAKER, OUTSIDE_ECR, OWN_ECR, image_health, parse_image
from isoaudit.schema import ACCOUNTS, conform
from tests.jobs_factory import ACCOUNT, job, jobs_frame

GNN = "210987654321.dkr.ecr.us-east-1.amazonaws.com/fraud/gnn:1.4"
DLC = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
TOOL = "ghcr.io/acme/tool:2"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
HPO_ONLY = "999999999999.dkr.ecr.us-east-1.amazonaws.com/hpo-only:1"
NO_MODULE = "ModuleNotFoundError: No module named 'torch_geometric'"
PIP = "ERROR: No matching distribution found for lightgbm==4.3.0"
NO_HOST = "curl: (6) Could not resolve host: pypi.org"
FRAUD, VISION = json.dumps({"team": "fraud"}), json.dumps({"team": "vision"})


def run(name: str, day: int, image: str, *, isolated: bool, reason: str = "", tags: str = FRAUD) -> dict:
    failed = {"status": "Failed", "failure_reason": reason} if reason else {}
    created = f"2026-11-{day:02d}T10:00:00Z"
    return job(name, created, image_uri=image, network_isolation=isolated, tags_json=tags, **failed)


JOBS = [
    run("gnn-1", 2, GNN, isolated=True, reason=NO_MODULE),
    run("gnn-2", 3, GNN, isolated=True, reason=NO_MODULE),
    run("gnn-3", 4, GNN, isolated=True),
    run("dlc-1", 1, DLC, isolated=False, tags=VISION),
    run("dlc-2", 5, DLC, isolated=False, reason=PIP, tags=VISION),
    run("dlc-3", 6, DLC, isolated=True, reason=NO_HOST),
    run("dlc-4", 9, DLC, isolated=True),
    run("tool-1", 7, TOOL, isolated=False, reason=NO_HOST, tags="{}"),
    *(run(f"xgb-{day}", day, XGBOOST, isolated=True) for day in (10, 11, 12, 13, 14)),
    job(
        "hpo",
        "2026-11-15T10:00:00Z",
        job_kind="tuning",
        job_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/hpo",
        image_uri=HPO_ONLY,
        tuning_job_name="hpo",
    ),
]


@pytest.fixture(scope="module")
def images() -> pd.DataFrame:
    accounts = conform(
        pd.DataFrame(
            [
                {
                    "account_id": ACCOUNT,
                    "account_name": "ml-prod",
                    "account_status": "ACTIVE",
                    "ou_path": "/Workloads/Production",
                    "tags_json": json.dumps({"team": "ml"}),
                }
            ]
        ),
        ACCOUNTS,
    )
    facts = job_facts(jobs_frame(*JOBS), accounts, config=AuditConfig(bucket="isoaudit-images"))
    return image_health(facts).set_index("image_uri")


def test_images_are_ranked_by_what_to_rebuild_first(images: pd.DataFrame) -> None:
    assert list(images.index) == [GNN, DLC, TOOL, XGBOOST]
    assert list(images["rank"]) == [1, 2, 3, 4]
    assert HPO_ONLY not in images.index  # a tuning job is not a run of its image


def test_each_image_counts_its_runs_teams_isolation_and_failures(images: pd.DataFrame) -> None:
    columns = ["jobs", "teams", "isolated_jobs", "failed", "missing_dependency_isolated",
               "missing_dependency", "network_blocked", "other"]  # fmt: skip
    assert images.loc[GNN, columns].tolist() == [3, 1, 3, 2, 2, 2, 0, 0]
    assert images.loc[DLC, columns].tolist() == [4, 2, 2, 2, 0, 1, 1, 0]
    assert images.loc[TOOL, columns].tolist() == [1, 1, 0, 1, 0, 0, 1, 0]
    assert images.loc[XGBOOST, columns].tolist() == [5, 1, 5, 0, 0, 0, 0, 0]
    assert images.loc[DLC, "isolated_share"] == 50.0
    assert images.loc[DLC, "team_names"] == "fraud, vision"
    assert images.loc[TOOL, "team_names"] == "ml"  # untagged: the account's team
    assert images.loc[DLC, "first_used"] == pd.Timestamp("2026-11-01T10:00:00Z")
    assert images.loc[DLC, "last_used"] == pd.Timestamp("2026-11-09T10:00:00Z")


def test_images_from_aws_registries_are_named_as_such(images: pd.DataFrame) -> None:
    assert images.loc[DLC, ["registry", "registry_account", "region", "repository", "tag"]].tolist() == [
        AWS_DLC,
        "763104351884",
        "eu-west-1",
        "pytorch-training",
        "2.3.0-gpu-py311",
    ]
    assert images.loc[XGBOOST, "registry"] == AWS_SAGEMAKER
    assert images.loc[GNN, "registry"] == OWN_ECR
    assert images.loc[TOOL, "registry"] == OUTSIDE_ECR


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.1.0-gpu",
            (AWS_DLC, "763104351884", "us-east-1", "huggingface-pytorch-training", "2.1.0-gpu"),
        ),
        (  # another region's Deep Learning Containers registry
            "871362719292.dkr.ecr.ap-east-1.amazonaws.com/pytorch-training:2.3.0-cpu-py311",
            (AWS_DLC, "871362719292", "ap-east-1", "pytorch-training", "2.3.0-cpu-py311"),
        ),
        (  # a built-in algorithm's registry
            "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
            (AWS_SAGEMAKER, "811284229777", "us-east-1", "image-classification", "1"),
        ),
        (
            "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.3.0-gpu",
            (AWS_DLC, "727897471807", "cn-north-1", "pytorch-training", "2.3.0-gpu"),
        ),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/model@sha256:0b7a9e",
            (OWN_ECR, "123456789012", "us-east-1", "team/model", "sha256:0b7a9e"),
        ),
        ("docker.io/library/python:3.11", (OUTSIDE_ECR, "", "", "docker.io/library/python:3.11", "")),
    ],
)
def test_parse_image(uri: str, expected: tuple[str, ...]) -> None:
    parsed = parse_image(uri)
    assert tuple(parsed[key] for key in ("registry", "registry_account", "region", "repository", "tag")) == (
        expected
    )
