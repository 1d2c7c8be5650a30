-- Organization trend: the whole Organization's KPIs week after week, with the audit coverage of each
-- week's run (account-regions audited / audited + failed, in %; empty for a week without a run).
-- Columns: week, jobs, compliant, isolation_rate (%), production_jobs, production_isolation_rate (%),
--   violations, new_violations, repeat_violations, tier_isolated_vpc, tier_isolated, tier_vpc_only,
--   tier_open, episodes_closed, mttr_hours, median_ttr_hours, p90_ttr_hours, episodes_open,
--   episodes_dormant, dependency_failures, stale_accounts, compute_hours,
--   spend_usd (list price, USD), exposed_spend_usd, isolated_spend_share (%), dependency_failure_spend_usd,
--   unpriced_jobs, audit_coverage (%)
WITH latest_status AS (
    -- A re-run of a week reads an account-region again: its latest row counts.
    SELECT
        audit_week,
        status,
        row_number() OVER (
            PARTITION BY audit_week, account_id, region
            ORDER BY audited_at DESC
        ) AS newest_first
    FROM coverage
),
runs AS (
    -- Skipped account-regions (region not enabled) are out of scope: counted nowhere.
    SELECT
        audit_week,
        CAST(100 * count_if(status = 'audited') AS DOUBLE)
            / nullif(count_if(status IN ('audited', 'failed')), 0) AS audit_coverage
    FROM latest_status
    WHERE newest_first = 1
    GROUP BY audit_week
)
SELECT
    kpis.week,
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
    kpis.unpriced_jobs,
    runs.audit_coverage
FROM weekly_kpis AS kpis
LEFT JOIN runs ON runs.audit_week = kpis.week
WHERE kpis.scope = 'org'
ORDER BY kpis.week
