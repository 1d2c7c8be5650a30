"""SNS: publish the new-violation alert."""

from __future__ import annotations

from isoaudit.aws.session import AwsSession


def publish(*, aws: AwsSession, topic_arn: str, subject: str, message: str) -> str:
    """Publish one message to `topic_arn` and return its message id."""
    client = aws.client("sns", region=topic_region(topic_arn))
    return client.publish(TopicArn=topic_arn, Subject=subject, Message=message)["MessageId"]


def topic_region(topic_arn: str) -> str:
    """The region of a topic, from its ARN (arn:partition:sns:region:account:name): a topic may live
    outside the session's home region, and SNS only answers for a topic in its own region."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3]:
        raise ValueError(f"{topic_arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    return parts[3]
