"""Amazon SES in the emulator: the demo's mail configuration, its verified sender, and the messages moto
kept (moto delivers nothing: it keeps every message sent, in this process's memory)."""

from __future__ import annotations

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from isoaudit.emulator.organization import HOME_REGION, OrganizationSpec, management_session

DEMO_DOMAIN = "demo.example"
TEAM_TAG_KEYS = ("team", "Team", "owner")


def demo_email(spec: OrganizationSpec) -> dict[str, Any]:
    """The demo's [email] section: FinOps, and one lead per team that tags its accounts or jobs."""
    teams = {
        value
        for tags in [*(account.tags for account in spec.accounts), *(job.tags for job in spec.jobs)]
        for key, value in tags.items()
        if key in TEAM_TAG_KEYS
    }
    return {
        "sender": f"isoaudit@{DEMO_DOMAIN}",
        "finops": [f"finops@{DEMO_DOMAIN}"],
        "teams": {team: [f"{team}-lead@{DEMO_DOMAIN}"] for team in sorted(teams)},
    }


def verify_sender(*, endpoint_url: str, sender: str) -> None:
    """Verify `sender` as an SES identity of the management account (moto verifies at once)."""
    management_session(endpoint_url=endpoint_url).client("ses").verify_email_identity(EmailAddress=sender)


def sent_messages(*, account_id: str = DEFAULT_ACCOUNT_ID, region: str = HOME_REGION) -> list[str]:
    """The raw MIME text of every message sent through the emulator's SES, oldest first."""
    return [message.raw_data for message in ses_backends[account_id][region].sent_messages]
