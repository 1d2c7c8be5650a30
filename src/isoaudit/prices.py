"""Prices of the compute the jobs used, kept in the lake: a run reads from the Price List API only the
(region, instance type, use) triples its jobs need whose stored price is missing or older than
`price_max_age_days`, a handful of calls, never one per job nor the whole catalog.

When prices cannot be read (access denied, a partition without the API, a type the Price List does not
have), the run goes on and the jobs concerned are unpriced: counted and shown as such, never as $0.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from botocore.session import get_session

from isoaudit.aws import lake, pricing
from isoaudit.aws.lake_view import LakeView
from isoaudit.aws.session import AwsSession
from isoaudit.config import AuditConfig
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.schema import PRICES, conform

log = logging.getLogger(__name__)

KEY = ["region", "instance_type", "usage"]


@dataclass(frozen=True)
class PriceBook:
    """The prices known after this run (PRICES rows), the Price List calls it cost, and why some could not
    be read ("" when nothing failed)."""

    prices: pd.DataFrame
    calls: int
    failure: str = ""


def needed(jobs: pd.DataFrame) -> set[tuple[str, str, str]]:
    """(region, instance type, use) of every run's instances: training and processing jobs (a tuning job
    is priced through its training jobs)."""
    runs = jobs[jobs["job_kind"].isin(pricing.USES)]
    distinct = runs[["region", "instance_groups_json", "job_kind"]].drop_duplicates()
    return {
        (region, instance_type, kind)
        for region, groups, kind in distinct.itertuples(index=False)
        for instance_type in (json.loads(groups) if isinstance(groups, str) and groups else {})
    }


def refresh(
    *,
    aws: AwsSession,
    config: AuditConfig,
    jobs: pd.DataFrame,
    now: datetime,
    lake_files: LakeView | None = None,
) -> PriceBook:
    """Read the missing and stale prices the jobs need, store them with the others, return them all.

    The small table is rewritten every run, like the other unpartitioned tables: a copy left by an
    interrupted write is then cleaned up by the next run."""
    stored = lake.read_table(aws=aws, config=config, table="prices", lake=lake_files)
    fresh = stored[stored["fetched_at"] >= pd.Timestamp(now) - timedelta(days=config.price_max_age_days)]
    known = set(fresh[KEY].itertuples(index=False, name=None))
    wanted = sorted(needed(jobs) - known)
    rows, calls, failure = _read(aws=aws, config=config, wanted=wanted, now=now)
    if failure:
        log.warning("prices not read, the jobs concerned are unpriced: %s", failure)
    prices = stored
    if rows:
        read = pd.DataFrame(rows)
        for column in ("effective_date", "fetched_at"):
            read[column] = pd.to_datetime(read[column], utc=True)
        replaced = stored.merge(read[KEY], on=KEY, how="left", indicator=True)["_merge"] == "both"
        prices = conform(pd.concat([stored[~replaced.to_numpy()], conform(read, PRICES)]), PRICES)
    lake.write_table(aws=aws, config=config, table="prices", frame=prices, lake=lake_files)
    return PriceBook(prices=prices, calls=calls, failure=failure)


def _read(
    *, aws: AwsSession, config: AuditConfig, wanted: list[tuple[str, str, str]], now: datetime
) -> tuple[list[dict[str, object]], int, str]:
    """PRICES rows of `wanted` from the Price List API (a product it does not have: no price), the calls
    made, and why the others could not be read ("" when all were)."""
    if not wanted:
        return [], 0, ""
    partition = get_session().get_partition_for_region(config.home_region)
    if partition != "aws":
        return [], 0, f"the Price List API does not serve the {partition} partition"
    rows: list[dict[str, object]] = []
    calls = 0
    for region, instance_type, usage in wanted:
        try:
            price, used = pricing.instance_price(
                aws=aws,
                endpoint_region=config.pricing_region,
                region=region,
                instance_type=instance_type,
                usage=usage,
            )
        except AUDIT_ERRORS as exc:
            # Denied or broken for one product is denied for all: one failed call says so, not one per type.
            return rows, calls + 1, describe_failure(exc, context="Price List API")
        calls += used
        rows.append(
            {
                "region": region,
                "instance_type": instance_type,
                "usage": usage,
                "usd_per_hour": price.usd_per_hour if price else None,
                "usage_type": price.usage_type if price else "",
                "effective_date": price.effective_date if price else None,
                "fetched_at": now,
            }
        )
    return rows, calls, ""
