"""EC2: which regions an account has enabled."""

from __future__ import annotations

from isoaudit.aws.session import AwsSession
from isoaudit.errors import expect

ENABLED = frozenset({"opt-in-not-required", "opted-in"})


def enabled_regions(*, aws: AwsSession) -> set[str]:
    """Regions enabled in the session's account, restricted to its partition's SageMaker regions."""
    response = expect(
        aws.client("ec2").describe_regions(AllRegions=True), "Regions", operation="EC2 DescribeRegions"
    )
    enabled = {region["RegionName"] for region in response["Regions"] if region.get("OptInStatus") in ENABLED}
    return enabled & sagemaker_regions(aws=aws)


def sagemaker_regions(*, aws: AwsSession) -> set[str]:
    """Regions where SageMaker exists, from botocore's endpoint data (no API call)."""
    return set(aws.boto3_session.get_available_regions("sagemaker"))
