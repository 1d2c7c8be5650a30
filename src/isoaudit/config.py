"""Configuration: one TOML file, overridden by ISOAUDIT_* environment variables, then by the command line.

Validated on load, before any AWS call: a mistake raises ConfigError naming the field and what was expected.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, get_origin
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

from isoaudit.regions import known_regions

ACCOUNT_ID = re.compile(r"^\d{12}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Names Athena takes unquoted; nothing else may reach a query or the catalog.
GLUE_DATABASE = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
ATHENA_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# One plain address (local@domain.tld): no display name, no list, nothing a mail header could be split on.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_ADDRESS = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
# SES refuses a message with more recipients than this.
MAX_RECIPIENTS = 50
# IAM's own rule for role names.
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# S3 key characters that need no encoding anywhere (AWS's "safe characters"), in segments separated by "/".
PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9!_.*'()-]+$")
ENV_PREFIX = "ISOAUDIT_"
# The Price List API's endpoints (it prices every region from any of them).
PRICING_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
QUALIFIED_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,254}\.[a-z_][a-z0-9_]{0,254}$")


_config_file: ContextVar[Path | None] = ContextVar("isoaudit_config_file", default=None)


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field and what it expects."""


def _addresses(value: list[str]) -> list[str]:
    if len(value) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} addresses (SES's limit per message)")
    for address in value:
        if not EMAIL_ADDRESS.match(address):
            raise ValueError(f"{address!r} is not an email address (expected e.g. finops@acme.example)")
    return value


class EmailConfig(BaseModel):
    """Who receives the weekly report through Amazon SES ([email] in the TOML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: str = Field(description="Verified SES identity the messages are sent from")
    finops: list[str] = Field(default_factory=list, description="Receive the organization's workbook")
    teams: dict[str, list[str]] = Field(
        default_factory=dict, description="Team -> addresses that receive the team's own slice"
    )

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _addresses([value])[0]

    @field_validator("finops")
    @classmethod
    def _finops(cls, value: list[str]) -> list[str]:
        return _addresses(value)

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for team, addresses in value.items():
            # The team's name goes into the message's subject: a line break would end the header.
            if not team.strip() or not team.isprintable():
                raise ValueError(f"{team!r}: a team name is one line of printable text")
            try:
                _addresses(addresses)
            except ValueError as exc:
                raise ValueError(f"{team}: {exc}") from None
        return value


class AuditConfig(BaseSettings):
    """Everything a run needs; production and the embedded demo differ only in these values."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Where the data goes.
    bucket: str = Field(description="S3 bucket that holds the Parquet lake and Athena results")
    prefix: str = Field("isoaudit", description="Key prefix of the lake inside the bucket")
    database: str = Field("isoaudit", description="Glue database of the tables and views")
    kms_key_id: str | None = Field(None, description="KMS key for SSE-KMS on every S3 write")
    athena_workgroup: str = Field("primary", description="Athena workgroup that creates the views")
    reports_dir: Path = Field(Path("reports"), description="Local folder for the workbook and lake copy")

    # How AWS is reached.
    endpoint_url: str | None = Field(None, description="AWS-compatible endpoint (emulator); None for AWS")
    home_region: str = Field("us-east-1", description="Region of Organizations, STS, S3, Glue and Athena")
    role_name: str = Field("IsoAuditReadOnly", description="Read-only audit role in every member account")
    external_id: str | None = Field(None, description="External ID the audit role's trust policy requires")
    session_duration_seconds: int = Field(3600, ge=900, le=43200, description="Assumed-role lifetime")
    regions: list[str] = Field(
        default_factory=list, description="Regions to audit; empty means every region enabled in the account"
    )
    exclude_accounts: list[str] = Field(default_factory=list, description="Account ids never audited")
    concurrency: int = Field(8, ge=1, le=64, description="Account-regions collected at the same time")
    api_quota_scale: float | None = Field(
        1.0,
        gt=0,
        description="The collector paces its calls per account-region and operation at AWS's default "
        "request quotas (isoaudit.aws.quotas) times this: raise it where AWS raised your quotas; none: "
        "no pacing",
    )
    full_listing_every_days: int = Field(
        28,
        ge=0,
        description="Days between full listings, which reconcile Search with List and detect deleted jobs "
        "(runs in between read what changed); 0 lists fully every run",
    )

    # How jobs are attributed.
    team_tag_keys: list[str] = Field(default_factory=lambda: ["team", "Team", "owner"])
    environment_tag_keys: list[str] = Field(
        default_factory=lambda: ["environment", "Environment", "env", "stage"]
    )
    family_tag_key: str | None = Field("pipeline", description="Job tag naming the line of runs")
    team_mapping: dict[str, str] = Field(
        default_factory=dict, description="Account id or OU path (e.g. /Workloads/Prod) -> team"
    )
    environment_patterns: dict[str, str] = Field(
        default_factory=lambda: {
            "sandbox": r"\b(sandbox|sbx|playground)\b",
            "non-production": r"\b(non-?prod\w*|dev\w*|test\w*|qa|stag\w*|uat)\b",
            "production": r"\b(prod|production|prd|live)\b",
        },
        description="Environment -> regular expression, tried in order on tags and OU names",
    )
    dormant_days: int = Field(
        90, ge=1, description="Days without a run after which an open family is dormant"
    )
    trend_weeks: int = Field(12, ge=1, le=104, description="Trailing weeks shown in trends")

    # Money (docs/metrics.md, "Money").
    pricing_region: str = Field(
        "us-east-1",
        description="Endpoint of the AWS Price List API: us-east-1, eu-central-1 or ap-south-1 (it answers "
        "for every region from there)",
    )
    price_max_age_days: int = Field(
        30, ge=1, description="Days a price read from the Price List API is kept before it is read again"
    )
    negotiated_rates: dict[str, float] = Field(
        default_factory=dict,
        description="Instance type (e.g. ml.p4d.24xlarge) -> negotiated USD per hour, overriding list prices",
    )
    cur_table: str | None = Field(
        None,
        description="Cost and Usage Report 2.0 table in Athena, as database.table: creates job_billed_cost",
    )
    cur_net_unblended: bool = Field(
        True, description="Whether cur_table has line_item_net_unblended_cost (net of discounts)"
    )

    # Where alerts go.
    sns_topic_arn: str | None = Field(None, description="SNS topic that receives new-violation alerts")
    email: EmailConfig | None = Field(None, description="Who receives the report by email; None: nobody")

    @field_validator("role_name", "bucket", "database", "athena_workgroup")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, value: str) -> str:
        if not ROLE_NAME.match(value):
            raise ValueError("expected an IAM role name (1-64 letters, digits and +=,.@_-, no spaces)")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        segments = value.strip("/").split("/")
        if not all(PREFIX_SEGMENT.match(part) and part not in {".", ".."} for part in segments):
            raise ValueError(
                "expected an S3 key prefix of letters, digits and !_.*'()- separated by /, without . or .."
            )
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None:
            url = urlparse(value)
            if url.scheme not in {"http", "https"} or not url.hostname:
                raise ValueError(f"{value!r} is not a URL (expected e.g. http://127.0.0.1:5000)")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET_NAME.match(value):
            raise ValueError("expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)")
        return value

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str) -> str:
        if not GLUE_DATABASE.match(value):
            raise ValueError("expected a Glue database name: lowercase letters, digits and _, from a letter")
        return value

    @field_validator("athena_workgroup")
    @classmethod
    def _workgroup_name(cls, value: str) -> str:
        if not ATHENA_WORKGROUP.match(value):
            raise ValueError("expected an Athena workgroup name (1-128 letters, digits, '.', '_', '-')")
        return value

    @field_validator("home_region")
    @classmethod
    def _home_region(cls, value: str) -> str:
        if value not in known_regions():
            raise ValueError(f"{value!r} is not a known AWS region (expected e.g. us-east-1)")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if region not in known_regions():
                raise ValueError(f"{region!r} is not a known AWS region (expected e.g. us-east-1)")
        return value

    @field_validator("exclude_accounts")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        for account_id in value:
            if not ACCOUNT_ID.match(account_id):
                raise ValueError(f"{account_id!r} is not a 12-digit account id")
        return value

    @field_validator("environment_patterns")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = {"production", "non-production", "sandbox"}
        for environment, pattern in value.items():
            if environment not in allowed:
                raise ValueError(f"{environment!r} is not one of {sorted(allowed)}")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{environment}: invalid regular expression: {exc}") from None
        return value

    @field_validator("pricing_region")
    @classmethod
    def _pricing_region(cls, value: str) -> str:
        if value not in PRICING_REGIONS:
            raise ValueError(f"{value!r}: the Price List API answers only in {', '.join(PRICING_REGIONS)}")
        return value

    @field_validator("negotiated_rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for instance_type, rate in value.items():
            if not INSTANCE_TYPE.match(instance_type):
                raise ValueError(f"{instance_type!r} is not a SageMaker instance type (e.g. ml.m5.xlarge)")
            if not 0 < rate < 10_000:
                raise ValueError(f"{instance_type}: expected USD per hour above 0, not {rate}")
        return value

    @field_validator("cur_table")
    @classmethod
    def _cur_table(cls, value: str | None) -> str | None:
        # It is the one name a view's SQL takes from the configuration: an identifier pair, nothing else.
        if value is not None and not QUALIFIED_TABLE.match(value):
            raise ValueError("expected database.table in lowercase letters, digits and _ (e.g. billing.cur2)")
        return value

    @property
    def role_session_name(self) -> str:
        return "isoaudit-audit"

    @property
    def lake_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}"

    @property
    def athena_output(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}-athena-results/"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command line beats environment beats file.
        return (
            init_settings,
            _EnvSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, _config_file.get()),
        )


class _EnvSource(EnvSettingsSource):
    """ISOAUDIT_* variables; a list can also be given as comma-separated text (ISOAUDIT_REGIONS=a,b), the
    way a shell user writes it, besides JSON."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            if get_origin(field.annotation) is list and isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
            expected = 'a JSON object, e.g. {"key": "value"}'
            if get_origin(field.annotation) is not dict:
                expected = "JSON"
            raise ConfigError(
                f"{ENV_PREFIX}{field_name.upper()}: expected {expected}, not {str(value)[:40]!r}"
            ) from None


def load_config(path: Path | None = None, **overrides: Any) -> AuditConfig:
    """Load and validate; `overrides` are command-line values (None means not given)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path}: not found")
    _no_unknown_variables()
    given = {key: value for key, value in overrides.items() if value is not None}
    token = _config_file.set(path)
    try:
        return AuditConfig(**given)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text (save it as UTF-8)") from None
    except SettingsError as exc:
        if isinstance(exc.__cause__, ConfigError):
            raise exc.__cause__ from None
        raise ConfigError(str(exc)) from None
    finally:
        _config_file.reset(token)


def _no_unknown_variables() -> None:
    """A misspelt variable (ISOAUDIT_BUKCET) must not silently leave a field at its default."""
    known = {f"{ENV_PREFIX}{name.upper()}" for name in AuditConfig.model_fields}
    for name in sorted(os.environ):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else "see isoaudit.example.toml for the fields"
            raise ConfigError(f"{name}: unknown environment variable ({hint})")


def _one_line(exc: ValidationError, path: Path | None) -> str:
    where = f" in {path}" if path else ""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (see isoaudit.example.toml for the fields)"
        elif error["type"] == "missing":
            message = "required, not given"
        problems.append(f"{field}: {message}")
    return f"invalid configuration{where}: " + "; ".join(problems)
