"""JOB_FACTS: each job with its team, environment, family, posture, week, failure class and its place in
the family's history (new or repeat violation, when the family was remediated, when it ran next).

Built for millions of rows: tags are parsed once per distinct tags_json, accounts once per account,
failure reasons once per distinct reason, weeks once per day; the derived text columns are categoricals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from isoaudit.config import AuditConfig
from isoaudit.metrics.columns import categorical, codes, from_micros, micros
from isoaudit.metrics.episodes import HISTORY_COLUMNS, runs_history
from isoaudit.metrics.failures import classify_failures
from isoaudit.metrics.money import Rates, job_money
from isoaudit.metrics.predicates import POSTURES, VIOLATIONS, launchers, posture_codes
from isoaudit.metrics.stems import name_stems, text_array
from isoaudit.metrics.weeks import week_labels
from isoaudit.schema import JOB_FACTS, JOBS

UNATTRIBUTED = "unattributed"
ENVIRONMENTS = ("production", "non-production", "sandbox", "unknown")
# The few-valued text columns job_facts encodes as integer codes (the first two on a worker thread).
_ENCODED = ("tags_json", "account_id", "region", "job_kind", "instance_groups_json")


def job_facts(
    jobs: pd.DataFrame, accounts: pd.DataFrame, *, config: AuditConfig, rates: Rates | None = None
) -> pd.DataFrame:
    """JOB_FACTS rows for JOBS rows (same order and index); `accounts` follows ACCOUNTS.

    The stages, in order: attribution (team, environment), posture, families, history. The JOB_FACTS
    columns are followed by HISTORY_COLUMNS (violation, remediated_at, next_run_at), which the episodes
    and KPIs read (they recompute them when absent); conform(facts, JOB_FACTS) drops them. Text columns
    with few distinct values (account_id, region, job_kind and the derived labels) are categoricals;
    pyarrow writes them as the schema's strings.
    """
    _check_jobs(jobs)
    # Worker threads for the name stems (the longest part, itself on two threads) and the most varied
    # few-valued texts' codes, then for the money and the history: Arrow and numpy work without the GIL,
    # on arrays and Series taken beforehand (they touch no DataFrame).
    with ThreadPoolExecutor(max_workers=2) as worker:
        stems = worker.submit(name_stems, text_array(jobs["job_name"]), text_array(jobs["tuning_job_name"]))
        encoded = worker.submit(_encoded, {name: jobs[name] for name in _ENCODED[:2]})
        compliant, posture = _posture(jobs)
        week = week_labels(jobs["creation_time"])
        failed = (jobs["status"] == "Failed").to_numpy(dtype=bool)
        failure_class = classify_failures(jobs["failure_reason"], failed=failed)
        texts = _encoded({name: jobs[name] for name in _ENCODED[2:]}) | encoded.result()
        region = pd.Categorical.from_codes(*texts["region"])
        job_kind = _sorted_categorical(jobs["job_kind"], texts["job_kind"])
        groups = pd.Categorical.from_codes(*texts["instance_groups_json"])
        # Given the categoricals already made, so that money reads their codes instead of the texts again.
        money = worker.submit(
            job_money,
            jobs.assign(region=region, job_kind=job_kind, instance_groups_json=groups),
            rates or Rates(listed={}, negotiated=config.negotiated_rates),
        )
        tags = _JobTags.of(texts["tags_json"])
        accounts_ = texts["account_id"]
        stem_codes, stems_ = stems.result()
        family_codes, tag_only = _family_codes(stem_codes, stems_, tags, tag_key=config.family_tag_key)
        keys = (accounts_[0], texts["region"][0], family_codes)
        # Stage 4 on a worker thread while stage 1 runs and the families' categorical is made.
        history = worker.submit(_history, keys, compliant, jobs["creation_time"], jobs["job_kind"])
        who = _attribution(tags, accounts_, accounts, config=config)
        made = {
            "account_id": pd.Categorical.from_codes(accounts_[0], categories=accounts_[1]),
            "region": region,
            "job_kind": job_kind,
            "team": who.team,
            "environment": who.environment,
            "family": _families_in_use(family_codes, stems_, tag_only),
            "posture": categorical(posture, list(POSTURES)),
            "compliant": compliant,
            "week": week,
            "failure_class": failure_class,
        }
        (compute_hours, spend), history = money.result(), history.result()
    facts = jobs.assign(**made, compute_hours=compute_hours, spend_usd=spend, **history)
    return facts[[*JOB_FACTS.names, *HISTORY_COLUMNS]]


def _history(
    keys: tuple[np.ndarray, np.ndarray, np.ndarray],
    compliant: np.ndarray,
    created: pd.Series,
    kind: pd.Series,
) -> dict[str, pd.Categorical | pd.DatetimeIndex]:
    """Stage 4: each run's place in its family's history (runs_history), from the codes of its account,
    region and family (`keys`), its compliance, creation time and job kind: the HISTORY_COLUMNS."""
    account, region, family = keys
    found = runs_history(
        account=account,
        region=region,
        family=family,
        created=micros(created),
        compliant=compliant,
        launcher=launchers(kind),
    )
    return {
        "violation": categorical(found.violation, list(VIOLATIONS)),
        "remediated_at": from_micros(found.remediated_at),
        "next_run_at": from_micros(found.next_run_at),
    }


def _encoded(columns: dict[str, pd.Series]) -> dict[str, tuple[np.ndarray, pd.Index]]:
    """codes() of each column: free for a categorical, Arrow's dictionary encoding for plain text."""
    return {name: codes(values) for name, values in columns.items()}


def _sorted_categorical(values: pd.Series, encoded: tuple[np.ndarray, pd.Index]) -> pd.Categorical:
    """pd.Categorical(values) from codes(values) (`encoded`), without encoding the values again: a plain
    column's categories sorted, a categorical's kept as they are."""
    found, distinct = encoded
    if isinstance(values.dtype, pd.CategoricalDtype) or distinct.is_monotonic_increasing:
        return pd.Categorical.from_codes(found, categories=distinct)
    order = distinct.argsort()
    rank = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last for a missing value (code -1)
    rank[order] = np.arange(len(distinct))
    return pd.Categorical.from_codes(rank[found], categories=distinct[order])


def _check_jobs(jobs: pd.DataFrame) -> None:
    missing = [name for name in JOBS.names if name not in jobs.columns]
    if missing:
        raise ValueError(f"jobs: missing columns: {', '.join(missing)}")
    if jobs["creation_time"].isna().any():
        raise ValueError(f"jobs: {int(jobs['creation_time'].isna().sum())} rows without creation_time")


@dataclass(frozen=True)
class _JobTags:
    """Each job's tags, parsed once per distinct tags_json: `codes` (per job) index `parsed`."""

    codes: np.ndarray
    parsed: list[dict[str, str]]

    @classmethod
    def of(cls, encoded: tuple[np.ndarray, pd.Index]) -> _JobTags:
        """From codes(tags_json)."""
        tag_codes, tag_texts = encoded
        return cls(codes=tag_codes, parsed=[_parse_tags(text) for text in tag_texts])


@dataclass(frozen=True)
class _Attribution:
    team: pd.Categorical
    environment: pd.Categorical


def _attribution(
    tags: _JobTags, accounts_: tuple[np.ndarray, pd.Index], accounts: pd.DataFrame, *, config: AuditConfig
) -> _Attribution:
    """Stage 1: each job's team and environment: its own tags, else its account's (tags, then the mapping
    file or OU path); a job is never dropped ('unattributed', 'unknown')."""
    environments = _EnvironmentPatterns(config.environment_patterns)
    account_codes, account_ids = accounts_
    defaults = _account_defaults(account_ids, accounts, config=config, environments=environments)
    teams = _Labels([UNATTRIBUTED])
    job_team = _lookup(
        [teams.code(_first(parsed, config.team_tag_keys)) for parsed in tags.parsed], tags.codes
    )
    account_team = _lookup(
        [teams.code(team or UNATTRIBUTED) for team, _ in defaults],
        account_codes,
        missing=teams.code(UNATTRIBUTED),
    )
    env_labels = _Labels(ENVIRONMENTS)
    job_env = _lookup(
        [
            env_labels.code(environments.first_tag(parsed, config.environment_tag_keys))
            for parsed in tags.parsed
        ],
        tags.codes,
    )
    unknown = env_labels.code("unknown")
    account_env = _lookup(
        [env_labels.code(env or "unknown") for _, env in defaults], account_codes, missing=unknown
    )
    return _Attribution(
        team=categorical(np.where(job_team >= 0, job_team, account_team), teams.names),
        environment=categorical(np.where(job_env >= 0, job_env, account_env), env_labels.names),
    )


def _posture(jobs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: whether each job is compliant (network isolation on; absent is off) and its posture code
    (position in POSTURES)."""
    compliant = jobs["network_isolation"].fillna(False).to_numpy(dtype=bool)
    in_vpc = (jobs["vpc_subnet_ids"].notna() & (jobs["vpc_subnet_ids"] != "")).to_numpy(dtype=bool)
    return compliant, posture_codes(isolated=compliant, in_vpc=in_vpc)


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
    """values[code] for each row; rows whose code is -1 (missing) get `missing`. 32-bit: labels are far
    fewer than 2**31, and per-row arrays half the size are faster to fill."""
    table = np.array([*values, missing], dtype=np.int32)
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
    # Rows as dicts once: looking each account up in the frame costs more than all the rest of the loop.
    known = accounts.drop_duplicates("account_id", keep="last").set_index("account_id").to_dict("index")
    result = []
    for account_id in account_ids:
        row = known.get(account_id)
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


def _family_codes(
    stem_codes: np.ndarray, stems: pa.Array, tags: _JobTags, *, tag_key: str | None
) -> tuple[np.ndarray, list[str]]:
    """Stage 3: each job's family: its family tag, else its name stem (name_stems). The 32-bit codes (for
    the history's keys) of the name stems, then of the families that are only a tag (`tag_only`,
    sorted)."""
    # The tags are looked up with Arrow: a pandas index of hundreds of thousands of stems costs more to
    # build and probe than the whole lookup.
    tagged = [job_tags.get(tag_key) if tag_key else None for job_tags in tags.parsed]
    values = sorted({value for value in tagged if value})
    # Stems probe a table of the few tag values (not the other way round: fewer entries to hash).
    matched = pc.index_in(stems, value_set=pa.array(values, type=pa.large_string()))
    at_stem = np.flatnonzero(matched.is_valid().to_numpy(zero_copy_only=False))
    which = matched.take(at_stem).to_pylist()
    position = {values[value]: int(at) for at, value in zip(at_stem, which, strict=True)}
    tag_only = [value for value in values if value not in position]
    position.update((family, len(stems) + code) for code, family in enumerate(tag_only))
    tag_family = _lookup([position[value] if value else -1 for value in tagged], tags.codes)
    return np.where(tag_family >= 0, tag_family, stem_codes), tag_only


def _families_in_use(family_codes: np.ndarray, stems: pa.Array, tag_only: list[str]) -> pd.Categorical:
    """The family of each job (_family_codes' codes, `stems`, `tag_only`) as a categorical of the families
    some job has, in that order: the stem of a tagged job is no family."""
    # Without those stems, fewer strings for pandas to check one at a time that they are distinct: 0.4 s
    # holding the GIL for 662k stems, where 63k families were in use.
    used = np.bincount(family_codes, minlength=len(stems) + len(tag_only)) > 0  # every tag-only one is
    categories = pd.Index(pd.array(stems.filter(used[: len(stems)]), dtype=str))
    return pd.Categorical.from_codes(
        (np.cumsum(used) - 1)[family_codes], categories=categories.append(pd.Index(tag_only, dtype=str))
    )
