-- Organization trend: the whole Organization's KPIs week after week, with the audit coverage of each
-- week's run (account-regions audited / audited + failed, in %; empty for a week without a run).
-- Columns: week, {measures}, audit_coverage (%)
--   (the weekly measures: those of weekly_kpis, in the order isoaudit.metrics.measures declares them)
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
    {kpis.measures},
    runs.audit_coverage
FROM weekly_kpis AS kpis
LEFT JOIN runs ON runs.audit_week = kpis.week
WHERE kpis.scope = 'org'
ORDER BY kpis.week
