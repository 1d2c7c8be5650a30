"""JOB_FACTS: each job with its team, environment, family, posture, week, failure class and its place in
the family's history (new or repeat violation, when the family was remediated, when it ran next).

Built for millions of rows: tags are parsed once per distinct tags_json, accounts once per account,
failure reasons once per distinct reason, weeks once per day; the derived text columns are categoricals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from isoaudit.config import AuditConfig
from isoaudit.metrics.columns import categorical, codes, from_micros, micros
from isoaudit.metrics.episodes import HISTORY_COLUMNS, VIOLATIONS, family_history
from isoaudit.metrics.failures import classify_failures
from isoaudit.metrics.weeks import week_labels
from isoaudit.schema import JOB_FACTS, JOBS

UNATTRIBUTED = "unattributed"
ENVIRONMENTS = ("production", "non-production", "sandbox", "unknown")
POSTURES = ("isolated+vpc", "isolated", "vpc-only", "open")
SDK_SUFFIX = r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}$"
_SDK_SUFFIX_LENGTH = 24


def job_facts(jobs: pd.DataFrame, accounts: pd.DataFrame, *, config: AuditConfig) -> pd.DataFrame:
    """JOB_FACTS rows for JOBS rows (same order and index); `accounts` follows ACCOUNTS.

    The JOB_FACTS columns are followed by HISTORY_COLUMNS (violation, remediated_at, next_run_at), which
    the episodes and KPIs read (they recompute them when absent); conform(facts, JOB_FACTS) drops them.
    Text columns with few distinct values (account_id, region, job_kind and the derived labels) are
    categoricals; pyarrow writes them as the schema's strings.
    """
    missing = [name for name in JOBS.names if name not in jobs.columns]
    if missing:
        raise ValueError(f"jobs: missing columns: {', '.join(missing)}")
    if jobs["creation_time"].isna().any():
        raise ValueError(f"jobs: {int(jobs['creation_time'].isna().sum())} rows without creation_time")

    environments = _EnvironmentPatterns(config.environment_patterns)
    tag_codes, tag_texts = codes(jobs["tags_json"])
    job_tags = [_parse_tags(text) for text in tag_texts]
    account_codes, account_ids = codes(jobs["account_id"])
    defaults = _account_defaults(account_ids, accounts, config=config, environments=environments)

    teams = _Labels([UNATTRIBUTED])
    job_team = _lookup([teams.code(_first(tags, config.team_tag_keys)) for tags in job_tags], tag_codes)
    account_team = _lookup(
        [teams.code(team or UNATTRIBUTED) for team, _ in defaults],
        account_codes,
        missing=teams.code(UNATTRIBUTED),
    )
    team = np.where(job_team >= 0, job_team, account_team)

    env_labels = _Labels(ENVIRONMENTS)
    job_env = _lookup(
        [env_labels.code(environments.first_tag(tags, config.environment_tag_keys)) for tags in job_tags],
        tag_codes,
    )
    unknown = env_labels.code("unknown")
    account_env = _lookup(
        [env_labels.code(env or "unknown") for _, env in defaults], account_codes, missing=unknown
    )
    environment = np.where(job_env >= 0, job_env, account_env)

    family = _families(jobs, job_tags, tag_codes, tag_key=config.family_tag_key)
    region_codes, regions = codes(jobs["region"])

    created = micros(jobs["creation_time"])
    compliant = jobs["network_isolation"].fillna(False).to_numpy(dtype=bool)
    in_vpc = (jobs["vpc_subnet_ids"].notna() & (jobs["vpc_subnet_ids"] != "")).to_numpy(dtype=bool)
    posture = (~compliant).astype(np.int8) * 2 + (~in_vpc).astype(np.int8)
    failed = (jobs["status"] == "Failed").to_numpy(dtype=bool)

    history = family_history(
        account=account_codes, region=region_codes, family=family.codes, created=created, compliant=compliant
    )
    facts = jobs.assign(
        account_id=pd.Categorical.from_codes(account_codes, categories=account_ids),
        region=pd.Categorical.from_codes(region_codes, categories=regions),
        job_kind=pd.Categorical(jobs["job_kind"]),
        team=categorical(team, teams.names),
        environment=categorical(environment, env_labels.names),
        family=family,
        posture=categorical(posture, list(POSTURES)),
        compliant=compliant,
        week=week_labels(jobs["creation_time"]),
        failure_class=classify_failures(jobs["failure_reason"], failed=failed),
        violation=categorical(history.violation, list(VIOLATIONS)),
        remediated_at=from_micros(history.remediated_at),
        next_run_at=from_micros(history.next_run_at),
    )
    return facts[[*JOB_FACTS.names, *HISTORY_COLUMNS]]


class _Labels:
    """Distinct labels in order of first use, with their integer codes (-1 for none)."""

    def __init__(self, initial: Iterable[str]) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        for name in initial:
            self.code(name)

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]


def _lookup(values: list[int], row_codes: np.ndarray, *, missing: int = -1) -> np.ndarray:
    """values[code] for each row; rows whose code is -1 (missing) get `missing`."""
    table = np.array([*values, missing], dtype=np.int64)
    return table[row_codes]


def _parse_tags(text: object) -> dict[str, str]:
    """Tags as a dict of non-empty strings; anything unreadable counts as no tags."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {
        str(key): value.strip() for key, value in parsed.items() if isinstance(value, str) and value.strip()
    }


def _first(tags: Mapping[str, str], keys: Iterable[str]) -> str | None:
    return next((tags[key] for key in keys if key in tags), None)


class _EnvironmentPatterns:
    """config.environment_patterns, tried in order, case-insensitively, anywhere in the text."""

    def __init__(self, patterns: Mapping[str, str]) -> None:
        self._patterns = [(env, re.compile(pattern, re.IGNORECASE)) for env, pattern in patterns.items()]

    def match(self, text: str | None) -> str | None:
        if not text:
            return None
        return next((env for env, pattern in self._patterns if pattern.search(text)), None)

    def first_tag(self, tags: Mapping[str, str], keys: Iterable[str]) -> str | None:
        """Environment of the first tag (in key order) whose value matches a pattern."""
        return next((env for key in keys if (env := self.match(tags.get(key)))), None)


def _account_defaults(
    account_ids: pd.Index, accounts: pd.DataFrame, *, config: AuditConfig, environments: _EnvironmentPatterns
) -> list[tuple[str | None, str | None]]:
    """(team, environment) from the account's tags, then the mapping file / OU path, per account id."""
    known = accounts.drop_duplicates("account_id", keep="last").set_index("account_id")
    result = []
    for account_id in account_ids:
        row = known.loc[account_id] if account_id in known.index else None
        ou_path = row["ou_path"] if row is not None and isinstance(row["ou_path"], str) else ""
        tags = _parse_tags(row["tags_json"]) if row is not None else {}
        team = _first(tags, config.team_tag_keys) or _mapped_team(account_id, ou_path, config.team_mapping)
        environment = environments.first_tag(tags, config.environment_tag_keys) or environments.match(ou_path)
        result.append((team, environment))
    return result


def _mapped_team(account_id: str, ou_path: str, mapping: Mapping[str, str]) -> str | None:
    """The mapping file: the account id, else the longest OU path that is the account's path or above it."""
    if account_id in mapping:
        return mapping[account_id]
    best: tuple[int, str] | None = None
    for key, team in mapping.items():
        prefix = key.rstrip("/")
        above = key.startswith("/") and (ou_path == prefix or ou_path.startswith(prefix + "/"))
        if above and (best is None or len(prefix) > best[0]):
            best = (len(prefix), team)
    return best[1] if best else None


def _families(
    jobs: pd.DataFrame, job_tags: list[dict[str, str]], tag_codes: np.ndarray, *, tag_key: str | None
) -> pd.Categorical:
    """Family tag, else the name without the SDK timestamp, else the tuning job's name, else the name."""
    names, tuning = (_text(jobs[column]) for column in ("job_name", "tuning_job_name"))
    suffixed = pc.match_substring_regex(names, SDK_SUFFIX)
    from_name = pc.if_else(suffixed, pc.utf8_slice_codeunits(names, 0, -_SDK_SUFFIX_LENGTH), names)
    from_name = pc.if_else(pc.or_(suffixed, pc.equal(tuning, "")), from_name, tuning)
    found, stems = pd.factorize(pd.Series(from_name, dtype=pd.ArrowDtype(pa.large_string())))
    stems = pd.Index(stems.astype(str))
    tagged = [tags.get(tag_key) if tag_key else None for tags in job_tags]
    categories = stems.append(pd.Index({value for value in tagged if value}).difference(stems))
    tag_family = _lookup([int(categories.get_loc(value)) if value else -1 for value in tagged], tag_codes)
    return pd.Categorical.from_codes(np.where(tag_family >= 0, tag_family, found), categories=categories)


def _text(values: pd.Series) -> pa.Array:
    """A text column as Arrow large strings, missing values empty (plain or categorical input)."""
    return pc.fill_null(pc.cast(pa.array(values), pa.large_string()), "")
