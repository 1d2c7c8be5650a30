"""The AWS regions botocore knows, for validating the configuration's region names."""

from __future__ import annotations

from functools import cache


@cache
def known_regions() -> frozenset[str]:
    """Region names botocore knows, in every partition (no API call); loaded on first use, so that
    importing the configuration (as isoaudit.metrics does) builds no botocore session.

    Read from botocore's endpoints data (its partitions' regions): the same 46 names as EC2's available
    regions, which botocore finds by loading EC2's service model first (0.24 s of every run's start,
    before Prefect's server could be launched)."""
    from botocore.session import get_session

    endpoints = get_session().get_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])
