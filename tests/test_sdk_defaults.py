"""infra/sagemaker-sdk-defaults.yaml against the SageMaker Python SDK's published config schema.

The schema is vendored in tests/data/sagemaker_config_schema.json (its source and version are in the file):
the SDK is not a dependency of isoaudit. jsonschema comes with Prefect.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

DEFAULTS = Path(__file__).resolve().parents[1] / "infra" / "sagemaker-sdk-defaults.yaml"
VENDORED = json.loads((Path(__file__).parent / "data" / "sagemaker_config_schema.json").read_text())
SCHEMA = VENDORED["schema"]
# "# VpcConfig:", "#   SecurityGroupIds: ..." and "#   Subnets: ...": the block an organization with a VPC
# uncomments.
_VPC_LINE = re.compile(r"^(\s*)# (VpcConfig:|  SecurityGroupIds:|  Subnets:)", re.MULTILINE)


def defaults(*, with_vpc: bool = False) -> dict[str, Any]:
    text = DEFAULTS.read_text()
    if with_vpc:
        text = _VPC_LINE.sub(r"\1\2", text)
    return yaml.safe_load(text)


def validate(document: dict[str, Any]) -> None:
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_vendored_schema_says_where_it_comes_from() -> None:
    assert "sagemaker-2.257.7" in VENDORED["_source"]
    assert "src/sagemaker/config/config_schema.py" in VENDORED["_source"]
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("with_vpc", [False, True], ids=["as shipped", "with the VPC block"])
def test_the_defaults_file_is_valid_for_the_sdk(with_vpc: bool) -> None:
    document = defaults(with_vpc=with_vpc)
    validate(document)
    assert document["SchemaVersion"] == "1.0"
    sagemaker = document["SageMaker"]
    assert sagemaker["TrainingJob"]["EnableNetworkIsolation"] is True
    assert sagemaker["ProcessingJob"]["NetworkConfig"]["EnableNetworkIsolation"] is True
    if with_vpc:
        assert sagemaker["TrainingJob"]["VpcConfig"]["Subnets"]
        assert sagemaker["ProcessingJob"]["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"]


def test_the_schema_would_catch_a_misspelled_or_mistyped_key() -> None:
    """The check has teeth: the SDK refuses these, so a typo in the file would not pass unnoticed."""
    misspelled = copy.deepcopy(defaults())
    misspelled["SageMaker"]["TrainingJob"]["EnableNetworkIsolaton"] = True
    mistyped = copy.deepcopy(defaults())
    mistyped["SageMaker"]["ProcessingJob"]["NetworkConfig"]["EnableNetworkIsolation"] = "yes"
    # Tuning jobs take their Estimator's isolation: the schema has no section for them.
    tuning = copy.deepcopy(defaults())
    tuning["SageMaker"]["HyperParameterTuningJob"] = {"EnableNetworkIsolation": True}
    for document in (misspelled, mistyped, tuning):
        with pytest.raises(jsonschema.ValidationError):
            validate(document)
