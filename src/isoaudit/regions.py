"""The AWS regions botocore knows, for validating the configuration's region names."""

from __future__ import annotations

from functools import cache


@cache
def known_regions() -> frozenset[str]:
    """Region names botocore knows, in every partition (no API call); loaded on first use, so that
    importing the configuration (as isoaudit.metrics does) builds no botocore session."""
    from botocore.session import get_session

    session = get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    )
