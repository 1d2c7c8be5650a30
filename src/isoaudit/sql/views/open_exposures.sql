-- Open exposures: families of jobs still running without network isolation, oldest first, as of the
-- last audit run. Dormant ones (no run for the dormancy period) are listed too: a family that stopped
-- running has not been remediated.
-- Columns: state (open or dormant), team, environment, account_id, account_name, region, family,
--   first_job_name, opened_at, age_hours (at the last audit run), last_run_at, non_compliant_runs,
--   exposed_spend_usd (spend of those runs at list price, USD: what the open pipeline has cost)
SELECT
    episodes.state,
    episodes.team,
    episodes.environment,
    episodes.account_id,
    accounts.account_name,
    episodes.region,
    episodes.family,
    episodes.first_job_name,
    episodes.opened_at,
    episodes.age_hours,
    episodes.last_run_at,
    episodes.non_compliant_runs,
    episodes.exposed_spend_usd
FROM episodes
LEFT JOIN accounts ON accounts.account_id = episodes.account_id
WHERE episodes.state IN ('open', 'dormant')
ORDER BY episodes.opened_at, episodes.account_id, episodes.region, episodes.family
