-- Team scorecard: per ISO week, how much of each team's work ran with network isolation, its violations
-- and how fast it remediates them. Filter on a week: WHERE week = '2026-W47'.
-- The numbers are the weekly report's own (computed by isoaudit, stored in weekly_kpis).
-- Columns: week, team, jobs, compliant, isolation_rate (%), production_jobs, production_isolation_rate (%),
--   violations, new_violations, repeat_violations, tier_isolated_vpc, tier_isolated, tier_vpc_only,
--   tier_open, episodes_closed, mttr_hours, median_ttr_hours, p90_ttr_hours, episodes_open,
--   episodes_dormant, dependency_failures, stale_accounts, compute_hours,
--   spend_usd (list price, USD), exposed_spend_usd, isolated_spend_share (%), dependency_failure_spend_usd,
--   unpriced_jobs
SELECT
    week,
    scope_value AS team,
    jobs,
    compliant,
    isolation_rate,
    production_jobs,
    production_isolation_rate,
    violations,
    new_violations,
    repeat_violations,
    tier_isolated_vpc,
    tier_isolated,
    tier_vpc_only,
    tier_open,
    episodes_closed,
    mttr_hours,
    median_ttr_hours,
    p90_ttr_hours,
    episodes_open,
    episodes_dormant,
    dependency_failures,
    stale_accounts,
    compute_hours,
    spend_usd,
    exposed_spend_usd,
    isolated_spend_share,
    dependency_failure_spend_usd,
    unpriced_jobs
FROM weekly_kpis
WHERE scope = 'team'
ORDER BY week, team
