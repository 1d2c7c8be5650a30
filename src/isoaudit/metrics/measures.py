"""The weekly measures, declared once. Each is one `Measure`: its name, what it is, its one-line definition,
its unit and how it is displayed. Everything else is derived from this list:

- the computation (isoaudit.metrics.kpis: counts and sums of every scope at once, episode statistics,
  ratios);
- the WEEKLY_KPIS fields and their descriptions (isoaudit.schema), so the Parquet files, Glue comments;
- the report's JSON keys, the Excel headers, number formats and header comments of the Teams and Accounts
  sheets, and the Methodology sheet's column definitions;
- the column lists of the scorecard views (`{measures}` in isoaudit/sql/views/*.sql).

Adding a measure is adding one declaration below (and a Dimension/Predicate in isoaudit.metrics.predicates
when it counts runs by a property not yet named there). Order matters: it is the order of the columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from isoaudit.job_kinds import run_kinds
from isoaudit.metrics.predicates import POSTURES

# The kinds counted as runs, as the texts name them: "training and processing".
RUN_KINDS = " and ".join(run_kinds())


class Kind(Enum):
    """What a measure is."""

    COUNT = "count"  # runs created in the week that match `predicate`
    SUM = "sum"  # sum of the per-run `amount` (a JOB_FACTS column) over the runs matching `predicate`
    RATIO = "ratio"  # 100 * numerator / denominator (two other measures); empty when the denominator is 0
    CLOSED_EPISODES = "closed_episodes"  # `statistic` of the episodes closed in the week (hours to remediate)
    OPEN_EPISODES = "open_episodes"  # episodes open at the end of the week; `statistic` "open" or "dormant"
    STALE_ACCOUNTS = "stale_accounts"  # accounts not audited in the week whose last known state is used


@dataclass(frozen=True)
class Unit:
    """How a value is stored and shown: its Arrow type and Excel number format."""

    name: str
    arrow_type: str  # "int64" or "float64"
    number_format: str


JOBS = Unit("jobs", "int64", "#,##0")
EPISODES = Unit("episodes", "int64", "#,##0")
ACCOUNTS = Unit("accounts", "int64", "#,##0")
PERCENT = Unit("%", "float64", "0.0%")  # 0-100 in the tables; written as a fraction in Excel
HOURS = Unit("hours", "float64", "#,##0.0")
# Dollars with cents; an unpriced amount is an empty cell, never $0.
USD = Unit("USD", "float64", '"$"#,##0.00')


@dataclass(frozen=True)
class Measure:
    name: str
    kind: Kind
    definition: str  # one line: the column's description everywhere
    unit: Unit
    header: str  # the column header on the workbook's Teams and Accounts sheets
    predicate: str | None = None  # COUNT, SUM: a name in isoaudit.metrics.predicates.PREDICATES
    amount: str | None = None  # SUM: the JOB_FACTS column summed
    ratio: tuple[str, str] | None = None  # RATIO: (numerator, denominator) measure names
    statistic: str | None = None  # CLOSED_EPISODES: count, mean, median or p90; OPEN_EPISODES: open, dormant
    # SUM: (known, unknown) count measures: the sum is empty, not $0, when none of the scope-week's runs is
    # `known` and some are `unknown` (money: runs with compute hours but no price).
    unknown_when: tuple[str, str] | None = None
    stored: bool = True  # False: computed only as a ratio's operand, not a column of weekly_kpis
    on_sheets: bool = True  # a column of the workbook's Teams and Accounts sheets
    width: float = 11  # of that column, in Excel character widths

    @property
    def additive(self) -> bool:
        """Whether the measure adds up (0 where nothing happened) rather than being a statistic (empty)."""
        return self.kind in (Kind.COUNT, Kind.SUM, Kind.OPEN_EPISODES, Kind.STALE_ACCOUNTS) or (
            self.kind is Kind.CLOSED_EPISODES and self.statistic == "count"
        )


_TIER_HEADERS = {
    "isolated+vpc": "Isolated + VPC",
    "isolated": "Isolated",
    "vpc-only": "VPC only (not compliant)",
    "open": "Open (not compliant)",
}
_TIER_DEFINITIONS = {
    "isolated+vpc": "Jobs isolated and in a VPC (best practice)",
    "isolated": "Jobs isolated, not in a VPC (compliant)",
    "vpc-only": "Jobs in a VPC without isolation (NOT compliant)",
    "open": "Jobs neither isolated nor in a VPC (not compliant)",
}
_TIER_WIDTHS = {"isolated+vpc": 10, "isolated": 9, "vpc-only": 11, "open": 11}


def _tier(tier: str) -> Measure:
    return Measure(
        f"tier_{tier.replace('+', '_').replace('-', '_')}",
        Kind.COUNT,
        _TIER_DEFINITIONS[tier],
        JOBS,
        _TIER_HEADERS[tier],
        predicate=f"tier:{tier}",
        width=_TIER_WIDTHS[tier],
    )


def _money(name: str, definition: str, header: str, *, predicate: str, **display: Any) -> Measure:
    """The spend (JOB_FACTS spend_usd) of the runs matching `predicate`; unknown when none is priced."""
    return Measure(
        name,
        Kind.SUM,
        definition,
        USD,
        header,
        predicate=predicate,
        amount="spend_usd",
        unknown_when=("priced_jobs", "unpriced_jobs"),
        **display,
    )


MEASURES: tuple[Measure, ...] = (
    Measure(
        "jobs",
        Kind.COUNT,
        f"{RUN_KINDS.capitalize()} jobs created in the week (tuning jobs: their training jobs)",
        JOBS,
        "Jobs",
        predicate="run",
        width=8,
    ),
    Measure(
        "compliant",
        Kind.COUNT,
        "Of which with network isolation",
        JOBS,
        "Compliant",
        predicate="compliant",
        on_sheets=False,
    ),
    Measure(
        "isolation_rate",
        Kind.RATIO,
        "compliant / jobs, in % (empty when no job)",
        PERCENT,
        "Isolation rate",
        ratio=("compliant", "jobs"),
        width=10,
    ),
    Measure(
        "production_jobs",
        Kind.COUNT,
        "Jobs created in the week in production",
        JOBS,
        "Production jobs",
        predicate="production",
    ),
    Measure(
        "production_compliant",
        Kind.COUNT,
        "Production jobs with network isolation",
        JOBS,
        "Production compliant",
        predicate="production_compliant",
        stored=False,
        on_sheets=False,
    ),
    Measure(
        "production_isolation_rate",
        Kind.RATIO,
        "Isolation rate of production jobs, in %",
        PERCENT,
        "Production isolation rate",
        ratio=("production_compliant", "production_jobs"),
    ),
    Measure(
        "violations",
        Kind.COUNT,
        "Non-compliant jobs created in the week (of the jobs above)",
        JOBS,
        "Violations",
        predicate="violation",
        width=10,
    ),
    Measure(
        "new_violations",
        Kind.COUNT,
        "Violations that opened an exposure episode",
        JOBS,
        "New violations",
        predicate="new_violation",
        width=10,
    ),
    Measure(
        "repeat_violations",
        Kind.COUNT,
        "Violations in an already open episode",
        JOBS,
        "Repeat violations",
        predicate="repeat_violation",
        width=10,
    ),
    *(_tier(tier) for tier in POSTURES),
    Measure(
        "episodes_closed",
        Kind.CLOSED_EPISODES,
        "Exposure episodes closed in the week",
        EPISODES,
        "Episodes closed",
        statistic="count",
        width=10,
    ),
    Measure(
        "mttr_hours",
        Kind.CLOSED_EPISODES,
        "Mean time to remediate of episodes closed in the week, hours",
        HOURS,
        "MTTR mean (hours)",
        statistic="mean",
    ),
    Measure(
        "median_ttr_hours",
        Kind.CLOSED_EPISODES,
        "Median time to remediate, hours",
        HOURS,
        "TTR median (hours)",
        statistic="median",
    ),
    Measure(
        "p90_ttr_hours",
        Kind.CLOSED_EPISODES,
        "90th percentile time to remediate, hours",
        HOURS,
        "TTR p90 (hours)",
        statistic="p90",
    ),
    Measure(
        "episodes_open",
        Kind.OPEN_EPISODES,
        "Episodes open at the end of the week (dormant included)",
        EPISODES,
        "Open episodes",
        statistic="open",
        width=10,
    ),
    Measure(
        "episodes_dormant",
        Kind.OPEN_EPISODES,
        "Open episodes whose family has not run for the dormancy period",
        EPISODES,
        "Dormant episodes",
        statistic="dormant",
        width=10,
    ),
    Measure(
        "dependency_failures",
        Kind.COUNT,
        "Failed jobs classified missing_dependency or network_blocked",
        JOBS,
        "Dependency failures",
        predicate="dependency_failure",
    ),
    Measure(
        "stale_accounts",
        Kind.STALE_ACCOUNTS,
        "Accounts not audited this week whose last known state is used",
        ACCOUNTS,
        "Stale accounts",
        on_sheets=False,
    ),
    Measure(
        "compute_hours",
        Kind.SUM,
        "Instance-hours billed to the runs created in the week",
        HOURS,
        "Compute hours",
        predicate="run",
        amount="compute_hours",
        width=10,
    ),
    Measure(
        "priced_jobs",
        Kind.COUNT,
        "Runs with a known price",
        JOBS,
        "Priced jobs",
        predicate="priced",
        stored=False,
        on_sheets=False,
    ),
    _money(
        "spend_usd",
        "Their spend at list price (or negotiated rate), USD, priced runs; empty when none is priced",
        "Spend (USD)",
        predicate="run",
        width=12,
    ),
    _money(
        "exposed_spend_usd",
        "Spend of the non-compliant runs (ran exposed), USD",
        "Exposed spend (USD)",
        predicate="violation",
        width=12,
    ),
    _money(
        "compliant_spend_usd",
        "Spend of the compliant runs, USD",
        "Compliant spend (USD)",
        predicate="compliant",
        stored=False,
        on_sheets=False,
    ),
    Measure(
        "isolated_spend_share",
        Kind.RATIO,
        "Spend of compliant runs / spend, in %, over priced runs (empty when no spend)",
        PERCENT,
        "Isolated spend share",
        ratio=("compliant_spend_usd", "spend_usd"),
        width=10,
    ),
    _money(
        "dependency_failure_spend_usd",
        "Spend of failed runs classed missing_dependency or network_blocked: what isolation without the "
        "packages burns, USD",
        "Dependency failure spend (USD)",
        predicate="dependency_failure",
        width=13,
    ),
    Measure(
        "unpriced_jobs",
        Kind.COUNT,
        "Runs with compute hours but no known price (never counted as $0)",
        JOBS,
        "Unpriced jobs",
        predicate="unpriced",
        width=9,
    ),
)


def stored() -> list[Measure]:
    """The measures that are columns of weekly_kpis (and of the JSON and the scorecard views), in order."""
    return [measure for measure in MEASURES if measure.stored]


def of_kind(kind: Kind) -> list[Measure]:
    return [measure for measure in MEASURES if measure.kind is kind]


def check(measures: tuple[Measure, ...]) -> None:
    """Raise ValueError naming the first declaration that is incomplete or refers to nothing."""
    from isoaudit.metrics.predicates import PREDICATES

    names = [measure.name for measure in measures]
    needs = {
        Kind.COUNT: "predicate",
        Kind.SUM: "amount",
        Kind.RATIO: "ratio",
        Kind.CLOSED_EPISODES: "statistic",
        Kind.OPEN_EPISODES: "statistic",
    }
    for measure in measures:
        if names.count(measure.name) > 1:
            raise ValueError(f"measure {measure.name}: declared twice")
        field = needs.get(measure.kind)
        if field and getattr(measure, field) is None:
            raise ValueError(f"measure {measure.name}: a {measure.kind.value} needs `{field}`")
        if measure.kind in (Kind.COUNT, Kind.SUM) and measure.predicate not in PREDICATES:
            raise ValueError(f"measure {measure.name}: unknown predicate {measure.predicate!r}")
        if measure.unknown_when and not set(measure.unknown_when) <= set(names):
            raise ValueError(f"measure {measure.name}: unknown_when names unknown {measure.unknown_when}")
        if measure.ratio and not set(measure.ratio) <= set(names):
            raise ValueError(f"measure {measure.name}: ratio of unknown measures {measure.ratio}")


check(MEASURES)
