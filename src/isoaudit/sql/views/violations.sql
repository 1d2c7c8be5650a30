-- Violations: every job created without network isolation (VPC-only jobs included: a VPC is not
-- isolation), with who ran it and whether it opened an exposure episode. Filter on a week:
-- WHERE week = '2026-W47'.
-- Columns: week, violation ('new': the family's first violation or the first after a compliant run;
--   'repeat': the family was already exposed), team, environment, account_id, account_name, region,
--   job_kind, job_name, family, posture (vpc-only or open), status, creation_time, image_uri, role_arn,
--   tuning_job_name, listed (false once SageMaker no longer lists the job), job_arn
WITH runs AS (
    -- A family's runs in order: creation time, then non-compliant before compliant at the same instant.
    SELECT
        job_facts.*,
        lag(compliant) OVER (
            PARTITION BY account_id, region, family
            ORDER BY creation_time, compliant, job_arn
        ) AS previous_run_compliant
    FROM job_facts
)
SELECT
    runs.week,
    CASE
        WHEN runs.previous_run_compliant IS NULL OR runs.previous_run_compliant THEN 'new'
        ELSE 'repeat'
    END AS violation,
    runs.team,
    runs.environment,
    runs.account_id,
    accounts.account_name,
    runs.region,
    runs.job_kind,
    runs.job_name,
    runs.family,
    runs.posture,
    runs.status,
    runs.creation_time,
    runs.image_uri,
    runs.role_arn,
    runs.tuning_job_name,
    runs.listed,
    runs.job_arn
FROM runs
LEFT JOIN accounts ON accounts.account_id = runs.account_id
WHERE NOT runs.compliant
ORDER BY runs.week, runs.team, runs.creation_time, runs.job_arn
