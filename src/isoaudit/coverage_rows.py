"""The coverage rows of one account's collection: one per account-region, audited, skipped or failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from isoaudit.aws.organizations import Account
from isoaudit.schema import COVERAGE, conform, empty_frame

if TYPE_CHECKING:  # collect imports this module
    from isoaudit.collect import AuditRun, RegionPlan


class CoverageRecorder:
    """Collects coverage rows from the region threads of one account."""

    def __init__(self, *, account: Account, run: AuditRun) -> None:
        self._account = account
        self._run = run
        self._rows: list[dict] = []

    def audited(
        self, *, region: str, jobs_seen: int, api_calls: int, plan: RegionPlan, note: str = ""
    ) -> None:
        self._add(
            region=region,
            status="audited",
            reason=note,
            listing=plan.listing,
            jobs_seen=jobs_seen,
            api_calls=api_calls,
        )

    def skipped(self, *, region: str, reason: str) -> None:
        self._add(region=region, status="skipped", reason=reason, listing="", jobs_seen=0, api_calls=0)

    def failed(self, *, region: str, reason: str, api_calls: int = 0, plan: RegionPlan | None = None) -> None:
        self._add(
            region=region,
            status="failed",
            reason=reason,
            listing=plan.listing if plan else "",
            jobs_seen=0,
            api_calls=api_calls,
        )

    def _add(self, **row: object) -> None:
        # list.append is atomic under the GIL; the region threads only append.
        self._rows.append(
            {
                "audit_week": self._run.audit_week,
                "run_id": self._run.run_id,
                "account_id": self._account.account_id,
                "account_name": self._account.name,
                "audited_at": self._run.started_at,
                **row,
            }
        )

    def frame(self) -> pd.DataFrame:
        if not self._rows:
            return empty_frame(COVERAGE)
        return conform(pd.DataFrame(self._rows).sort_values("region"), COVERAGE)
