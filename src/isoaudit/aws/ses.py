"""Amazon SES (API v1): send the weekly report as raw MIME, and tell whether the sender is verified."""

from __future__ import annotations

from collections.abc import Sequence

from isoaudit.aws.session import AwsSession

# SendRawEmail refuses a message over 10 MB, attachments and their base64 encoding included (SES API v1
# reference, SendRawEmail; API v2 and SMTP take 40 MB).
RAW_MESSAGE_LIMIT = 10 * 1000 * 1000


def send_raw(*, aws: AwsSession, sender: str, recipients: Sequence[str], raw: bytes) -> str:
    """Send one MIME message to `recipients` (the envelope; the headers say the same) and return its id."""
    answer = aws.client("ses").send_raw_email(
        Source=sender, Destinations=list(recipients), RawMessage={"Data": raw}
    )
    return answer["MessageId"]


def verification_status(*, aws: AwsSession, sender: str) -> str:
    """Return "Success" when the address, or its domain, is a verified identity; else the status SES gives (or
    "NotStarted" when SES knows neither)."""
    domain = sender.rpartition("@")[2]
    answer = aws.client("ses").get_identity_verification_attributes(Identities=[sender, domain])
    statuses = [item["VerificationStatus"] for item in answer["VerificationAttributes"].values()]
    return "Success" if "Success" in statuses else (statuses[0] if statuses else "NotStarted")
