"""An AWS emulator inside this process: moto's server, made more faithful, and slower or flakier on demand.

What the emulator adds to moto, as a WSGI middleware around moto's application:

- STS AssumeRole is refused (HTTP 403, `AccessDenied`, STS's own wording) when the role does not exist in
  the target account, as on AWS; moto would hand out credentials for any role name. This is what makes an
  account without the audit role a visible coverage gap. It is refused the same way, with the same
  message (STS does not say which), when the role's trust policy does not let the caller in: no Allow
  statement for sts:AssumeRole whose AWS principal is "*", the caller's account (id or `:root`) or the
  caller's own role, and whose `StringEquals` `sts:ExternalId`, if any, matches the request's ExternalId
  (other conditions are not evaluated). `OrganizationAccountAccessRole` is always assumable: AWS
  Organizations creates it in every account it creates.
- An S3 write encrypted with a KMS key that does not exist is refused (`KMS.NotFoundException`), as on
  AWS; moto stores it.
- `Faults.denied` answers chosen operations with AccessDenied in the service's own shape, as AWS does for
  an identity whose policy lacks the action (moto enforces no IAM policy): what `isoaudit doctor` is
  tested against.
- Broken answers on demand (`Faults.broken`): a given operation, optionally only in one account, answered
  with any status, content type and body, e.g. `200 OK` with an HTML page as a misconfigured proxy sends,
  or `403` in `text/plain`. And `Faults.ignore_sort_order`: the SageMaker lists then keep moto's own order
  whatever SortOrder asks, as plain moto does, to test a listing against a server that does not sort.
- AWS's request quotas (`Faults.quotas`, e.g. `isoaudit.aws.quotas.QUOTAS`): a token bucket per
  (account, region, operation); a request beyond it is answered as AWS answers it (SageMaker's JSON
  `ThrottlingException` "Rate exceeded", EC2's `RequestLimitExceeded`).
- Latency and throttling (`Faults`), changeable at any time, so a test can seed data quickly and slow or
  throttle the API afterwards. Throttling answers in each protocol's own shape, so botocore's retry logic
  recognises it as on AWS. `/moto-api` (reset, seed) is never delayed nor throttled.
- A count of requests per (service, operation), for tests and benchmarks.
- SageMaker `Search` and the job `List*` operations as AWS serves them: moto's Search ignores
  MaxResults/NextToken (one page holds everything) and supports no comparison operator, and moto's lists
  ignore SortBy/SortOrder and cut the page before applying the time filters. Here moto is asked for the
  whole listing once, and the time filters (Search's `GreaterThan`, `LessThan`, ...; the lists'
  `CreationTimeAfter`, `LastModifiedTimeBefore`, ...), the sort and pages of MaxResults (default 10, at
  most 100, as on AWS) are applied around its answer. That whole listing is kept until SageMaker's state
  changes (any SageMaker write, or `forget_listings` from the history module): moto recomputes every
  record on every call, a cost AWS's index does not have.
- The AWS Price List API's `GetProducts`, which moto lacks, for the demo's instance types, in AWS's wire
  format (`isoaudit.emulator.pricing`). With `Faults.denied` it answers AccessDenied like any other.
- Bulk regions (`isoaudit.emulator.bulk`): hundreds of thousands of training jobs held as columns, served
  by Search and ListTrainingJobs like any listing, for benchmarks at the scale of the largest accounts.
- SageMaker `Search(Resource="HyperParameterTuningJob")`, which AWS serves and moto 5.2 refuses (not in its
  resource list): each result is the tuning job's Describe record, without the fields it lacks, with its
  tags, under `HyperParameterTuningJob`, as AWS's HyperParameterTuningJobSearchEntity; then filtered,
  sorted and paged like any Search. Of the other filters, only Equals and NotEquals on a top-level field.

Nothing is built for regions that are not enabled: moto's EC2 `DescribeRegions(AllRegions=True)` already
reports opt-in regions such as `ap-east-1` as `not-opted-in` in every account, as AWS does for an account
that never opted in, so region discovery skips them as it would on AWS.

The server runs in this process (a thread) so that `isoaudit.emulator.history` can reach moto's in-memory
backends to give jobs a history the API cannot create.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote
from urllib.request import Request, urlopen
from xml.sax.saxutils import escape

from moto.kms.models import kms_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sagemaker.models import sagemaker_backends
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from isoaudit.aws.quotas import Rate, TokenBucket
from isoaudit.emulator import pricing
from isoaudit.emulator.bulk import BulkListing, BulkRegion, bulk_region

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

ALWAYS_ASSUMABLE_ROLE = "OrganizationAccountAccessRole"
# The credentials the emulator uses for its own look-ups; moto does not check signatures.
_INTERNAL_KEY = "testing"


@dataclass(frozen=True)
class RequestInfo:
    """What the middleware needs to know about one request, read without disturbing it."""

    service: str  # the SigV4 signing name, e.g. "sagemaker", "sts"
    region: str  # from the signature's credential scope
    operation: str  # e.g. "CreateTrainingJob"; HTTP method for REST services such as S3
    protocol: str  # "json", "query" or "rest"
    form: dict[str, str]  # parameters of a query-protocol request


@dataclass(frozen=True)
class BrokenAnswer:
    """What a broken proxy or endpoint answers to `operation` of `service` (in `account` only, if given)."""

    service: str  # signing name, e.g. "sagemaker", "ec2"
    operation: str  # e.g. "Search", "DescribeRegions"
    status: str = "200 OK"
    content_type: str = "text/html"
    body: str = "<html><head><title>Gateway</title></head><body>Service temporarily moved</body></html>"
    account: str | None = None
    # Only requests whose body holds this text, e.g. '"TrainingJob"' for one resource of SageMaker's Search.
    request_contains: str | None = None


@dataclass
class Faults:
    """Latency and throttling applied to every request; assign the attributes at any time, from any thread.

    `throttled_services` limits throttling to some services (signing names such as "sagemaker"); None
    throttles every service. Throttling decisions come from an RNG seeded with `seed`: for a given
    sequence of requests the same ones are throttled.
    """

    latency_seconds: float = 0.0
    throttle_rate: float = 0.0
    throttled_services: frozenset[str] | None = None
    # (signing name, operation) answered AccessDenied, e.g. ("glue", "GetDatabase"); S3's operations are
    # HTTP methods ("PUT", "DELETE").
    denied: frozenset[tuple[str, str]] = frozenset()
    seed: int = 7
    broken: tuple[BrokenAnswer, ...] = ()
    ignore_sort_order: bool = False
    # AWS's request quotas per (account, region, operation) (`isoaudit.aws.quotas`); None: unlimited.
    quotas: Mapping[tuple[str, str], Rate] | None = None
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    throttled: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Answered (not throttled) requests per (account, service, operation), of operations under a quota.
    by_account: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    peak_in_flight: int = 0  # most requests answered at once since the last reset
    first_request_at: float | None = None  # wall-clock time (time.time) of the first since the last reset
    _in_flight: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _buckets: dict[tuple[str, str, str, str], TokenBucket] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311  (repeatable faults, not secrets)

    def quota(self, request: RequestInfo) -> Rate | None:
        return None if self.quotas is None else self.quotas.get((request.service, request.operation))

    def record(self, request: RequestInfo, *, account: str = "") -> bool:
        """Count the request; True when it must be throttled: at random (`throttle_rate`), or beyond the
        quota of its (account, region, operation), one token bucket each, as AWS does."""
        key = (request.service, request.operation)
        rate = self.quota(request)
        with self._lock:
            self.requests[key] += 1
            self.first_request_at = self.first_request_at or time.time()
            applies = self.throttled_services is None or request.service in self.throttled_services
            throttle = applies and self.throttle_rate > 0 and self._rng.random() < self.throttle_rate
            if rate is not None and not throttle:
                bucket_key = (account, request.region, request.service, request.operation)
                bucket = self._buckets.get(bucket_key)
                if bucket is None:
                    bucket = self._buckets[bucket_key] = TokenBucket(rate)
                throttle = not bucket.take()
            if throttle:
                self.throttled[key] += 1
            elif rate is not None:
                self.by_account[(account, request.service, request.operation)] += 1
        return throttle

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a request as in flight (for `peak_in_flight`) while it is being answered."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.throttled.clear()
            self.by_account.clear()
            self.first_request_at = None
            self.peak_in_flight = self._in_flight
            self._buckets.clear()  # full again, at the quotas set now


class _Middleware:
    """Wraps moto's WSGI application; see the module docstring for what it changes."""

    def __init__(self, *, moto_app: WsgiApp, faults: Faults) -> None:
        self._moto_app = moto_app
        self._faults = faults
        # The filtered, sorted answer held between the pages of one listing, as a server-side cursor.
        self._cursors: dict[str, Sequence[dict[str, Any]]] = {}
        # moto's whole answer per (account, region, operation, request), tagged with the generation of
        # SageMaker's state it was computed at.
        self._cache: dict[tuple[str, str, str, str], tuple[int, list[dict[str, Any]]]] = {}
        self._key_locks: dict[tuple[str, str, str, str], threading.Lock] = {}
        self._cache_lock = threading.Lock()
        self._identities: dict[str, tuple[str, str]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            forget_listings()
            return self._moto_app(environ, start_response)
        request = _read_request(environ)
        account = ""
        if self._faults.quota(request) is not None:
            account = self._caller_account(environ.get("HTTP_AUTHORIZATION", ""))
        throttle = self._faults.record(request, account=account)
        with self._faults.in_flight():
            if self._faults.latency_seconds > 0:
                time.sleep(self._faults.latency_seconds)
            if throttle:
                return _throttling_response(request, start_response)
            if (request.service, request.operation) in self._faults.denied:
                return _access_denied(request, start_response)
            broken = self._broken_answer(environ, request)
            if broken is not None:
                return _respond(
                    start_response, status=broken.status, content_type=broken.content_type, body=broken.body
                )
            return self._answer(environ, start_response, request)

    def _broken_answer(self, environ: dict[str, Any], request: RequestInfo) -> BrokenAnswer | None:
        for broken in self._faults.broken:
            if (broken.service, broken.operation) != (request.service, request.operation):
                continue
            if broken.account is not None and broken.account != self._caller_account(
                environ.get("HTTP_AUTHORIZATION", "")
            ):
                continue
            if broken.request_contains is None or broken.request_contains in _peek_body(environ):
                return broken
        return None

    def _answer(
        self, environ: dict[str, Any], start_response: Callable[..., Any], request: RequestInfo
    ) -> Iterable[bytes]:
        if request.service == "pricing" and request.operation == "GetProducts":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            return _respond(
                start_response,
                status="200 OK",
                content_type="application/x-amz-json-1.1",
                body=json.dumps(
                    pricing.get_products(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                ),
            )
        if request.service == "sagemaker":
            if request.operation in _LISTINGS:
                return self._listing(environ, start_response, request)
            if not request.operation.startswith(_READ_ONLY_PREFIXES):
                forget_listings()
        kms_key = environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID")
        if request.service == "s3" and kms_key and not self._kms_key_exists(environ, request, kms_key):
            return _respond(
                start_response,
                status="400 Bad Request",
                content_type="application/xml",
                body="<?xml version='1.0' encoding='UTF-8'?><Error><Code>KMS.NotFoundException</Code>"
                f"<Message>Key '{escape(kms_key)}' does not exist</Message>"
                f"<RequestId>{_request_id()}</RequestId></Error>",
            )
        if request.service == "sts" and request.operation == "AssumeRole":
            denial = self._assume_role_denial(environ, request.form)
            if denial:
                return _query_error(
                    start_response, status="403 Forbidden", code="AccessDenied", message=denial
                )
        return self._moto_app(environ, start_response)

    def _listing(
        self, environ: dict[str, Any], start_response: Callable[..., Any], request_info: RequestInfo
    ) -> Iterable[bytes]:
        """A page of a Search or List* answer, cut from moto's whole listing; see the module docstring."""
        shape = _LISTINGS[request_info.operation]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        page_size = min(int(request.pop("MaxResults", 10)), 100)
        cursor, _, offset_text = str(request.pop("NextToken", "") or "").partition(":")
        offset = int(offset_text or 0)
        sort_by = request.pop("SortBy", shape.default_sort_by)
        descending = request.pop("SortOrder", shape.default_sort_order) == "Descending"
        results = self._cursors.get(cursor)
        bulk = None
        if results is None and request_info.operation in ("Search", "ListTrainingJobs"):
            caller = self._caller_account(environ.get("HTTP_AUTHORIZATION", ""))
            bulk = bulk_region(caller, request_info.region)
            if request.get("Resource", "TrainingJob") != "TrainingJob":
                bulk = None
        if bulk is not None:
            results = _bulk_listing(bulk, shape, request, descending=descending)
            cursor = uuid.uuid4().hex
            self._cursors[cursor] = results
        if results is None:
            conditions = shape.pop_conditions(request)
            whole = self._whole_listing(environ, request_info, request)
            if isinstance(whole, _MotoError):
                start_response(whole.status, whole.headers)
                return [whole.body]
            results = [
                item
                for item in whole
                if all(_compare(shape.record(item, request), condition) for condition in conditions)
            ]
            if not self._faults.ignore_sort_order:
                results.sort(
                    key=lambda item: _instant(shape.record(item, request).get(sort_by)), reverse=descending
                )
            cursor = uuid.uuid4().hex
            self._cursors[cursor] = results
        page = results[offset : offset + page_size]
        following = offset + page_size
        reply: dict[str, Any] = {shape.items_key: page}
        if following < len(results):
            reply["NextToken"] = f"{cursor}:{following}"
        else:
            self._cursors.pop(cursor, None)
        return _respond(
            start_response,
            status="200 OK",
            content_type="application/x-amz-json-1.1",
            body=json.dumps(reply),
        )

    def _whole_listing(
        self, environ: dict[str, Any], request_info: RequestInfo, request: dict[str, Any]
    ) -> list[dict[str, Any]] | _MotoError:
        """moto's answer to `request` without paging, from the cache while SageMaker's state is unchanged."""
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        key = (
            self._caller_account(authorization),
            request_info.region,
            request_info.operation,
            json.dumps(request, sort_keys=True),
        )
        with self._cache_lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one moto computation per listing, however many callers wait for it
            generation = _LISTINGS_STATE.generation
            cached = self._cache.get(key)
            if cached is not None and cached[0] == generation:
                return cached[1]
            if request_info.operation == "Search" and request.get("Resource") == _TUNING_RESOURCE:
                whole = _search_tuning_jobs(account=key[0], region=request_info.region, request=request)
                self._cache[key] = (generation, whole)
                return whole
            body = json.dumps(request).encode()
            forwarded = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
            app_iter, status, headers = run_wsgi_app(self._moto_app, forwarded, buffered=True)
            answer = b"".join(app_iter)
            if not status.startswith("200"):
                return _MotoError(status=status, headers=list(headers.items()), body=answer)
            whole = json.loads(answer).get(_LISTINGS[request_info.operation].items_key, [])
            self._cache[key] = (generation, whole)
            return whole

    def _caller_account(self, authorization: str) -> str:
        """The account of the credentials that signed a request."""
        return self._caller_identity(authorization)[0]

    def _caller_arn(self, authorization: str) -> str:
        """The ARN of the credentials that signed a request."""
        return self._caller_identity(authorization)[1]

    def _caller_identity(self, authorization: str) -> tuple[str, str]:
        """(account, ARN) of the credentials that signed a request, asked of moto once per access key."""
        access_key = authorization.split("Credential=")[-1].split("/")[0]
        identity = self._identities.get(access_key)
        if identity is None:
            _, body = self._call_moto(
                service="sts",
                action="GetCallerIdentity",
                version="2011-06-15",
                params={},
                headers={"Authorization": _signed_for("sts", access_key)},
            )
            identity = self._identities[access_key] = (_xml_text(body, "Account"), _xml_text(body, "Arn"))
        return identity

    def _assume_role_denial(self, environ: dict[str, Any], form: dict[str, str]) -> str | None:
        """STS's refusal message when the role does not exist in its account or its trust policy does not
        let the caller in, else None."""
        role_arn = form.get("RoleArn", "")
        account_id, role_name = _split_role_arn(role_arn)
        if role_name == ALWAYS_ASSUMABLE_ROLE:
            return None
        status, body = self._call_moto(
            service="iam",
            action="GetRole",
            version="2010-05-08",
            params={"RoleName": role_name},
            headers={"x-moto-account-id": account_id},
        )
        caller = self._caller_arn(environ.get("HTTP_AUTHORIZATION", "")) or "anonymous"
        if status == 200:
            trust = json.loads(unquote(_xml_text(body, "AssumeRolePolicyDocument")) or "{}")
            if _trusts(trust, caller_arn=caller, external_id=form.get("ExternalId")):
                return None
        return f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"

    def _kms_key_exists(self, environ: dict[str, Any], request: RequestInfo, key: str) -> bool:
        """Whether a key id, key ARN, alias or alias ARN names a key of moto's KMS (the ARN's account and
        region, else the caller's)."""
        parts = key.split(":")
        if key.startswith("arn:") and len(parts) == 6:
            account, region = parts[4], parts[3]
        else:
            account, region = self._caller_account(environ.get("HTTP_AUTHORIZATION", "")), request.region
        backend = kms_backends[account][region]
        name = backend.get_alias_name(key)
        if name.startswith("alias/"):
            target = backend.get_key_id_from_alias(name)
            return target is not None and backend.get_key_id(target) in backend.keys
        return backend.get_key_id(key) in backend.keys

    def _call_moto(
        self, *, service: str, action: str, version: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str]:
        """A query-protocol call straight into moto's application: no socket, no faults, not counted."""
        signed = {
            "Authorization": _signed_for(service, _INTERNAL_KEY),
            **{name: value for name, value in headers.items() if value},
        }
        builder = EnvironBuilder(
            method="POST", path="/", headers=signed, data={"Action": action, "Version": version, **params}
        )
        app_iter, status, _ = run_wsgi_app(self._moto_app, builder.get_environ(), buffered=True)
        return int(status.split()[0]), b"".join(app_iter).decode()


_COMPARISONS = {
    "GreaterThan": lambda actual, bound: actual > bound,
    "GreaterThanOrEqualTo": lambda actual, bound: actual >= bound,
    "LessThan": lambda actual, bound: actual < bound,
    "LessThanOrEqualTo": lambda actual, bound: actual <= bound,
}


_READ_ONLY_PREFIXES = ("Describe", "List", "Search", "Get", "BatchDescribe", "BatchGet", "Query")


@dataclass(frozen=True)
class _ListingShape:
    """Where a listing's items are, and how its time filters are spelt."""

    items_key: str
    default_sort_by: str
    default_sort_order: str
    search: bool = False  # Search: each item holds its record under the name of the resource searched

    def record(self, item: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        return item.get(request.get("Resource", ""), {}) if self.search else item

    def pop_conditions(self, request: dict[str, Any]) -> list[dict[str, str]]:
        """The time comparisons of `request`, removed from it (moto gets the rest)."""
        if self.search:
            expression = request.get("SearchExpression") or {}
            filters = expression.get("Filters") or []
            comparisons = [f for f in filters if f.get("Operator") in _COMPARISONS]
            if comparisons:
                expression["Filters"] = [f for f in filters if f not in comparisons]
                if expression == {"Filters": []}:
                    del request["SearchExpression"]
            return comparisons
        return [
            {"Name": name, "Operator": operator, "Value": request.pop(parameter)}
            for parameter, (name, operator) in _LIST_TIME_FILTERS.items()
            if parameter in request
        ]


_LIST_TIME_FILTERS = {
    "CreationTimeAfter": ("CreationTime", "GreaterThan"),
    "CreationTimeBefore": ("CreationTime", "LessThan"),
    "LastModifiedTimeAfter": ("LastModifiedTime", "GreaterThan"),
    "LastModifiedTimeBefore": ("LastModifiedTime", "LessThan"),
}
_LISTINGS = {
    "Search": _ListingShape("Results", "LastModifiedTime", "Descending", search=True),
    "ListTrainingJobs": _ListingShape("TrainingJobSummaries", "CreationTime", "Ascending"),
    "ListProcessingJobs": _ListingShape("ProcessingJobSummaries", "CreationTime", "Ascending"),
    "ListHyperParameterTuningJobs": _ListingShape(
        "HyperParameterTuningJobSummaries", "CreationTime", "Ascending"
    ),
}


_TUNING_RESOURCE = "HyperParameterTuningJob"


def _search_tuning_jobs(*, account: str, region: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Search's results for tuning jobs, read from moto's in-memory state (this process runs the server)."""
    records = [
        {**_json_record(job.describe()), "Tags": list(job.tags or [])}
        for job in list(sagemaker_backends[account][region].hyper_parameter_tuning_jobs.values())
    ]
    filters = (request.get("SearchExpression") or {}).get("Filters") or []
    for condition in filters:
        if condition.get("Operator") not in ("Equals", "NotEquals"):
            raise ValueError(f"emulator: Search filter {condition} on tuning jobs is not supported")
    return [
        {_TUNING_RESOURCE: record}
        for record in records
        if all(
            (str(record.get(condition["Name"])) == condition["Value"]) == (condition["Operator"] == "Equals")
            for condition in filters
        )
    ]


def _bulk_listing(
    bulk: BulkRegion, shape: _ListingShape, request: dict[str, Any], *, descending: bool
) -> BulkListing:
    """A listing of a bulk region (`isoaudit.emulator.bulk`): time filters only, sorted by creation time
    (its jobs' other times follow it)."""
    conditions = shape.pop_conditions(request)
    if request.get("SearchExpression"):
        raise ValueError(f"emulator: a bulk region supports time filters only, not {request}")
    low, high = bulk.select(
        [(condition["Name"], condition["Operator"], _instant(condition["Value"])) for condition in conditions]
    )
    return BulkListing(bulk, low=low, high=high, descending=descending, search=shape.search)


def _json_record(value: Any) -> Any:
    """A moto record as the JSON protocol sends it: times as epoch seconds (moto's are naive UTC), absent
    fields left out."""
    if isinstance(value, dict):
        return {key: _json_record(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_json_record(item) for item in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return value


@dataclass
class _ListingsState:
    generation: int = 0


_LISTINGS_STATE = _ListingsState()


def forget_listings() -> None:
    """SageMaker's state changed outside its API (see `isoaudit.emulator.history`): listings are stale."""
    _LISTINGS_STATE.generation += 1


@dataclass(frozen=True)
class _MotoError:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def _signed_for(service: str, access_key: str) -> str:
    """An Authorization header that moto reads as `access_key` calling `service` (it checks no signature)."""
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/20240101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def _instant(value: Any) -> float:
    """A time from a JSON answer (epoch seconds) or a filter value (ISO 8601 or epoch), as epoch seconds."""
    if value is None:
        return float("-inf")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _compare(record: dict[str, Any], condition: dict[str, str]) -> bool:
    actual = record.get(condition["Name"])
    if actual is None:
        return False
    return _COMPARISONS[condition["Operator"]](_instant(actual), _instant(condition["Value"]))


def _read_request(environ: dict[str, Any]) -> RequestInfo:
    credential_scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split(",")[0]
    scope_parts = credential_scope.split("/")
    service, region = (scope_parts[3], scope_parts[2]) if len(scope_parts) == 5 else ("unknown", "")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return RequestInfo(service=service, region=region, operation=operation, protocol="json", form={})
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = _read_form(environ)
        if "Action" in form:
            return RequestInfo(
                service=service, region=region, operation=form["Action"], protocol="query", form=form
            )
    return RequestInfo(
        service=service,
        region=region,
        operation=environ.get("REQUEST_METHOD", "GET"),
        protocol="rest",
        form={},
    )


def _read_form(environ: dict[str, Any]) -> dict[str, str]:
    """The form parameters; the body is put back so that moto reads it too."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return {key: values[0] for key, values in parse_qs(body.decode()).items()}


def _trusts(document: dict[str, Any], *, caller_arn: str, external_id: str | None) -> bool:
    """Whether a role's trust policy lets `caller_arn` assume the role (see the module docstring)."""
    caller_account = caller_arn.split(":")[4] if caller_arn.count(":") >= 5 else ""
    # arn:aws:sts::<account>:assumed-role/<role>/<session> acts as arn:aws:iam::<account>:role/<role>.
    role = caller_arn.split(":assumed-role/")[1].split("/")[0] if ":assumed-role/" in caller_arn else ""
    caller_role = f"arn:aws:iam::{caller_account}:role/{role}" if role else ""
    accepted = {"*", caller_account, f"arn:aws:iam::{caller_account}:root", caller_arn, caller_role} - {""}
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = _as_list(statement.get("Action"))
        principal = statement.get("Principal", {})
        principals = ["*"] if principal == "*" else _as_list(principal.get("AWS"))
        required = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if (
            statement.get("Effect") == "Allow"
            and {"sts:AssumeRole", "sts:*", "*"} & set(actions)
            and accepted & set(principals)
            and (required is None or external_id in _as_list(required))
        ):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _split_role_arn(role_arn: str) -> tuple[str, str]:
    """(account id, role name) of arn:aws:iam::<account>:role/<path/><name>; empty strings if malformed."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return "", ""
    return parts[4], parts[5].rpartition("/")[2]


def _xml_text(body: str, tag: str) -> str:
    start = body.find(f"<{tag}>")
    end = body.find(f"</{tag}>")
    return body[start + len(tag) + 2 : end].strip() if start >= 0 and end > start else ""


def _throttling_response(request: RequestInfo, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A throttling error as the service's protocol spells it, so botocore retries it as throttling."""
    if request.protocol == "query" and request.service == "ec2":
        return _ec2_error(start_response, code="RequestLimitExceeded", message="Request limit exceeded.")
    if request.protocol == "query":
        return _query_error(
            start_response, status="400 Bad Request", code="Throttling", message="Rate exceeded"
        )
    if request.service == "s3":
        return _respond(
            start_response,
            status="503 Slow Down",
            content_type="application/xml",
            body="<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
            "<Message>Please reduce your request rate.</Message>"
            f"<RequestId>{_request_id()}</RequestId></Error>",
        )
    return _respond(
        start_response,
        status="400 Bad Request",
        content_type="application/x-amz-json-1.1",
        body=json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        headers=[("x-amzn-ErrorType", "ThrottlingException")],
    )


def _access_denied(request: RequestInfo, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """AccessDenied as the service's protocol spells it: what AWS answers when the caller's policy lacks
    the action."""
    message = f"User is not authorized to perform: {request.service}:{request.operation}"
    if request.protocol == "query":
        return _query_error(start_response, status="403 Forbidden", code="AccessDenied", message=message)
    if request.service == "s3":
        return _respond(
            start_response,
            status="403 Forbidden",
            content_type="application/xml",
            body="<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
            f"<Message>Access Denied</Message><RequestId>{_request_id()}</RequestId></Error>",
        )
    return _respond(
        start_response,
        status="400 Bad Request",
        content_type="application/x-amz-json-1.1",
        body=json.dumps({"__type": "AccessDeniedException", "message": message}),
        headers=[("x-amzn-ErrorType", "AccessDeniedException")],
    )


def _query_error(
    start_response: Callable[..., Any], *, status: str, code: str, message: str
) -> Iterable[bytes]:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{_request_id()}</RequestId></ErrorResponse>"
    )
    return _respond(start_response, status=status, content_type="text/xml", body=body)


def _ec2_error(start_response: Callable[..., Any], *, code: str, message: str) -> Iterable[bytes]:
    # EC2 has its own error envelope, and answers RequestLimitExceeded with HTTP 503.
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{_request_id()}</RequestID></Response>"
    )
    return _respond(start_response, status="503 Service Unavailable", content_type="text/xml", body=body)


def _peek_body(environ: dict[str, Any]) -> str:
    """The request's body, left in place for whoever answers the request."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", errors="replace")


def _respond(
    start_response: Callable[..., Any],
    *,
    status: str,
    content_type: str,
    body: str,
    headers: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    payload = body.encode()
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", _request_id()),
            *(headers or []),
        ],
    )
    return [payload]


def _request_id() -> str:
    return str(uuid.uuid4())


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Not logged: a line per request would drown the demo's output (errors are still logged)."""


class _EmulatorServer(ThreadedMotoServer):
    """moto's threaded server with the middleware around its application."""

    def __init__(self, *, faults: Faults) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._faults = faults

    def _server_entry(self) -> None:
        # Same as moto's own _server_entry, with the application wrapped.
        app = _Middleware(moto_app=DomainDispatcherApplication(create_backend_app), faults=self._faults)
        self._server = make_server(
            self._ip_address, self._port, app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@dataclass
class Emulator:
    """A running emulator: point boto3 at `url` (through `isoaudit.aws.session.AwsSession`)."""

    url: str
    faults: Faults
    seed: int
    _server: ThreadedMotoServer = field(repr=False)

    def reset(self) -> None:
        """Forget every resource and re-seed, so the next organization built gets the same ids."""
        self._post("/moto-api/reset")
        self._post(f"/moto-api/seed?a={self.seed}")
        self.faults.reset_counts()

    def stop(self) -> None:
        self._server.stop()

    def _post(self, path: str) -> None:
        # S310 allowed below: the URL is our own http:// server, never a file:// or user-given one.
        with urlopen(Request(f"{self.url}{path}", method="POST", data=b""), timeout=30) as response:  # noqa: S310
            response.read()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(*, seed: int = 7, latency_seconds: float = 0.0, throttle_rate: float = 0.0) -> Emulator:
    """Start an emulator on a free local port; account ids and other random ids are the same for a seed.

    moto keeps its state in module globals: two emulators in one process would share every resource, so
    start one per process and `reset()` it between uses.
    """
    faults = Faults(latency_seconds=latency_seconds, throttle_rate=throttle_rate, seed=seed)
    server = _EmulatorServer(faults=faults)
    server.start()
    host, port = server.get_host_and_port()
    emulator = Emulator(url=f"http://{host}:{port}", faults=faults, seed=seed, _server=server)
    emulator._post(f"/moto-api/seed?a={seed}")
    return emulator
