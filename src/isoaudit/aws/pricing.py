"""The AWS Price List API: the on-demand hourly price of one SageMaker instance type, for one use, in one
region.

`GetProducts` (service code `AmazonSageMaker`) answers only from a few endpoints (us-east-1, eu-central-1,
ap-south-1) but prices every region. SageMaker's instance products have the product family `ML Instance`
and name their region (`regionCode`), their instance type (`instanceName`, e.g. `ml.m5.xlarge`) and their
use (`platoinstancetype`: `Training`, `Processing`, `Hosting`, ...); their usage type reads
`USE1-Train:ml.m5.xlarge` or `USE1-Processing:ml.m5.xlarge`. Each entry of `PriceList` is a JSON document
sent as a string: the product and its terms, whose `OnDemand` price dimensions hold `pricePerUnit.USD` per
`unit` (`Hrs` for instances) and the term's `effectiveDate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isoaudit.aws.session import AwsSession
from isoaudit.errors import expect

SERVICE_CODE = "AmazonSageMaker"
PRODUCT_FAMILY = "ML Instance"
# isoaudit's name of a use -> the Price List's (platoinstancetype).
USES = {"training": "Training", "processing": "Processing"}


@dataclass(frozen=True)
class ListPrice:
    usd_per_hour: float
    usage_type: str
    effective_date: datetime


def instance_price(
    *, aws: AwsSession, endpoint_region: str, region: str, instance_type: str, usage: str
) -> tuple[ListPrice | None, int]:
    """The on-demand price of `instance_type` for `usage` in `region` (None: the Price List has no such
    product), and the number of GetProducts calls it took. AWS's errors propagate: the caller decides."""
    client = aws.client("pricing", region=endpoint_region)
    filters = [
        {"Type": "TERM_MATCH", "Field": field, "Value": value}
        for field, value in (
            ("productFamily", PRODUCT_FAMILY),
            ("regionCode", region),
            ("instanceName", instance_type),
            ("platoinstancetype", USES[usage]),
        )
    ]
    found: list[ListPrice] = []
    calls, token = 0, None
    while True:
        request: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "Filters": filters, "FormatVersion": "aws_v1"}
        if token:
            request["NextToken"] = token
        answer = expect(client.get_products(**request), "PriceList", operation="pricing GetProducts")
        calls += 1
        found.extend(price for entry in answer["PriceList"] if (price := hourly_price(entry, instance_type)))
        token = answer.get("NextToken")
        if not token:
            break
    # Several products (rare: a price being replaced) all apply: the latest effective one is the price.
    return (max(found, key=lambda price: price.effective_date) if found else None), calls


def hourly_price(entry: str | dict[str, Any], instance_type: str | None = None) -> ListPrice | None:
    """The hourly USD on-demand price of one PriceList entry (a JSON string, as AWS sends it); None when
    the entry is not an hourly USD price (of `instance_type`, when given: its usage type ends with it)."""
    document = json.loads(entry) if isinstance(entry, str) else entry
    if not isinstance(document, dict):
        return None
    attributes = (document.get("product") or {}).get("attributes") or {}
    usage_type = str(attributes.get("usagetype", ""))
    if instance_type is not None and not usage_type.endswith(f":{instance_type}"):
        return None
    for term in ((document.get("terms") or {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            price = (dimension.get("pricePerUnit") or {}).get("USD")
            if dimension.get("unit") not in ("Hrs", "Hours") or price is None:
                continue
            return ListPrice(
                usd_per_hour=float(price),
                usage_type=usage_type,
                effective_date=datetime.fromisoformat(str(term["effectiveDate"]).replace("Z", "+00:00")),
            )
    return None
