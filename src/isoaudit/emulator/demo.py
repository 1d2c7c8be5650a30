"""The demo Organization's story, as an `OrganizationSpec` that isoaudit.emulator.organization builds.

`demo_spec` tells this story, over the last `weeks` weeks (16 by default), in 12 member accounts under
/Workloads/Production, /Workloads/NonProduction and /Sandbox, in us-east-1 and eu-west-1:

- fraud-ml, the model team: isolated from the start, mostly in a VPC with KMS keys and inter-container
  encryption. Its EU retraining pipeline launched without isolation mid-period and was fixed in 3 days. Its
  GNN experiments switched to isolation after 9 days and keep paying `No module named 'torch_geometric'`
  failures (the cost of isolation): their own image (in the platform team's shared ECR) still lacks the
  packages, the first image to rebuild.
- search-ranking, slow: its nightly learning-to-rank pipeline ran in a VPC without isolation (vpc-only, not
  compliant) for 5 weeks; the EU twin of that pipeline was never fixed; query embeddings were isolated,
  reverted after pip failures, and isolated again; BERT fine-tuning was fixed after 4 weeks; the
  click-model family stopped running while still non-compliant (stopped is not remediated).
- forecasting, good in production, blind in development: the forecasting-dev account has no audit role
  (a coverage gap) and runs non-isolated experiments nobody sees; the Prophet pipeline was fixed after 6
  days, through a week of conda `PackagesNotFoundError` failures.
- vision, the worst: its defect-detection pipeline never ran isolated; ResNet fine-tuning was fixed after
  10 weeks; segmentation runs stopped while non-compliant; OCR training in the shared production account
  (attributed by a `Team` job tag) went vpc-only, isolated, back, and isolated again.
- nlp-platform, in the shared ML accounts (which have no team tag: its jobs carry `team` or `owner` tags):
  intent classification isolated in a VPC; LLM fine-tuning isolated after 12 days through pip
  (`transformers==4.41.0`), Hugging Face and credential failures; tokenizer training never fixed.
- data-science-sandbox: non-isolated notebook runs under the SDK's default job names, some stopped by hand;
  in the second sandbox account (no team tag) only half the jobs carry a team tag.
- unattributed: a churn model in the shared production account without any team tag, and a legacy
  account with no tags at all whose batch job stops running.
- tuning jobs: search-ranking tunes its XGBoost ranker every Thursday, 5 training jobs each, without
  isolation up to the reported week, isolated the week after (one run fails on pip: the image lacks
  lightgbm); fraud-ml tuned once, isolated; nlp-platform created an LLM tuning job without isolation on the
  reported week's last evening, still waiting for capacity: it has launched nothing. Each tuning job counts
  through its training jobs, and is listed once.

Jobs are named as the SageMaker SDK names them (`<base>-YYYY-MM-DD-HH-MM-SS-mmm`), pipelines are tagged
`pipeline=<name>`, some non-isolated jobs send `EnableNetworkIsolation=False` and others omit it, about one
job in nine fails, and a few long jobs are still in progress.

Compute, for the money measures: CPU and GPU instance types from ml.m5.xlarge to ml.g5.12xlarge, clusters of
one to two instances, a heterogeneous cluster (query embeddings: a GPU and two CPU instances), managed Spot
training (fraud GNN, BERT and LLM fine-tuning: 50-70 % of the training time not billed) and a warm pool kept
15 minutes after each defect-detection run. Ended jobs carry AWS's billing fields (`TrainingTimeInSeconds`,
`BillableTimeInSeconds`, `WarmPoolStatus`); running ones do not yet.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from isoaudit.emulator.history import STARTUP
from isoaudit.emulator.organization import (
    AccountSpec,
    JobSpec,
    OrganizationSpec,
    TuningJobSpec,
)

PRODUCTION = "/Workloads/Production"
NON_PRODUCTION = "/Workloads/NonProduction"
SANDBOX = "/Sandbox"

DEMO_ACCOUNTS = (
    AccountSpec("fraud-prod", "fraud-ml-prod", PRODUCTION, {"team": "fraud-ml", "environment": "production"}),
    AccountSpec(
        "fraud-dev", "fraud-ml-dev", NON_PRODUCTION, {"team": "fraud-ml", "environment": "development"}
    ),
    AccountSpec(
        "search-prod",
        "search-ranking-prod",
        PRODUCTION,
        {"team": "search-ranking", "environment": "production"},
    ),
    AccountSpec(
        "search-dev",
        "search-ranking-dev",
        NON_PRODUCTION,
        {"team": "search-ranking", "environment": "development"},
    ),
    AccountSpec(
        "forecasting-prod",
        "forecasting-prod",
        PRODUCTION,
        {"team": "forecasting", "environment": "production"},
    ),
    AccountSpec(
        "forecasting-dev",
        "forecasting-dev",
        NON_PRODUCTION,
        {"team": "forecasting", "environment": "development"},
        audit_role=False,
    ),
    AccountSpec("vision-prod", "vision-prod", PRODUCTION, {"team": "vision", "environment": "production"}),
    # Shared accounts: several teams, so no team tag; their jobs say whose they are (or don't).
    AccountSpec("ml-shared-prod", "ml-shared-prod", PRODUCTION, {"environment": "production"}),
    AccountSpec("ml-shared-dev", "ml-shared-dev", NON_PRODUCTION, {"environment": "development"}),
    AccountSpec(
        "sandbox-1", "ds-sandbox-1", SANDBOX, {"team": "data-science-sandbox", "environment": "sandbox"}
    ),
    AccountSpec("sandbox-2", "ds-sandbox-2", SANDBOX, {"environment": "sandbox"}),
    AccountSpec("legacy-analytics", "legacy-analytics", NON_PRODUCTION),
)

_DLC_REGISTRY = "763104351884"  # AWS Deep Learning Containers: the same account in both regions
_FIRST_PARTY_REGISTRY = {"us-east-1": "683313688378", "eu-west-1": "141502667606"}  # XGBoost, scikit-learn


def _dlc(region: str, repository_tag: str) -> str:
    return f"{_DLC_REGISTRY}.dkr.ecr.{region}.amazonaws.com/{repository_tag}"


def _first_party(region: str, repository_tag: str) -> str:
    return f"{_FIRST_PARTY_REGISTRY[region]}.dkr.ecr.{region}.amazonaws.com/{repository_tag}"


# The platform team's shared ECR account, where teams push the images they build on top of AWS's.
_PLATFORM_REGISTRY = "210987654321"


def _own(region: str, repository_tag: str) -> str:
    return f"{_PLATFORM_REGISTRY}.dkr.ecr.{region}.amazonaws.com/{repository_tag}"


def _script_error(
    message: str, *, command: str = "/opt/conda/bin/python3.10 train.py", exit_code: int = 1
) -> str:
    """A FailureReason as SageMaker writes it when the training script exits with an error."""
    return (
        f'AlgorithmError: ExecuteUserScriptError:\nExitCode {exit_code}\nErrorMessage "{message}"\n'
        f'Command "{command}", exit code: {exit_code}'
    )


def _no_module(package: str) -> str:
    return _script_error(f"ModuleNotFoundError: No module named '{package}'")


def _pip_not_found(requirement: str) -> str:
    return (
        "AlgorithmError: InstallRequirementsError:\nExitCode 1\n"
        'ErrorMessage "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, '
        "status=None)) after connection broken by "
        "'NewConnectionError(\\'<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f2a1c3b5e50>: "
        f"Failed to establish a new connection: [Errno -3] Temporary failure in name resolution\\')': "
        f"/simple/{requirement.split('==')[0]}/\n"
        f"ERROR: Could not find a version that satisfies the requirement {requirement} "
        "(from versions: none)\n"
        f'ERROR: No matching distribution found for {requirement}"\n'
        'Command "/opt/conda/bin/python3.10 -m pip install -r requirements.txt", exit code: 1'
    )


def _conda_not_found(package: str) -> str:
    return _script_error(
        "PackagesNotFoundError: The following packages are not available from current channels:\n\n"
        f"  - {package}\n\nCurrent channels:\n\n  - https://conda.anaconda.org/conda-forge/linux-64",
        command=f"/bin/sh -c conda install -y -c conda-forge {package}",
    )


COULD_NOT_RESOLVE_PYPI = _script_error(
    "curl: (6) Could not resolve host: pypi.org",
    command="/bin/sh -c curl -sSf https://pypi.org/simple/lightgbm/",
    exit_code=6,
)
HUGGING_FACE_TIMEOUT = _script_error(
    "OSError: We couldn't connect to 'https://huggingface.co' to load this file: "
    "HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: "
    "/meta-llama/Meta-Llama-3-8B/resolve/main/config.json (Caused by ConnectTimeoutError("
    "<urllib3.connection.HTTPSConnection object at 0x7f0c9a2d1f10>, 'Connection to huggingface.co timed out. "
    "(connect timeout=10)')): [Errno 110] Connection timed out"
)
NO_CREDENTIALS = _script_error("botocore.exceptions.NoCredentialsError: Unable to locate credentials")
S3_ACCESS_DENIED = _script_error(
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: "
    "Access Denied"
)
# A VPC without a NAT gateway blocks the internet too, by accident: vpc-only jobs sometimes fail like this.
PIP_CONNECTION_TIMED_OUT = _script_error(
    "pip._vendor.urllib3.exceptions.ConnectTimeoutError: (<pip._vendor.urllib3.connection.HTTPSConnection "
    "object at 0x7fb1d05c2a10>, 'Connection to pypi.org timed out. (connect timeout=15)'): "
    "Connection timed out",
    command="/opt/conda/bin/python3.10 -m pip install -r requirements.txt",
)
UNRELATED_FAILURES = (
    _script_error(
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 22.19 GiB total "
        "capacity; 19.87 GiB already allocated)"
    ),
    _script_error("", exit_code=137),
    _script_error("ValueError: Input contains NaN, infinity or a value too large for dtype('float32')."),
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML "
    "instance type.",
    "InternalServerError: We encountered an internal error. Please try again.",
)

# How often a job fails, by cause.
UNRELATED_FAILURE_RATE = 0.08
DATA_ACCESS_FAILURE_RATE = 0.015
VPC_WITHOUT_NAT_FAILURE_RATE = 0.04
ISOLATION_COST_RATE_FIRST_WEEK = 0.45  # right after a family turns isolation on, before its image is fixed
ISOLATION_COST_RATE = 0.03
STOPPED_BY_HAND_RATE = 0.04  # sandboxes only

# Postures, as isoaudit's metrics name them.
OPEN, VPC_ONLY, ISOLATED, ISOLATED_VPC = "open", "vpc-only", "isolated", "isolated+vpc"
ISOLATED_POSTURES = (ISOLATED, ISOLATED_VPC)


@dataclass(frozen=True)
class _Family:
    """A line of runs: who runs it, where, how often, and its posture over time."""

    account: str
    region: str
    base_name: str
    team: str
    postures: tuple[tuple[int, str], ...]  # (days after the first run, posture from then on)
    image: str
    cadence: str = "daily"  # daily: a scheduled pipeline; adhoc: people launching runs on workdays
    runs_per_week: float = 7.0
    active: tuple[float, float] = (0.0, 1.0)  # first and last run, as shares of the period
    team_tag_key: str | None = "team"  # None: the job carries no team tag (attributed by its account)
    team_tag_share: float = 1.0  # share of the jobs that carry the team tag
    pipeline: str | None = None
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    instance_groups: tuple[tuple[str, int], ...] = ()  # a heterogeneous cluster (instance_type unused)
    spot: bool = False  # managed Spot training: 50-70 % of the training time is not billed
    warm_pool_minutes: int = 0  # instances kept warm after each run for the next one (billed)
    hours: float = 1.0  # typical duration of a successful run
    encrypted: bool = False  # KMS keys and inter-container traffic encryption
    isolation_costs: tuple[str, ...] = ()  # failures once isolation is on and a dependency is missing
    isolation_cost_rate: float = ISOLATION_COST_RATE  # after the first isolated week (the image not fixed)
    in_flight: int = 0  # long runs started in the last hours, still in progress
    sdk_names: bool = True  # False: people name each job by hand (<base>-<n>)
    stopped_by_hand: bool = False


def _demo_families() -> tuple[_Family, ...]:
    use1, euw1 = "us-east-1", "eu-west-1"
    pytorch_gpu = "pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker"
    huggingface = "huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
    mxnet = "mxnet-training:1.9.0-cpu-py38-ubuntu20.04-sagemaker"
    xgboost = "sagemaker-xgboost:1.7-1"
    sklearn = "sagemaker-scikit-learn:1.2-1-cpu-py3"
    # A table, one family per entry: kept as written rather than one argument per line.
    # fmt: off
    return (
        # fraud-ml: isolated from the start; the EU pipeline is fixed in 3 days.
        _Family("fraud-prod", use1, "fraud-xgb-train", "fraud-ml", ((0, ISOLATED_VPC),),
                _first_party(use1, xgboost), pipeline="fraud-daily-retrain", hours=0.8, encrypted=True,
                isolation_costs=(_no_module("imblearn"),)),
        _Family("fraud-prod", use1, "fraud-feature-drift", "fraud-ml", ((0, ISOLATED),),
                _first_party(use1, sklearn), runs_per_week=3.5, hours=0.3, encrypted=True),
        _Family("fraud-prod", euw1, "fraud-xgb-train-eu", "fraud-ml", ((0, OPEN), (3, ISOLATED_VPC)),
                _first_party(euw1, xgboost), pipeline="fraud-daily-retrain-eu", active=(0.35, 1.0), hours=0.8,
                encrypted=True),
        _Family("fraud-dev", use1, "fraud-gnn-experiment", "fraud-ml", ((0, OPEN), (9, ISOLATED)),
                _own(use1, "fraud-ml/gnn-train:1.4"), cadence="adhoc", runs_per_week=12,
                instance_type="ml.g5.2xlarge", spot=True, isolation_cost_rate=0.15,
                hours=3,
                isolation_costs=(_no_module("torch_geometric"), _pip_not_found("torch-scatter==2.1.2"))),
        # search-ranking: vpc-only for weeks; the EU twin is never fixed.
        _Family("search-prod", use1, "ltr-lambdamart", "search-ranking", ((0, VPC_ONLY), (35, ISOLATED_VPC)),
                _first_party(use1, xgboost), pipeline="search-ltr-nightly", hours=2,
                isolation_costs=(_pip_not_found("lightgbm==4.3.0"), COULD_NOT_RESOLVE_PYPI)),
        _Family("search-prod", euw1, "ltr-lambdamart-eu", "search-ranking", ((0, VPC_ONLY),),
                _first_party(euw1, xgboost), pipeline="search-ltr-nightly-eu", hours=2),
        _Family("search-prod", use1, "query-embeddings", "search-ranking",
                ((0, OPEN), (21, ISOLATED), (30, OPEN), (56, ISOLATED)),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=5,
                instance_groups=(("ml.g5.xlarge", 1), ("ml.c5.2xlarge", 2)), hours=4,
                isolation_costs=(_pip_not_found("sentence-transformers==2.7.0"), HUGGING_FACE_TIMEOUT)),
        _Family("search-dev", use1, "ranker-bert-finetune", "search-ranking", ((0, OPEN), (28, ISOLATED)),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=9, instance_type="ml.g5.2xlarge",
                spot=True, hours=5, isolation_costs=(HUGGING_FACE_TIMEOUT,)),
        _Family("search-dev", use1, "click-model", "search-ranking", ((0, OPEN),),
                _first_party(use1, sklearn), cadence="adhoc", runs_per_week=4, active=(0.0, 0.45), hours=0.5),
        # Fixed in the last weeks of the period, so that the latest weeks have remediations to measure.
        _Family("search-dev", use1, "reranker-distill", "search-ranking", ((0, OPEN), (9, ISOLATED)),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=6, active=(0.80, 1.0), hours=2),
        _Family("fraud-dev", euw1, "fraud-graph-embeddings", "fraud-ml", ((0, OPEN), (5, ISOLATED)),
                _dlc(euw1, pytorch_gpu), cadence="adhoc", runs_per_week=5, active=(0.86, 1.0), hours=2),
        _Family("fraud-dev", use1, "chargeback-scorer", "fraud-ml", ((0, VPC_ONLY), (6, ISOLATED_VPC)),
                _first_party(use1, xgboost), pipeline="chargeback-daily", active=(0.90, 1.0), hours=0.5),
        # forecasting: isolated production; the dev account is invisible to the audit.
        _Family("forecasting-prod", use1, "demand-forecast-deepar", "forecasting", ((0, ISOLATED),),
                _dlc(use1, mxnet), pipeline="demand-forecast", instance_count=2, hours=1.5, encrypted=True),
        _Family("forecasting-prod", use1, "prophet-store-level", "forecasting", ((0, OPEN), (6, ISOLATED)),
                _first_party(use1, sklearn), pipeline="store-forecast", active=(0.1, 1.0), hours=1,
                isolation_costs=(_conda_not_found("prophet=1.1.5"),)),
        _Family("forecasting-prod", euw1, "demand-forecast-eu", "forecasting", ((0, ISOLATED),),
                _dlc(euw1, mxnet), runs_per_week=3, hours=1.5, encrypted=True),
        _Family("forecasting-dev", use1, "forecast-research", "forecasting", ((0, OPEN),),
                _dlc(use1, pytorch_gpu), cadence="adhoc", runs_per_week=8, hours=2),
        # vision: mostly open; one fix after 10 weeks.
        _Family("vision-prod", use1, "defect-detector-yolo", "vision", ((0, OPEN),),
                _dlc(use1, pytorch_gpu), pipeline="vision-defects", team_tag_key="Team", team_tag_share=0.5,
                instance_type="ml.g5.4xlarge", instance_count=2, warm_pool_minutes=15, hours=3, in_flight=1),
        _Family("vision-prod", use1, "resnet-finetune", "vision", ((0, OPEN), (70, ISOLATED)),
                _dlc(use1, pytorch_gpu), cadence="adhoc", runs_per_week=7, team_tag_key=None,
                instance_type="ml.p3.2xlarge", instance_count=2, hours=6,
                isolation_costs=(_no_module("timm"),), in_flight=1),
        _Family("vision-prod", use1, "segmentation-unet", "vision", ((0, OPEN),),
                _dlc(use1, pytorch_gpu), cadence="adhoc", runs_per_week=4, active=(0.0, 0.6),
                team_tag_key=None, instance_type="ml.g5.2xlarge", hours=4),
        _Family("ml-shared-prod", use1, "ocr-train", "vision",
                ((0, VPC_ONLY), (14, ISOLATED_VPC), (24, VPC_ONLY), (44, ISOLATED_VPC)),
                _dlc(use1, pytorch_gpu), cadence="adhoc", runs_per_week=5, team_tag_key="Team",
                instance_type="ml.g5.2xlarge", hours=2,
                isolation_costs=(_pip_not_found("paddleocr==2.7.3"),)),
        # nlp-platform: shared accounts, attributed by job tags.
        _Family("ml-shared-prod", use1, "nlp-intent-classifier", "nlp-platform", ((0, ISOLATED_VPC),),
                _dlc(use1, huggingface), pipeline="nlp-intent", instance_type="ml.g5.xlarge", hours=1.5,
                encrypted=True),
        _Family("ml-shared-prod", euw1, "nlp-ner-eu", "nlp-platform", ((0, ISOLATED),),
                _dlc(euw1, huggingface), cadence="adhoc", runs_per_week=4, instance_type="ml.g5.xlarge",
                hours=2),
        _Family("ml-shared-dev", use1, "llm-finetune-lora", "nlp-platform", ((0, OPEN), (12, ISOLATED)),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=12, team_tag_key="owner",
                instance_type="ml.g5.12xlarge", instance_count=2, spot=True, hours=8, in_flight=2,
                isolation_costs=(_pip_not_found("transformers==4.41.0"), HUGGING_FACE_TIMEOUT,
                                 NO_CREDENTIALS)),
        _Family("ml-shared-dev", use1, "tokenizer-train", "nlp-platform", ((0, OPEN),),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=3, hours=1),
        # data-science-sandbox: notebook runs under the SDK's default names, never isolated.
        _Family("sandbox-1", use1, "sagemaker-scikit-learn", "data-science-sandbox", ((0, OPEN),),
                _first_party(use1, sklearn), cadence="adhoc", runs_per_week=10, team_tag_key=None, hours=0.4,
                stopped_by_hand=True),
        _Family("sandbox-1", use1, "pytorch-training", "data-science-sandbox", ((0, OPEN),),
                _dlc(use1, pytorch_gpu), cadence="adhoc", runs_per_week=5, team_tag_key=None,
                instance_type="ml.g4dn.xlarge", hours=1.5, stopped_by_hand=True),
        _Family("sandbox-1", use1, "xgb-quick-test", "data-science-sandbox", ((0, OPEN),),
                _first_party(use1, xgboost), cadence="adhoc", runs_per_week=2, team_tag_key=None, hours=0.2,
                sdk_names=False),
        _Family("sandbox-2", use1, "huggingface-pytorch-training", "data-science-sandbox", ((0, OPEN),),
                _dlc(use1, huggingface), cadence="adhoc", runs_per_week=5, team_tag_share=0.5,
                instance_type="ml.g5.xlarge", hours=2, stopped_by_hand=True),
        # unattributed: nobody's tag anywhere.
        _Family("ml-shared-prod", use1, "churn-model", "unattributed", ((0, OPEN),),
                _first_party(use1, xgboost), pipeline="churn-weekly", runs_per_week=2, team_tag_key=None,
                hours=0.5),
        _Family("legacy-analytics", use1, "legacy-sklearn-batch", "unattributed", ((0, OPEN),),
                _first_party(use1, "sagemaker-scikit-learn:0.23-1-cpu-py3"), runs_per_week=3,
                active=(0.0, 0.7), team_tag_key=None, hours=0.5),
    )
    # fmt: on


def demo_spec(*, seed: int = 7, weeks: int = 16, now: datetime | None = None) -> OrganizationSpec:
    """The demo organization (see the module docstring), the same for the same seed, weeks and now."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    period_start = now - timedelta(weeks=weeks)
    jobs: list[JobSpec] = []
    for family in _demo_families():
        # One generator per family: adding a family leaves the others' jobs unchanged.
        rng = random.Random(f"{seed}/{family.account}/{family.region}/{family.base_name}")  # noqa: S311
        jobs.extend(_family_jobs(family, rng=rng, period_start=period_start, now=now))
    names: set[tuple[str, str, str]] = set()
    unique_jobs = []
    for job in sorted(jobs, key=lambda job: job.created_at):
        key = (job.account, job.region, job.name)
        if key not in names:  # two runs in the same millisecond would clash: keep the first
            names.add(key)
            unique_jobs.append(job)
    tuning_jobs, children = _demo_tuning(now=now, weeks=weeks)
    return OrganizationSpec(
        accounts=DEMO_ACCOUNTS,
        jobs=tuple(unique_jobs) + children,
        guarded_ou_paths=("/Workloads/Production",),
        tuning_jobs=tuning_jobs,
    )


def _demo_tuning(*, now: datetime, weeks: int) -> tuple[tuple[TuningJobSpec, ...], tuple[JobSpec, ...]]:
    """The demo's tuning jobs (see the module docstring) and the training jobs they launched, placed
    around the last complete ISO week (the week the demo reports)."""
    use1 = "us-east-1"
    xgboost = _first_party(use1, "sagemaker-xgboost:1.7-1")
    search = {"team": "search-ranking", "pipeline": "ltr-tuning"}
    this_monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    report_thursday = this_monday - timedelta(days=4) + timedelta(hours=14)
    # (account, name stem, creation time, isolation, tags, training jobs launched, a child's failure)
    plan: list[tuple[str, str, datetime, bool | None, dict[str, str], int, str]] = [
        *(
            ("search-dev", "ltr-hpo", report_thursday - timedelta(weeks=back), None, search, 5, "")
            for back in (2, 1, 0)
        ),
        ("search-dev", "ltr-hpo", report_thursday + timedelta(weeks=1), True, search, 5,
         _pip_not_found("lightgbm==4.3.0")),
        ("fraud-prod", "fraud-xgb-hpo", report_thursday - timedelta(days=10), True, {"team": "fraud-ml"},
         4, ""),
    ]  # fmt: skip
    period_start = now - timedelta(weeks=weeks)
    tuning_jobs, children = [], []
    for account, stem, created, isolation, tags, launched, failure in plan:
        if not period_start <= created <= now - timedelta(hours=3):
            continue
        name = f"{stem}-{created:%m%d}"
        tuning_jobs.append(TuningJobSpec(account, use1, name, created, isolation, tags=tags, image=xgboost))
        children.extend(
            JobSpec(
                account=account,
                region=use1,
                name=f"{name}-{number:03d}-{zlib.crc32(f'{name}/{number}'.encode()):08x}",
                created_at=created + timedelta(minutes=2 + 25 * number),
                network_isolation=isolation,
                status="Failed" if failure and number == 2 else "Completed",
                failure_reason=failure if number == 2 else "",
                duration=timedelta(minutes=20),
                tags=tags,
                image=xgboost,
                tuning_job=name,
            )
            for number in range(1, launched + 1)
        )
    # Created late on the report week's Sunday without isolation, still waiting for GPU capacity: it has
    # launched no training job, and it shows anyway.
    waiting = this_monday - timedelta(hours=1)
    tuning_jobs.append(
        TuningJobSpec(
            "ml-shared-dev", use1, f"llm-lora-hpo-{waiting:%m%d}", waiting, False, status="InProgress",
            tags={"owner": "nlp-platform"}, image=_dlc(use1, "huggingface-pytorch-training:2.1.0-gpu"),
        )
    )  # fmt: skip
    return tuple(tuning_jobs), tuple(children)


def _family_jobs(
    family: _Family, *, rng: random.Random, period_start: datetime, now: datetime
) -> list[JobSpec]:
    span = now - period_start
    first_run = period_start + span * family.active[0]
    last_run = min(period_start + span * family.active[1], now - timedelta(minutes=30))
    runs = [(moment, False) for moment in _run_times(family, rng=rng, start=first_run, end=last_run)]
    runs += [(now - timedelta(hours=rng.uniform(1, 6)), True) for _ in range(family.in_flight)]
    return [
        _job(
            family,
            rng=rng,
            created_at=created_at,
            first_run=first_run,
            number=number,
            now=now,
            running=running,
        )
        for number, (created_at, running) in enumerate(sorted(runs), start=1)
    ]


def _run_times(family: _Family, *, rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """When the family's runs are created: a pipeline's schedule, or people's working hours."""
    times = []
    scheduled_hour = rng.randrange(24)
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        weekday = day.weekday() < 5
        if family.cadence == "daily":
            expected = family.runs_per_week / 7
        else:  # people work on weekdays: the same weekly total, mostly Monday to Friday
            expected = family.runs_per_week / 7 * (1.3 if weekday else 0.25)
        runs = math.floor(expected) + (rng.random() < expected - math.floor(expected))
        for index in range(runs):
            if family.cadence == "daily":
                hour = (scheduled_hour + index * 24 // max(runs, 1)) % 24
                offset = timedelta(hours=hour, minutes=rng.uniform(0, 12))
            else:
                offset = timedelta(hours=rng.uniform(7, 19))
            moment = day + offset + timedelta(milliseconds=rng.randrange(60_000))
            if start <= moment < end:
                times.append(moment)
        day += timedelta(days=1)
    return times


def _posture_at(family: _Family, *, days: float) -> tuple[str, float | None]:
    """The posture `days` after the first run, and how many days isolation has been on (None if off)."""
    posture, since = family.postures[0][1], 0
    for start_day, step_posture in family.postures:
        if days >= start_day:
            posture, since = step_posture, start_day
    return posture, (days - since if posture in ISOLATED_POSTURES else None)


def _job(
    family: _Family,
    *,
    rng: random.Random,
    created_at: datetime,
    first_run: datetime,
    number: int,
    now: datetime,
    running: bool,
) -> JobSpec:
    """One run; `running` forces a run still in progress at `now`, whatever its usual duration."""
    days = (created_at - first_run).total_seconds() / 86400
    posture, isolated_days = _posture_at(family, days=days)
    switched_to_isolation = isolated_days is not None and days - isolated_days > 0
    status, reason = _outcome(
        family, rng=rng, posture=posture, just_isolated=switched_to_isolation and isolated_days < 7
    )
    duration = timedelta(hours=family.hours * rng.uniform(0.7, 1.3))
    if status == "Failed":
        duration = timedelta(minutes=rng.uniform(1, 15))
    elif status == "Stopped":
        duration = duration * rng.uniform(0.1, 0.5)
    if running or created_at + STARTUP + duration > now:
        # Still running at the report time: its outcome is not known yet.
        status, reason = "InProgress", ""
        duration = max(duration, now - created_at + timedelta(hours=1))
    tags = {}
    if family.team_tag_key and rng.random() < family.team_tag_share:
        tags[family.team_tag_key] = family.team
    if family.pipeline:
        tags["pipeline"] = family.pipeline
    isolation = posture in ISOLATED_POSTURES
    name = _job_name(family, created_at=created_at, number=number)
    return JobSpec(
        account=family.account,
        region=family.region,
        name=name,
        created_at=created_at,
        # The SDK omits the parameter unless asked; some teams send False explicitly.
        network_isolation=True if isolation else (False if rng.random() < 0.4 else None),
        vpc=posture in (VPC_ONLY, ISOLATED_VPC),
        status=status,
        failure_reason=reason,
        duration=duration,
        tags=tags,
        image=family.image,
        instance_type=family.instance_type,
        instance_count=family.instance_count,
        instance_groups=family.instance_groups,
        spot=family.spot,
        # From the name, not the family's random sequence: the demo's other draws stay as they were.
        spot_savings=0.5 + zlib.crc32(name.encode()) % 21 / 100 if family.spot else 0.0,
        warm_pool=timedelta(minutes=family.warm_pool_minutes),
        inter_container_encryption=family.encrypted and posture == ISOLATED_VPC,
        volume_kms_key=f"alias/{family.team}-sagemaker" if family.encrypted else "",
        output_kms_key=f"alias/{family.team}-sagemaker" if family.encrypted else "",
    )


def _outcome(family: _Family, *, rng: random.Random, posture: str, just_isolated: bool) -> tuple[str, str]:
    """(status, failure reason) of a finished run."""
    if posture in ISOLATED_POSTURES and family.isolation_costs:
        rate = ISOLATION_COST_RATE_FIRST_WEEK if just_isolated else family.isolation_cost_rate
        if rng.random() < rate:
            return "Failed", rng.choice(family.isolation_costs)
    if posture == VPC_ONLY and rng.random() < VPC_WITHOUT_NAT_FAILURE_RATE:
        return "Failed", PIP_CONNECTION_TIMED_OUT
    if rng.random() < DATA_ACCESS_FAILURE_RATE:
        return "Failed", S3_ACCESS_DENIED
    if rng.random() < UNRELATED_FAILURE_RATE:
        return "Failed", rng.choice(UNRELATED_FAILURES)
    if family.stopped_by_hand and rng.random() < STOPPED_BY_HAND_RATE:
        return "Stopped", ""
    return "Completed", ""


def _job_name(family: _Family, *, created_at: datetime, number: int) -> str:
    if not family.sdk_names:
        return f"{family.base_name}-{number}"
    milliseconds = created_at.microsecond // 1000
    return f"{family.base_name}-{created_at:%Y-%m-%d-%H-%M-%S}-{milliseconds:03d}"
