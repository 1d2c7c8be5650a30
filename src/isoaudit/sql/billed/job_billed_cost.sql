-- Billed cost per job: what the Cost and Usage Report 2.0 charged for each SageMaker job, beside isoaudit's
-- list-price spend. Created only when `cur_table` names the organization's CUR 2.0 (Data Exports) table;
-- `cur` below stands for it. Cost lines of product AmazonSageMaker are matched on the lower-cased job ARN
-- (line_item_resource_id; SageMaker ARNs' letter case varies). Billed cost includes discounts, credits and
-- Savings Plans effects that list prices do not: the two differ. Filter on a week: WHERE week = '2026-W47'.
-- Columns: week (of the job's creation), team, environment, account_id, region, job_kind, job_name,
--   compliant, spend_usd (list price), unblended_cost, net_unblended_cost (empty when the export has no net
--   columns), cost_lines, job_arn
WITH billed AS (
    SELECT
        lower(line_item_resource_id) AS resource_id,
        sum(line_item_unblended_cost) AS unblended_cost,
        sum(line_item_net_unblended_cost) AS net_unblended_cost,
        count(*) AS cost_lines
    FROM cur
    WHERE line_item_product_code = 'AmazonSageMaker' AND line_item_resource_id <> ''
    GROUP BY lower(line_item_resource_id)
)
SELECT
    job_facts.week,
    job_facts.team,
    job_facts.environment,
    job_facts.account_id,
    job_facts.region,
    job_facts.job_kind,
    job_facts.job_name,
    job_facts.compliant,
    job_facts.spend_usd,
    billed.unblended_cost,
    billed.net_unblended_cost,
    billed.cost_lines,
    job_facts.job_arn
FROM job_facts
JOIN billed ON billed.resource_id = lower(job_facts.job_arn)
ORDER BY job_facts.week, job_facts.team, job_facts.job_arn
