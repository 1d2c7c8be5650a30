-- Account scorecard: per ISO week, the same KPIs for each AWS account, with its name and OU path from
-- AWS Organizations. Filter on a week: WHERE week = '2026-W47'.
-- Columns: week, account_id, account_name, ou_path, {measures}
--   (the weekly measures: those of weekly_kpis, in the order isoaudit.metrics.measures declares them)
SELECT
    kpis.week,
    kpis.scope_value AS account_id,
    accounts.account_name,
    accounts.ou_path,
    {kpis.measures}
FROM weekly_kpis AS kpis
LEFT JOIN accounts ON accounts.account_id = kpis.scope_value
WHERE kpis.scope = 'account'
ORDER BY kpis.week, kpis.scope_value
