"""The new-violation alert: one message per run that found non-compliant jobs no earlier run had seen.

Pure: job facts in, subject and body out; `isoaudit.aws.sns.publish` sends it. A job is new when its
first audit is this run (`first_seen` equals the run's start). On the first run against an Organization
every non-compliant job in its history is new: the alert then lists the backlog once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from isoaudit.job_kinds import console_url
from isoaudit.metrics.predicates import launchers

# SNS rejects a longer subject.
SUBJECT_LIMIT = 100
COLUMNS = (
    "job_arn",
    "job_kind",
    "job_name",
    "account_id",
    "region",
    "team",
    "network_isolation",
    "first_seen",
)
# Where the SageMaker console shows a job of each kind.


@dataclass(frozen=True)
class Alert:
    subject: str
    message: str
    new_violations: int


def new_violations_message(
    jobs: pd.DataFrame,
    *,
    run_started_at: datetime,
    top_offenders: int = 10,
    jobs_per_offender: int = 5,
    report_uri: str | None = None,
) -> Alert | None:
    """The alert for the non-compliant jobs first seen by the run started at `run_started_at`; None when
    there are none.

    `jobs` holds job facts (isoaudit.schema.JOB_FACTS, or at least COLUMNS). The body gives the new
    violations by team, then the `top_offenders` team/account pairs with the most, each with up to
    `jobs_per_offender` job names and console links, then where the week's report is (`report_uri`, the
    workbook's S3 key). Job names and tags are AWS text, shown as text.
    """
    missing = [name for name in COLUMNS if name not in jobs.columns]
    if missing:
        raise ValueError(f"jobs: missing columns: {', '.join(missing)}")
    run_time = pd.Timestamp(run_started_at).tz_convert("UTC")  # a naive time is refused, not guessed
    non_compliant = ~jobs["network_isolation"].fillna(False).astype(bool)
    run = ~launchers(jobs["job_kind"])  # a tuning job's violations are its training jobs: counted once
    new = jobs[non_compliant & run & (jobs["first_seen"] == run_time)]
    if new.empty:
        return None
    new = new.assign(team=new["team"].astype(str)).sort_values(["team", "account_id", "region", "job_name"])
    count = len(new)
    teams = _most_first(new, by="team")
    offenders = _most_first(new, by=["team", "account_id"])
    jobs_word = "job" if count == 1 else "jobs"
    subject = (
        f"isoaudit {run_time:%Y-%m-%d}: {count} new SageMaker {jobs_word} without network isolation "
        f"({len(teams)} {'team' if len(teams) == 1 else 'teams'})"
    )
    lines = [
        f"isoaudit found {count} SageMaker {jobs_word} without network isolation that no earlier audit "
        f"had seen (audit run started {run_time:%Y-%m-%d %H:%M} UTC).",
        "Without network isolation (EnableNetworkIsolation false or absent) a job's container can reach "
        "the internet, even inside a VPC.",
        "",
        "New violations by team:",
        *_aligned(teams),
        "",
        "Worst offenders (team / account):",
    ]
    for (team, account_id), offender_count in offenders.head(top_offenders).items():
        offender_jobs = new[(new["team"] == team) & (new["account_id"] == account_id)]
        lines.append(f"  {team} / {account_id}: {offender_count} new")
        for job in offender_jobs.head(jobs_per_offender).itertuples():
            link = console_url(region=job.region, job_kind=job.job_kind, job_name=job.job_name)
            lines.append(f"    - {job.job_name} ({job.region}) {link}")
        if offender_count > jobs_per_offender:
            lines.append(f"    ... and {offender_count - jobs_per_offender} more")
    if len(offenders) > top_offenders:
        lines.append(f"  ... and {len(offenders) - top_offenders} more team / account pairs")
    if report_uri:
        lines += ["", f"The week's report (workbook): {report_uri}"]
    return Alert(subject=_subject(subject), message="\n".join(lines) + "\n", new_violations=count)


def _most_first(frame: pd.DataFrame, *, by: str | list[str]) -> pd.Series:
    """Rows per group, largest first; ties keep the frame's (sorted) order."""
    return frame.groupby(by, sort=False).size().sort_values(ascending=False, kind="stable")


def _aligned(counts: pd.Series) -> list[str]:
    width = max(len(str(label)) for label in counts.index)
    return [f"  {label:<{width}}  {value}" for label, value in counts.items()]


def _subject(text: str) -> str:
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."
