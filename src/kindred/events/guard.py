"""Unauthenticated intake: what a sender that fails authentication may cost.

Channel webhooks are open to anyone who can reach them, and a refused payload used to be kept
whole as an open dead letter: 200 forged 1 MiB posts were 200 rows and 11.6 MB that no
retention ever removed. Now a refusal for authentication (a bad signature or write key) is

- *counted* (``kindred_channel_auth_failures_total``), always;
- *sampled*: at most ``samples_per_hour`` per channel and source address are kept, each as
  its first ``sample_bytes`` bytes with the size and SHA-256 of the whole payload, and only
  while the dead-letter store holds fewer than ``quota`` letters — the rest are dropped and
  counted (``kindred_channel_auth_samples_dropped_total{reason}``);
- *rate-limited*: a source that fails ``failures_per_minute`` times is refused (429 with
  ``Retry-After``) before its body is read, until its allowance refills.

The counters live in this process: with ``serve --workers N`` each worker allows as much.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from kindred.config import Settings
from kindred.errors import KindredError

AUTH_FAILURES = Counter(
    "kindred_channel_auth_failures_total",
    "Channel deliveries refused for authentication (bad signature or write key)",
    ["channel"],
)
SAMPLES_DROPPED = Counter(
    "kindred_channel_auth_samples_dropped_total",
    "Refused unauthenticated payloads not kept as dead letters: over the per-source sample "
    "allowance (source_limit) or with the dead-letter store full (quota)",
    ["channel", "reason"],
)
RATE_LIMITED = Counter(
    "kindred_channel_rate_limited_total",
    "Channel requests refused (429) because their source failed authentication too often",
    ["channel"],
)
# Sources remembered at most; beyond this the idle (fully refilled) ones are forgotten first.
MAX_SOURCES = 10_000


class SourceRateLimited(KindredError):
    status = 429
    problem = "too-many-requests"
    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "this address failed authentication too often; retry after "
            f"{retry_after} second(s) with a valid signature or key",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    at: float


class SourceGuard:
    """Per-source allowances for unauthenticated failures (one instance per application)."""

    def __init__(
        self,
        *,
        failures_per_minute: int,
        samples_per_hour: int,
        sample_bytes: int,
        quota: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(failures_per_minute)
        self.rate = failures_per_minute / 60.0  # allowance regained per second
        self.samples_per_hour = samples_per_hour
        self.sample_bytes = sample_bytes
        self.quota = quota
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._samples: dict[tuple[str, str], tuple[int, int]] = {}  # → (hour, kept)

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceGuard:
        return cls(
            failures_per_minute=settings.channel_failures_per_minute,
            samples_per_hour=settings.channel_failure_samples_per_hour,
            sample_bytes=settings.channel_failure_sample_bytes,
            quota=settings.dead_letter_quota,
        )

    def _bucket(self, source: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.pop(source, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[source] = bucket  # re-inserted: the dict stays in order of use
        if len(self._buckets) > MAX_SOURCES:
            self._forget_idle()
        return bucket

    def _forget_idle(self) -> None:
        full = [s for s, b in self._buckets.items() if b.tokens >= self.capacity]
        for source in full:
            del self._buckets[source]
        # Still too many failing sources: forget the least recently seen half.
        for source in list(self._buckets)[: max(0, len(self._buckets) - MAX_SOURCES // 2)]:
            del self._buckets[source]

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may be heard again; None when it may be now."""
        if source not in self._buckets:  # never failed (or forgotten): nothing to remember
            return None
        bucket = self._bucket(source)
        if bucket.tokens >= 1:
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def admit(self, channel: str, source: str) -> None:
        """Refuse (429) a source that is out of allowance, before its body is read."""
        wait = self.retry_after(source)
        if wait is not None:
            RATE_LIMITED.labels(channel).inc()
            raise SourceRateLimited(wait)

    def failed(self, channel: str, source: str) -> bool:
        """Count one authentication failure; whether a sample of it may be kept."""
        AUTH_FAILURES.labels(channel).inc()
        bucket = self._bucket(source)
        bucket.tokens = max(0.0, bucket.tokens - 1)
        hour = int(self.clock() // 3600)
        key = (channel, source)
        seen_hour, kept = self._samples.get(key, (hour, 0))
        if seen_hour != hour:
            kept = 0
        if kept >= self.samples_per_hour:
            SAMPLES_DROPPED.labels(channel, "source_limit").inc()
            return False
        self._samples[key] = (hour, kept + 1)
        if len(self._samples) > MAX_SOURCES:
            self._samples = {k: v for k, v in self._samples.items() if v[0] == hour}
        return True

    def quota_full(self, channel: str) -> None:
        """A sample that was allowed found the dead-letter store full: count the drop."""
        SAMPLES_DROPPED.labels(channel, "quota").inc()
