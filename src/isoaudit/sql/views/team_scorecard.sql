-- Team scorecard: per ISO week, how much of each team's work ran with network isolation, its violations
-- and how fast it remediates them. Filter on a week: WHERE week = '2026-W47'.
-- The numbers are the weekly report's own (computed by isoaudit, stored in weekly_kpis).
-- Columns: week, team, {measures}
--   (the weekly measures: those of weekly_kpis, in the order isoaudit.metrics.measures declares them)
SELECT
    week,
    scope_value AS team,
    {measures}
FROM weekly_kpis
WHERE scope = 'team'
ORDER BY week, team
