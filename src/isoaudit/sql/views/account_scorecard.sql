-- Account scorecard: per ISO week, the same KPIs for each AWS account, with its name and OU path from
-- AWS Organizations. Filter on a week: WHERE week = '2026-W47'.
-- Columns: week, account_id, account_name, ou_path, jobs, compliant, isolation_rate (%), production_jobs,
--   production_isolation_rate (%), violations, new_violations, repeat_violations, tier_isolated_vpc,
--   tier_isolated, tier_vpc_only, tier_open, episodes_closed, mttr_hours, median_ttr_hours, p90_ttr_hours,
--   episodes_open, episodes_dormant, dependency_failures, stale_accounts, compute_hours,
--   spend_usd (list price, USD), exposed_spend_usd, isolated_spend_share (%), dependency_failure_spend_usd,
--   unpriced_jobs
SELECT
    kpis.week,
    kpis.scope_value AS account_id,
    accounts.account_name,
    accounts.ou_path,
    kpis.jobs,
    kpis.compliant,
    kpis.isolation_rate,
    kpis.production_jobs,
    kpis.production_isolation_rate,
    kpis.violations,
    kpis.new_violations,
    kpis.repeat_violations,
    kpis.tier_isolated_vpc,
    kpis.tier_isolated,
    kpis.tier_vpc_only,
    kpis.tier_open,
    kpis.episodes_closed,
    kpis.mttr_hours,
    kpis.median_ttr_hours,
    kpis.p90_ttr_hours,
    kpis.episodes_open,
    kpis.episodes_dormant,
    kpis.dependency_failures,
    kpis.stale_accounts,
    kpis.compute_hours,
    kpis.spend_usd,
    kpis.exposed_spend_usd,
    kpis.isolated_spend_share,
    kpis.dependency_failure_spend_usd,
    kpis.unpriced_jobs
FROM weekly_kpis AS kpis
LEFT JOIN accounts ON accounts.account_id = kpis.scope_value
WHERE kpis.scope = 'account'
ORDER BY kpis.week, kpis.scope_value
