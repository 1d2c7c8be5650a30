"""The report reaches its readers: the executive page beside the workbook, the archive in S3, and one email
per audience through SES.

Archive: `<prefix>/reports/<ISO week>/` in the lake's bucket holds the workbook, the run's JSON summary,
the teams' workbooks that were emailed, and one marker per audience emailed (`sent/<audience>.json`). A
re-run of a week replaces the files and sends nothing again (the markers say it was sent) unless asked to
resend. Every message sent is also saved as `<reports_dir>/outbox/<audience>.eml`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from isoaudit.aws import reports, ses
from isoaudit.aws.session import AwsSession
from isoaudit.collect import AuditRun
from isoaudit.config import AuditConfig, EmailConfig
from isoaudit.errors import AUDIT_ERRORS, describe_failure
from isoaudit.metrics.report import WeeklyReport
from isoaudit.publish.email_message import Attachment, build_message
from isoaudit.publish.excel import write_workbook
from isoaudit.publish.html_page import write_page
from isoaudit.publish.team_slice import file_safe, team_report

log = logging.getLogger(__name__)
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FINOPS = "finops"


@dataclass(frozen=True)
class Delivery:
    page: Path
    workbook_uri: str
    summary_uri: str
    emails: list[dict[str, Any]]  # one per audience: audience, status (sent, already sent, failed), ...


def workbook_key(config: AuditConfig, week: str) -> str:
    """Where the week's workbook is archived (the new-violation alert names it)."""
    return f"{reports.week_prefix(config, week)}/isoaudit-{week}.xlsx"


def deliver(
    *,
    aws: AwsSession,
    config: AuditConfig,
    run: AuditRun,
    weekly: WeeklyReport,
    workbook: Path,
    summary: dict[str, Any],
    resend: bool = False,
) -> Delivery:
    """Write the page, archive the workbook and `summary` (the run's JSON), then email each audience."""
    week = weekly.week
    key = workbook_key(config, week)
    page = write_page(
        weekly,
        path=config.reports_dir / f"isoaudit-{week}.html",
        workbook_note=f"Workbook: {reports.uri(config, key)}",
    )
    reports.put(aws=aws, config=config, key=key, body=workbook.read_bytes(), content_type=XLSX)
    summary_key = f"{reports.week_prefix(config, week)}/isoaudit-{week}.json"
    document = {**summary, "run_id": run.run_id, "workbook": reports.uri(config, key)}
    body = json.dumps(document, indent=2, default=str).encode()
    reports.put(aws=aws, config=config, key=summary_key, body=body, content_type=JSON)
    emails = []
    if config.email is not None:
        emails = send_emails(
            aws=aws, config=config, email=config.email, run=run, weekly=weekly, workbook=workbook,
            resend=resend,
        )  # fmt: skip
    return Delivery(
        page=page,
        workbook_uri=reports.uri(config, key),
        summary_uri=reports.uri(config, summary_key),
        emails=emails,
    )


def send_emails(
    *,
    aws: AwsSession,
    config: AuditConfig,
    email: EmailConfig,
    run: AuditRun,
    weekly: WeeklyReport,
    workbook: Path,
    resend: bool,
) -> list[dict[str, Any]]:
    """FinOps receives the organization's workbook, each configured team its own slice."""
    audiences: list[tuple[str, str | None, Sequence[str]]] = []
    if email.finops:
        audiences.append((FINOPS, None, email.finops))
    audiences += [(audience_name(team), team, recipients) for team, recipients in email.teams.items()]
    results = []
    for audience, team, recipients in audiences:
        marker = f"{reports.week_prefix(config, weekly.week)}/sent/{audience}.json"
        if not resend and reports.get(aws=aws, config=config, key=marker) is not None:
            log.info("%s: the report of %s was already sent (--resend sends it again)", audience, weekly.week)
            results.append({"audience": audience, "status": "already sent"})
            continue
        try:
            sent = _send(
                aws=aws, config=config, sender=email.sender, audience=audience, team=team,
                recipients=recipients, weekly=weekly, workbook=workbook,
            )  # fmt: skip
        except AUDIT_ERRORS as exc:
            # Not sent, no marker: the next run tries again. The report itself is already stored.
            reason = describe_failure(exc, context=f"email to {audience} not sent")
            log.warning("%s", reason)
            results.append({"audience": audience, "status": "failed", "reason": reason})
            continue
        record = {**sent, "run_id": run.run_id, "sent_at": datetime.now(UTC).isoformat()}
        reports.put(aws=aws, config=config, key=marker, body=json.dumps(record).encode(), content_type=JSON)
        results.append({"audience": audience, "status": "sent", **sent})
    return results


def audience_name(team: str) -> str:
    """`team-<name>`, safe as a file name and an S3 key; two teams never share one."""
    safe = file_safe(team)
    if safe != team:
        safe = f"{safe}-{hashlib.sha256(team.encode()).hexdigest()[:8]}"
    return f"team-{safe}"


def _send(
    *,
    aws: AwsSession,
    config: AuditConfig,
    sender: str,
    audience: str,
    team: str | None,
    recipients: Sequence[str],
    weekly: WeeklyReport,
    workbook: Path,
) -> dict[str, Any]:
    key = workbook_key(config, weekly.week)
    report = weekly
    if team is not None:
        report = team_report(weekly, team)
        filename = f"isoaudit-{weekly.week}-{audience}.xlsx"
        workbook = write_workbook(report, path=config.reports_dir / "teams" / filename)
        key = f"{reports.week_prefix(config, weekly.week)}/teams/{filename}"
        reports.put(aws=aws, config=config, key=key, body=workbook.read_bytes(), content_type=XLSX)
    raw, attached = build_message(
        report,
        sender=sender,
        recipients=recipients,
        attachment=Attachment(workbook.name, workbook.read_bytes(), reports.uri(config, key)),
        size_limit=ses.RAW_MESSAGE_LIMIT,
    )
    message_id = ses.send_raw(aws=aws, sender=sender, recipients=recipients, raw=raw)
    outbox = config.reports_dir / "outbox" / f"{audience}.eml"
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_bytes(raw)
    log.info("%s: report sent to %d recipients (message %s), saved as %s", audience, len(recipients),
             message_id, outbox)  # fmt: skip
    return {"message_id": message_id, "attached": attached, "outbox": str(outbox)}
