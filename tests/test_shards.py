"""Past one machine: families are scoped to an account, so job facts and exposure episodes computed per
account shard (each shard on its own worker) and put together are exactly those of the whole history, and
the weekly KPIs computed from the shards' facts and episodes are the whole computation's (docs/scaling.md).
"""

from __future__ import annotations

import json

import pandas as pd
import pandas.testing as pdt

from isoaudit.config import AuditConfig
from isoaudit.metrics.attribution import job_facts
from isoaudit.metrics.episodes import every_episode_table, exposure_episodes
from isoaudit.metrics.kpis import weekly_kpis
from isoaudit.metrics.weeks import trailing_weeks
from isoaudit.schema import ACCOUNTS, conform
from tests.jobs_factory import job, jobs_frame

ACCOUNTS_IDS = ("111111111111", "222222222222", "333333333333")
AS_OF = pd.Timestamp("2026-11-23T06:00:00Z")
WEEKS = trailing_weeks("2026-W47", 8)


def history() -> pd.DataFrame:
    """Three accounts whose families share names (a family is per account and region): violations,
    remediations, relapses, a family gone dormant, a tuning job and its runs, failures."""
    rows = []
    for number, account in enumerate(ACCOUNTS_IDS):
        for day in range(0, 56, 3):
            created = AS_OF - pd.Timedelta(days=56 - day, hours=number)
            fixed_after = 20 + 10 * number  # each account fixes its pipeline at another time
            rows.append(
                job(
                    f"pipeline-{day:02d}",
                    created.isoformat(),
                    account_id=account,
                    network_isolation=day >= fixed_after and day % 9 != 0,  # relapses
                    tags_json=json.dumps({"pipeline": "nightly", "team": f"team-{number}"}),
                    status="Failed" if day % 7 == 0 else "Completed",
                    failure_reason="ModuleNotFoundError: No module named 'torch'" if day % 7 == 0 else "",
                )
            )
        rows.append(job("notebook-2026-09-01-10-00-00-000", "2026-09-01T10:00:00Z", account_id=account))
        rows.append(
            job(
                "hpo",
                "2026-11-18T09:00:00Z",
                account_id=account,
                job_kind="tuning",
                tuning_job_name="hpo",
                job_arn=f"arn:aws:sagemaker:us-east-1:{account}:hyper-parameter-tuning-job/hpo",
            )
        )
        for trial in range(3):
            rows.append(
                job(
                    f"hpo-00{trial}-abcdef0{trial}",
                    f"2026-11-18T1{trial}:00:00Z",
                    account_id=account,
                    tuning_job_name="hpo",
                    network_isolation=trial == 2,
                )
            )
    return jobs_frame(*rows)


def accounts() -> pd.DataFrame:
    return conform(
        pd.DataFrame(
            {
                "account_id": list(ACCOUNTS_IDS),
                "account_name": ["ml-prod", "fraud-prod", "sandbox"],
                "account_status": ["ACTIVE"] * 3,
                "ou_path": ["/Workloads/Production", "/Workloads/Production", "/Sandbox"],
                "tags_json": ["{}"] * 3,
            }
        ),
        ACCOUNTS,
    )


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows in one order; a categorical column as its values (shards' categories differ, not values)."""
    plain = frame.assign(
        **{
            column: frame[column].astype(frame[column].cat.categories.dtype)
            for column in frame.columns
            if isinstance(frame[column].dtype, pd.CategoricalDtype)
        }
    )
    return plain.sort_values(by, kind="stable").reset_index(drop=True)


def test_kpis_computed_per_account_shard_and_combined_equal_the_whole_computation() -> None:
    config = AuditConfig(bucket="shards")
    jobs, known = history(), accounts()

    whole_facts = job_facts(jobs, known, config=config)
    whole_every = every_episode_table(whole_facts)
    whole_kpis = weekly_kpis(whole_facts, weeks=WEEKS, dormant_days=30, every_episode=whole_every)
    whole_episodes = exposure_episodes(whole_facts, as_of=AS_OF, dormant_days=30, every_episode=whole_every)

    # Each shard: one account's jobs, on its own worker.
    shards = [jobs[jobs["account_id"] == account] for account in ACCOUNTS_IDS]
    shard_facts = [job_facts(shard, known, config=config) for shard in shards]
    shard_every = [every_episode_table(facts) for facts in shard_facts]
    shard_episodes = [
        exposure_episodes(facts, as_of=AS_OF, dormant_days=30, every_episode=every)
        for facts, every in zip(shard_facts, shard_every, strict=True)
    ]

    facts = pd.concat(shard_facts, ignore_index=True)
    every = pd.concat(shard_every, ignore_index=True)
    episodes = pd.concat(shard_episodes, ignore_index=True)
    pdt.assert_frame_equal(_sorted(facts, ["job_arn"]), _sorted(whole_facts, ["job_arn"]))
    keys = ["account_id", "region", "family", "opened_at"]
    pdt.assert_frame_equal(_sorted(episodes, keys), _sorted(whole_episodes, keys))
    assert len(episodes) > len(ACCOUNTS_IDS)  # several episodes, open and closed, in every account
    # The weekly measures from the shards' facts and episodes: the whole computation's, every scope.
    combined = weekly_kpis(facts, weeks=WEEKS, dormant_days=30, every_episode=every)
    kpi_keys = ["week", "scope", "scope_value"]
    pdt.assert_frame_equal(_sorted(combined, kpi_keys), _sorted(whole_kpis, kpi_keys))
