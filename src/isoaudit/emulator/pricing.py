"""The AWS Price List API's `GetProducts` for SageMaker's instances, which moto does not have.

Answers as AWS does (botocore's documented example, tests/data/pricing_get_products_example.json): a JSON
document with `FormatVersion` "aws_v1", `PriceList` as a list of JSON *strings*, each a product with its
attributes and its `OnDemand` terms, and `NextToken` while more remain (pages of MaxResults, default 100).
Filters are `TERM_MATCH` on product attributes (`productFamily`, `regionCode`, `instanceName`,
`platoinstancetype`, `usagetype`, ...), all of which must match. The catalog holds the demo's instance types
for training and processing in a few regions, at list prices of late 2026 (us-east-1; other regions at a
regional factor); a type not in it has no product, as a type the Price List does not know.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# USD per hour in us-east-1, training; processing is priced the same for these types.
US_EAST_1_HOURLY = {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.g4dn.xlarge": 0.736,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
    "ml.g5.12xlarge": 7.09,
    "ml.p3.2xlarge": 3.825,
    "ml.p4d.24xlarge": 37.688,
}
# Region -> (usage type prefix, location as the Price List names it, price factor to us-east-1).
REGIONS = {
    "us-east-1": ("USE1", "US East (N. Virginia)", 1.0),
    "us-west-2": ("USW2", "US West (Oregon)", 1.0),
    "eu-west-1": ("EU", "EU (Ireland)", 1.1),
    "eu-central-1": ("EUC1", "EU (Frankfurt)", 1.2),
}
# platoinstancetype -> the usage type's operation part.
USES = {"Training": "Train", "Processing": "Processing"}
EFFECTIVE_DATE = "2026-11-01T00:00:00Z"
PUBLICATION = "2026-11-20T18:00:00Z"
_ON_DEMAND_TERM = "JRTCKXETXF"  # AWS's code of the on-demand offer term
_RATE_CODE = "6YS6EN2CT7"


def _product(region: str, instance_type: str, use: str) -> dict[str, Any]:
    prefix, location, factor = REGIONS[region]
    usage_type = f"{prefix}-{USES[use]}:{instance_type}"
    sku = hashlib.sha256(usage_type.encode()).hexdigest()[:16].upper()
    price = round(US_EAST_1_HOURLY[instance_type] * factor, 4)
    term = f"{sku}.{_ON_DEMAND_TERM}"
    return {
        "product": {
            "productFamily": "ML Instance",
            "attributes": {
                "servicecode": "AmazonSageMaker",
                "servicename": "Amazon SageMaker",
                "location": location,
                "locationType": "AWS Region",
                "regionCode": region,
                "instanceName": instance_type,
                "instanceType": f"{instance_type}-{use}",
                "platoinstancetype": use,
                "platoinstancename": instance_type,
                "component": use,
                "usagetype": usage_type,
                "operation": "RunInstance",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonSageMaker",
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.{_RATE_CODE}": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"${price} per Hour for {instance_type} {use} in {location}",
                            "appliesTo": [],
                            "rateCode": f"{term}.{_RATE_CODE}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{price:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": EFFECTIVE_DATE,
                    "offerTermCode": _ON_DEMAND_TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": "20261120180000",
        "publicationDate": PUBLICATION,
    }


CATALOG = [
    _product(region, instance_type, use)
    for region in REGIONS
    for instance_type in US_EAST_1_HOURLY
    for use in USES
]


def get_products(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one GetProducts request (see the module docstring)."""
    conditions = [
        (condition["Field"], condition["Value"])
        for condition in request.get("Filters") or []
        if condition.get("Type", "TERM_MATCH") == "TERM_MATCH"
    ]
    matching = [
        product
        for product in CATALOG
        if request.get("ServiceCode") == "AmazonSageMaker"
        and all(_attribute(product, name) == value for name, value in conditions)
    ]
    offset = int(request.get("NextToken") or 0)
    size = min(int(request.get("MaxResults") or 100), 100)
    answer: dict[str, Any] = {
        "FormatVersion": "aws_v1",
        "PriceList": [json.dumps(product) for product in matching[offset : offset + size]],
    }
    if offset + size < len(matching):
        answer["NextToken"] = str(offset + size)
    return answer


def _attribute(product: dict[str, Any], name: str) -> str | None:
    if name == "productFamily":
        return product["product"]["productFamily"]
    return product["product"]["attributes"].get(name)
