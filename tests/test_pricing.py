"""The Price List API: the parser on AWS's own documented answer, the emulator's GetProducts in the same
wire format, prices per (region, type, use), negotiated rates, and the configuration's money fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

from isoaudit.aws import pricing
from isoaudit.aws.session import AwsSession
from isoaudit.config import ConfigError, load_config
from isoaudit.metrics.money import Rates
from isoaudit.schema import PRICES, conform

EXAMPLE = json.loads((Path(__file__).parent / "data" / "pricing_get_products_example.json").read_text())


def test_the_documented_answer_is_parsed_and_only_hourly_prices_are_taken() -> None:
    (entry,) = EXAMPLE["response"]["PriceList"]
    assert isinstance(entry, str)  # each product is a JSON document sent as a string
    # The example is an EBS volume priced per GB-month: not an instance-hour, so not a price here.
    assert pricing.hourly_price(entry) is None
    hourly = entry.replace('"unit":"GB-Mo"', '"unit":"Hrs"')
    price = pricing.hourly_price(hourly)
    assert price == pricing.ListPrice(
        usd_per_hour=0.138,
        usage_type="CAN1-EBS:VolumeUsage.piops",
        effective_date=datetime(2017, 8, 1, tzinfo=UTC),
    )
    # A product of another instance type than the one asked for is not its price.
    assert pricing.hourly_price(hourly, "ml.m5.xlarge") is None


def _shape(value: Any) -> Any:
    """The keys at every level (the SKU- and term-code keys of `terms` replaced by one placeholder)."""
    if isinstance(value, dict):
        coded = all(key.isupper() or "." in key for key in value) and len(value) == 1
        return {("<code>" if coded else key): _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.fixture(scope="module")
def client(emulator) -> Any:
    return AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url).client("pricing")


def test_the_emulator_answers_in_the_documented_wire_format(client) -> None:
    answer = client.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
        FormatVersion="aws_v1",
        MaxResults=1,
    )
    documented = EXAMPLE["response"]
    assert answer["FormatVersion"] == documented["FormatVersion"] == "aws_v1"
    assert answer["NextToken"]  # one product a page: more remain
    (entry,) = answer["PriceList"]
    assert isinstance(entry, str)
    ours, theirs = json.loads(entry), json.loads(documented["PriceList"][0])
    assert ours.keys() == theirs.keys()
    assert ours["product"].keys() == theirs["product"].keys()
    assert _shape(ours["terms"]) == _shape(theirs["terms"])
    following = client.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
        MaxResults=1,
        NextToken=answer["NextToken"],
    )
    assert following["PriceList"] != answer["PriceList"]


def test_a_price_is_read_per_region_type_and_use(emulator) -> None:
    aws = AwsSession(boto3.Session(region_name="us-east-1"), endpoint_url=emulator.url)

    def price(region: str, instance_type: str, usage: str) -> pricing.ListPrice | None:
        found, calls = pricing.instance_price(
            aws=aws, endpoint_region="us-east-1", region=region, instance_type=instance_type, usage=usage
        )
        assert calls == 1
        return found

    training = price("us-east-1", "ml.g5.2xlarge", "training")
    assert training is not None and training.usd_per_hour == pytest.approx(1.515)
    assert training.usage_type == "USE1-Train:ml.g5.2xlarge"
    processing = price("eu-west-1", "ml.m5.xlarge", "processing")
    assert processing is not None and processing.usage_type == "EU-Processing:ml.m5.xlarge"
    assert price("us-east-1", "ml.trn1.32xlarge", "training") is None  # not in the Price List


def test_negotiated_rates_override_list_prices_and_price_unlisted_types() -> None:
    prices = conform(
        pd.DataFrame(
            [
                {"region": "us-east-1", "instance_type": "ml.m5.xlarge", "usage": "training",
                 "usd_per_hour": 0.23, "usage_type": "USE1-Train:ml.m5.xlarge",
                 "effective_date": pd.Timestamp("2026-11-01", tz="UTC"),
                 "fetched_at": pd.Timestamp("2026-11-20", tz="UTC")},
                {"region": "us-east-1", "instance_type": "ml.g5.xlarge", "usage": "training",
                 "usd_per_hour": None, "usage_type": "", "effective_date": pd.NaT,
                 "fetched_at": pd.Timestamp("2026-11-20", tz="UTC")},
            ]
        ),
        PRICES,
    )  # fmt: skip
    listed = Rates.from_prices(prices, {})
    assert listed.of("us-east-1", "ml.m5.xlarge", "training") == pytest.approx(0.23)
    assert listed.of("us-east-1", "ml.g5.xlarge", "training") is None  # unknown stays unknown, not 0
    negotiated = Rates.from_prices(prices, {"ml.m5.xlarge": 0.18, "ml.p4d.24xlarge": 25.0})
    assert negotiated.of("us-east-1", "ml.m5.xlarge", "training") == pytest.approx(0.18)
    assert negotiated.of("eu-west-1", "ml.p4d.24xlarge", "processing") == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("pricing_region", "eu-west-1", "pricing_region: 'eu-west-1': the Price List API answers only in"),
        ("negotiated_rates", {"m5.xlarge": 0.2}, "is not a SageMaker instance type"),
        ("negotiated_rates", {"ml.m5.xlarge": 0}, "expected USD per hour above 0"),
        ("cur_table", "billing.cur2; DROP TABLE x", "cur_table: expected database.table"),
        ("price_max_age_days", 0, "price_max_age_days"),
    ],
)
def test_money_settings_are_checked_before_any_call(field: str, value: object, says: str) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        load_config(None, bucket="isoaudit-lake", **{field: value})
    assert says in str(raised.value)
