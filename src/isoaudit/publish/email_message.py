"""The report's email: one MIME message per audience, with the executive page as its HTML body, a
plain-text alternative, and the workbook attached (or, when too large for SES, named by its S3 key)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.html_page import render_page

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    s3_uri: str  # where the archive keeps the same file: named instead when the message would be too large


def subject(report: WeeklyReport) -> str:
    """Week and headline: isolation rate, violations and exposed spend (of the team, for a team's slice)."""
    rate = report.org.get("isolation_rate")
    rate_text = "n/a" if rate is None or math.isnan(float(rate)) else f"{float(rate):.1f} %"
    violations = int(report.org.get("violations") or 0)
    team = f" · {report.audience}" if report.audience else ""
    noun = "violation" if violations == 1 else "violations"
    return (
        f"isoaudit {report.week}{team}: isolation rate {rate_text}, {violations} {noun} · "
        f"{_usd(report.org.get('exposed_spend_usd'))} exposed spend"
    )


def build_message(
    report: WeeklyReport,
    *,
    sender: str,
    recipients: Sequence[str],
    attachment: Attachment,
    size_limit: int,
) -> tuple[bytes, bool]:
    """The raw message (RFC 5322 bytes) and whether the workbook is attached. Over `size_limit` bytes with
    the workbook, the message is built again without it and says where the workbook is instead."""
    attached_note = f"The workbook {attachment.filename} is attached (also archived at {attachment.s3_uri})."
    raw = _raw(report, sender, recipients, note=attached_note, attachment=attachment)
    if len(raw) <= size_limit:
        return raw, True
    linked_note = (
        f"The workbook {attachment.filename} ({len(attachment.content) / 1e6:.1f} MB) is too large to "
        f"attach (SES takes messages up to {size_limit / 1e6:.0f} MB): it is in S3 at {attachment.s3_uri}"
    )
    return _raw(report, sender, recipients, note=linked_note, attachment=None), False


def _raw(
    report: WeeklyReport,
    sender: str,
    recipients: Sequence[str],
    *,
    note: str,
    attachment: Attachment | None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(report)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(plain_text(report, note=note))
    message.add_alternative(render_page(report, workbook_note=note), subtype="html")
    if attachment is not None:
        message.add_attachment(
            attachment.content, maintype=XLSX[0], subtype=XLSX[1], filename=attachment.filename
        )
    return message.as_bytes()


def plain_text(report: WeeklyReport, *, note: str) -> str:
    """The same headline for mail clients that show no HTML."""
    org = report.org
    team = f" (team {report.audience})" if report.audience else ""
    lines = [
        f"isoaudit {report.week}{team}: SageMaker jobs without network isolation",
        "",
        f"Jobs created:        {_count(org.get('jobs'))}",
        f"Isolation rate:      {_rate(org.get('isolation_rate'))} "
        f"(production {_rate(org.get('production_isolation_rate'))})",
        f"Violations:          {_count(org.get('violations'))} ({_count(org.get('new_violations'))} new)",
        f"Open exposures:      {_count(org.get('episodes_open'))} episodes",
        f"Spend (list price):  {_usd(org.get('spend_usd'))}, exposed {_usd(org.get('exposed_spend_usd'))}",
        f"Audit coverage:      {_rate(org.get('audit_coverage'))}",
        "",
        note,
        "",
        "Compliant means network isolation on (EnableNetworkIsolation): a VPC is not isolation.",
    ]
    return "\n".join(lines) + "\n"


def _rate(value: object) -> str:
    return "n/a" if value is None or math.isnan(float(value)) else f"{float(value):.1f} %"  # type: ignore[arg-type]


def _count(value: object) -> str:
    return "n/a" if value is None or math.isnan(float(value)) else f"{round(float(value)):,}"  # type: ignore[arg-type]


def _usd(value: object) -> str:
    """Dollars, or "n/a" when unknown (unpriced is never $0)."""
    return "n/a" if value is None or math.isnan(float(value)) else f"${float(value):,.2f}"  # type: ignore[arg-type]
