-- Violations: every job created without network isolation (VPC-only jobs included: a VPC is not
-- isolation), with who ran it and whether it opened an exposure episode. A tuning job is listed too, with
-- the training jobs it launched; those are the runs counted, the tuning job is not. Filter on a week:
-- WHERE week = '2026-W47'.
-- Columns: week, violation ('new': the family's first violation or the first after a compliant run;
--   'repeat': the family was already exposed; 'tuning job': listed, not counted), training_jobs (of a
--   tuning job: the training jobs it launched; empty for other jobs), team, environment, account_id,
--   account_name, region, job_kind, job_name, family, posture (vpc-only or open), status, creation_time,
--   image_uri, role_arn, tuning_job_name, listed (false once SageMaker no longer lists the job), instance_type,
--   instance_count, compute_hours, spend_usd (list price, USD; empty when unpriced or running), job_arn
WITH runs AS (
    -- A family's runs in order: creation time, then non-compliant before compliant at the same instant.
    -- Tuning jobs are not runs: they are kept apart from the runs of their family.
    SELECT
        job_facts.*,
        lag(compliant) OVER (
            PARTITION BY account_id, region, family, job_kind = 'tuning'
            ORDER BY creation_time, compliant, job_arn
        ) AS previous_run_compliant
    FROM job_facts
),
launched AS (
    SELECT account_id, region, tuning_job_name, count(*) AS training_jobs
    FROM job_facts
    WHERE job_kind = 'training' AND tuning_job_name <> ''
    GROUP BY account_id, region, tuning_job_name
)
SELECT
    runs.week,
    CASE
        WHEN runs.job_kind = 'tuning' THEN 'tuning job'
        WHEN runs.previous_run_compliant IS NULL OR runs.previous_run_compliant THEN 'new'
        ELSE 'repeat'
    END AS violation,
    CASE WHEN runs.job_kind = 'tuning' THEN coalesce(launched.training_jobs, 0) END AS training_jobs,
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
    runs.instance_type,
    runs.instance_count,
    runs.compute_hours,
    runs.spend_usd,
    runs.job_arn
FROM runs
LEFT JOIN accounts ON accounts.account_id = runs.account_id
LEFT JOIN launched
    ON launched.account_id = runs.account_id
    AND launched.region = runs.region
    AND launched.tuning_job_name = runs.job_name
    AND runs.job_kind = 'tuning'
WHERE NOT runs.compliant
ORDER BY runs.week, runs.team, runs.creation_time, runs.job_arn
