"""EC2: which regions an account has enabled."""

from __future__ import annotations

from collections.abc import Collection

from isoaudit.aws.session import AwsSession
from isoaudit.errors import expect

ENABLED = frozenset({"opt-in-not-required", "opted-in"})
# The commercial regions launched before 20 March 2019: enabled in every account, they cannot be disabled
# (AWS Account Management, "Enable or disable AWS Regions in your account"); every later one is opt-in.
ALWAYS_ENABLED = frozenset(
    {
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
        "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2",
        "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip


def enabled_regions(*, aws: AwsSession, among: Collection[str] = ()) -> set[str]:
    """Regions enabled in the session's account, restricted to its partition's SageMaker regions. `among`:
    the regions the caller will read; when none of them can be disabled, they are the answer without a
    call (one DescribeRegions less per account)."""
    if among and set(among) <= ALWAYS_ENABLED & sagemaker_regions(aws=aws):
        return set(among)
    response = expect(
        aws.client("ec2").describe_regions(AllRegions=True), "Regions", operation="EC2 DescribeRegions"
    )
    enabled = {region["RegionName"] for region in response["Regions"] if region.get("OptInStatus") in ENABLED}
    return enabled & sagemaker_regions(aws=aws)


def sagemaker_regions(*, aws: AwsSession) -> set[str]:
    """Regions where SageMaker exists, from botocore's endpoint data (no API call)."""
    return set(aws.boto3_session.get_available_regions("sagemaker"))
