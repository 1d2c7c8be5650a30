"""AWS's request quotas, and the collector's own pacing under them.

AWS throttles each account-region per operation with a token bucket: a burst, then a steady refill rate;
a request beyond it is answered `ThrottlingException` (EC2: `RequestLimitExceeded`). Parallel slices of one
listing share the one bucket of their account-region, so retrying alone (botocore's adaptive mode is per
client) spends calls: the collector paces every call of an (account, region, operation) through one shared
bucket at the quota's rate, so that none is sent to be refused.

Rates, requests per second per account-region (the sources, or ASSUMED where AWS publishes none):

- SageMaker `ListTrainingJobs`: about 2/s, as users report it (AWS publishes no SageMaker control-plane
  rate; Service Quotas lists none).
- SageMaker `Search` and the other job `List*`: ASSUMED the same 2/s as `ListTrainingJobs`.
- SageMaker `Describe*Job` and `ListTags`: ASSUMED 5/s.
- EC2 `DescribeRegions`: a bucket of 100, refilled at 20/s, as EC2 documents for its non-mutating actions
  (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
The emulator's bursts (what AWS lets through before the steady rate) are ASSUMED one second's worth for
SageMaker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


SAGEMAKER_LIST_RATE = 2.0
SAGEMAKER_DESCRIBE_RATE = 5.0
# (signing name, operation) -> the quota AWS applies per account-region.
QUOTAS: dict[tuple[str, str], Rate] = {
    **{
        ("sagemaker", operation): Rate(SAGEMAKER_LIST_RATE, SAGEMAKER_LIST_RATE)
        for operation in (
            "Search",
            "ListTrainingJobs",
            "ListProcessingJobs",
            "ListHyperParameterTuningJobs",
        )
    },
    **{
        ("sagemaker", operation): Rate(SAGEMAKER_DESCRIBE_RATE, SAGEMAKER_DESCRIBE_RATE)
        for operation in (
            "DescribeTrainingJob",
            "DescribeProcessingJob",
            "DescribeHyperParameterTuningJob",
            "ListTags",
        )
    },
    ("ec2", "DescribeRegions"): Rate(20.0, 100.0),
}


def scaled(quotas: Mapping[tuple[str, str], Rate], factor: float) -> dict[tuple[str, str], Rate]:
    """The same quotas `factor` times faster (a benchmark compresses time this way; ratios are unchanged)."""
    return {key: Rate(rate.per_second * factor, rate.burst * factor) for key, rate in quotas.items()}


class TokenBucket:
    """`burst` tokens, refilled at `per_second`; thread-safe."""

    def __init__(self, rate: Rate) -> None:
        self._rate = rate
        self._tokens = rate.burst
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self._rate.burst, self._tokens + (now - self._at) * self._rate.per_second)
        self._at = now

    def take(self) -> bool:
        """Take a token if there is one now (a server's decision)."""
        with self._lock:
            self._refill(time.monotonic())
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False

    def reserve(self) -> float:
        """Take the next token, owed if need be; the seconds to wait before using it (a client's pacing)."""
        with self._lock:
            self._refill(time.monotonic())
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate.per_second


class Pacer:
    """One bucket per (caller, region, operation), shared by every client of the run: calls wait for their
    turn instead of being throttled. A caller's bucket holds one token (no burst of its own), so its steady
    rate never exceeds the quota and AWS's burst is left to absorb jitter."""

    def __init__(self, quotas: Mapping[tuple[str, str], Rate] = QUOTAS) -> None:
        self._quotas = dict(quotas)
        self._buckets: dict[tuple[str, str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def wait(self, *, caller: str, region: str, service: str, operation: str) -> None:
        rate = self._quotas.get((service, operation))
        if rate is None:
            return
        key = (caller, region, service, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(Rate(rate.per_second, 1.0))
        delay = bucket.reserve()
        if delay > 0:
            time.sleep(delay)
