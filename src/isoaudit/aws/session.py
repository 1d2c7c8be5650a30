"""The one place boto3 clients are built: endpoint, retries and call counting applied alike."""

from __future__ import annotations

import threading
import urllib.request
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.client
from botocore.client import BaseClient
from botocore.config import Config
from botocore.utils import parse_timestamp

from isoaudit import __version__
from isoaudit.aws.quotas import Pacer

RETRIES = {"mode": "adaptive", "max_attempts": 10}


class CallCounter:
    """Counts API operations (retries of one operation count once), safely across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


@dataclass(frozen=True)
class TemporaryCredentials:
    """An assumed role's credentials: held in memory, never printed."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


def utc_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, in UTC rather than the local zone: the same instant. botocore builds a
    `dateutil.tz.tzlocal()` per epoch value, which was a quarter of isoaudit's CPU on a page of 100
    Search records; the AWS CLI replaces this parser the same way (`set_parser_defaults`)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value).astimezone(UTC)


# A boto3 session may not build two clients at once, and member sessions share the auditor's.
_CLIENT_CREATION = threading.Lock()


class _ClientParts:
    """What botocore rebuilds for every client although it depends only on the service: its model (an
    object per operation, built again per client) and its client class (a method and docstring per
    operation, about 400 for SageMaker). An organization's run builds a client per account-region (a member's
    credentials, a region): 8,500 over 500 accounts and 17 regions, where these two were 5 of 13 ms of CPU a
    client and most of the collector's CPU. One per root session, shared by its members' sessions (the same
    boto3 session, so the same loader and event handlers the class is built from)."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, str | None], Any] = {}
        self.classes: dict[str, type] = {}
        self._environment_names_proxies: bool | None = None

    def proxies(self) -> dict[str, str] | None:
        """The `proxies` of a client's configuration: none (`{}`) when the environment names no proxy, else
        None, botocore's own reading of it for the client's endpoint (NO_PROXY may exempt some). botocore
        reads the environment for every client it builds (urllib's `getproxies` goes through every variable:
        0.14 ms of the 5-7 ms of CPU a client's build takes once its model and class are shared); an empty
        answer is the same for every endpoint, so it is read once."""
        if self._environment_names_proxies is None:
            self._environment_names_proxies = bool(urllib.request.getproxies())
        return None if self._environment_names_proxies else {}


# The parts of the session building a client in this thread (None: botocore's own behaviour, e.g. for the
# clients awswrangler builds).
_BUILDING: ContextVar[_ClientParts | None] = ContextVar("isoaudit_client_parts", default=None)
_load_service_model = botocore.client.ClientCreator._load_service_model
_create_client_class = botocore.client.ClientCreator._create_client_class


def _shared_service_model(
    creator: botocore.client.ClientCreator, service_name: str, api_version: str | None = None
) -> Any:
    parts = _BUILDING.get()
    if parts is None:
        return _load_service_model(creator, service_name, api_version)
    key = (service_name, api_version)
    if key not in parts.models:
        parts.models[key] = _load_service_model(creator, service_name, api_version)
    return parts.models[key]


def _shared_client_class(
    creator: botocore.client.ClientCreator, service_name: str, service_model: Any
) -> type:
    parts = _BUILDING.get()
    if parts is None:
        return _create_client_class(creator, service_name, service_model)
    if service_name not in parts.classes:
        parts.classes[service_name] = _create_client_class(creator, service_name, service_model)
    return parts.classes[service_name]


botocore.client.ClientCreator._load_service_model = _shared_service_model  # type: ignore[method-assign]
botocore.client.ClientCreator._create_client_class = _shared_client_class  # type: ignore[method-assign]


@dataclass(frozen=True)
class AwsSession:
    """A boto3 session plus how to reach AWS; passed into every call, never looked up globally."""

    boto3_session: boto3.Session
    endpoint_url: str | None = None
    counter: CallCounter = field(default_factory=CallCounter)
    credentials: TemporaryCredentials | None = None  # an assumed role's; None: the session's own
    # Shared by every session derived from this one (members' included): see `isoaudit.aws.quotas`.
    # No pacing unless asked (`isoaudit.audit.management_session` paces a run's collection).
    pacer: Pacer = field(default_factory=lambda: Pacer({}), repr=False)
    # Building a client costs milliseconds of CPU: each (service, region, lane) is built once. Clients are
    # thread-safe.
    _clients: dict[tuple[str, str, str], BaseClient] = field(default_factory=dict, init=False, repr=False)
    # Shared by every session derived from this one (they share its boto3 session).
    _parts: _ClientParts = field(default_factory=_ClientParts, repr=False)

    @property
    def region(self) -> str:
        return self.boto3_session.region_name or "us-east-1"

    def client(
        self, service_name: str, *, region: str | None = None, pool: int = 32, lane: str = ""
    ) -> BaseClient:
        """The client for a service and region. A `lane` gets a client of its own, and so its own adaptive
        rate limiter: botocore's slows every call of a client once one is throttled, and calls that run as
        independent chains (the slices of a long listing) should each slow down on their own throttling,
        not on one another's."""
        key = (service_name, region or self.region, lane)
        with _CLIENT_CREATION:
            if key not in self._clients:
                # Applies to the clients built from now on, awswrangler's included.
                parsers = self.boto3_session._session.get_component("response_parser_factory")
                parsers.set_parser_defaults(timestamp_parser=utc_timestamp)
                signing = {}
                if self.credentials is not None:
                    signing = {
                        "aws_access_key_id": self.credentials.access_key_id,
                        "aws_secret_access_key": self.credentials.secret_access_key,
                        "aws_session_token": self.credentials.session_token,
                    }
                building = _BUILDING.set(self._parts)
                try:
                    client = self.boto3_session.client(
                        service_name,
                        region_name=key[1],
                        endpoint_url=self.endpoint_url,
                        config=Config(
                            retries=RETRIES,
                            max_pool_connections=pool,
                            user_agent_extra=f"isoaudit/{__version__}",
                            proxies=self._parts.proxies(),
                        ),
                        **signing,
                    )
                finally:
                    _BUILDING.reset(building)
                client.meta.events.register("before-call", self.counter)
                client.meta.events.register("before-call", self._pace(key[1]))
                self._clients[key] = client
            return self._clients[key]

    def _pace(self, region: str) -> Any:
        caller = self.credentials.access_key_id if self.credentials else ""

        def pace(*, model: Any, **_: Any) -> None:
            # Once per call, before its first attempt (botocore's retries do not pass here again).
            self.pacer.wait(
                caller=caller, region=region, service=model.service_model.signing_name, operation=model.name
            )

        return pace

    def load_models(self, *service_names: str) -> None:
        """Load these services' API models into the boto3 session, which every client built from it (members'
        included) then shares."""
        for service_name in service_names:
            self.client(service_name)

    def counted(self) -> AwsSession:
        """The same credentials with a fresh call counter (and so clients of its own)."""
        return replace(self, counter=CallCounter())

    def __repr__(self) -> str:  # never show credentials, even by accident
        return f"AwsSession(region={self.region!r}, endpoint_url={self.endpoint_url!r})"


def default_session(*, region: str, endpoint_url: str | None, pacer: Pacer | None = None) -> AwsSession:
    """The auditing account's session from the standard credential chain (env, profile, instance role)."""
    return AwsSession(boto3.Session(region_name=region), endpoint_url=endpoint_url, pacer=pacer or Pacer({}))
