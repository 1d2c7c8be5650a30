-- Failure causes: why failed runs failed (training and processing jobs: a tuning job counts through the
-- training jobs it launched), per ISO week and team, isolated or not. Isolated jobs failing
-- for missing_dependency say which base images need the package; network_blocked is the cost of
-- isolation. Filter on a week: WHERE week = '2026-W47'.
-- Columns: week, team, failure_class (missing_dependency, network_blocked, credentials_unavailable,
--   data_access, other), network_isolation (true when the job was isolated), jobs, spend_usd (their spend at
--   list price, USD: what the failures burnt; empty when none is priced)
SELECT
    week,
    team,
    failure_class,
    compliant AS network_isolation,
    count(*) AS jobs,
    sum(spend_usd) AS spend_usd
FROM job_facts
WHERE status = 'Failed' AND job_kind <> 'tuning'
GROUP BY week, team, failure_class, compliant
ORDER BY week, team, failure_class, network_isolation
