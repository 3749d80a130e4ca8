"""Calls of one `services:` deploy paced to ECS's documented request buckets (issue 27, "Throttled scale").

ECS throttles each action category per account and Region with a token bucket ("Request throttling for the Amazon
ECS API", Amazon ECS API Reference, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html,
table "Request Token Bucket Sizes and Refill Rates"). A deploy of many services sends bursts no one bucket holds
(100 RegisterTaskDefinition calls against a bucket of 20 refilled at 1 a second): sent at once, most are throttled
and retried with back-off, each retry a call ECS refuses and a delay longer than the refill needed. The `Pacer`
holds each call until the bucket, as this process has used it, has a token again: the calls go out as fast as ECS
admits them. Other clients of the account draw from the same buckets; what they take still throttles, and the
retries (`deploy.throttle_max_attempts`) cover that.

The table below is ci-ecs's own copy of the categories its deploy uses (the sandbox keeps its own, apart).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# (capacity, refill per second) by category; the actions of a category share its bucket. ECS API Reference,
# "Request throttling for the Amazon ECS API", "Request Token Bucket Sizes and Refill Rates".
_BUCKETS: dict[str, tuple[float, float]] = {
    "Cluster modify actions": (20, 1),
    "Cluster read actions": (50, 20),
    "Task definition modify actions": (20, 1),
    "Task definition read actions": (50, 20),
    "Service modify actions": (50, 5),
    "Service read actions": (100, 20),
    "Cluster resource read actions": (100, 20),
    "Service deployment actions": (50, 20),
    "Tag read actions": (50, 20),
    "Capacity provider read actions": (50, 20),
}
_CATEGORY: dict[str, str] = {
    "CreateCluster": "Cluster modify actions", "PutClusterCapacityProviders": "Cluster modify actions",
    "DescribeClusters": "Cluster read actions",
    "RegisterTaskDefinition": "Task definition modify actions",
    "DeregisterTaskDefinition": "Task definition modify actions",
    "DescribeTaskDefinition": "Task definition read actions", "ListTaskDefinitions": "Task definition read actions",
    "CreateService": "Service modify actions", "UpdateService": "Service modify actions",
    "DescribeServices": "Service read actions", "ListServices": "Service read actions",
    "DescribeTasks": "Cluster resource read actions", "ListTasks": "Cluster resource read actions",
    "DescribeServiceDeployments": "Service deployment actions", "ListServiceDeployments": "Service deployment actions",
    "ListTagsForResource": "Tag read actions",
    "DescribeCapacityProviders": "Capacity provider read actions",
}
# A held call goes out this much after its token is due: the bucket's own clock started at the first call's arrival,
# after ours (a loaded runner's threads can take a while to send); without it the call can arrive a moment before
# its token and be throttled after all. It delays the deploy once, not per call.
_MARGIN_SECONDS = 0.5
# ECS's answer to a throttled call (API Reference, "Request throttling": ThrottlingException, "Rate exceeded").
_THROTTLED = "ThrottlingException"


class Pacer:
    """Token buckets as ECS documents them, full at the start; `take` waits (with the caller's cancellable sleep)
    until the call's bucket has a token. Thread-safe: a token is reserved under the lock, the wait is outside it,
    so the callers of one bucket go out one refill apart in the order they asked."""

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # category -> (tokens, at); tokens < 0: reserved ahead
        self.waited = 0.0  # seconds callers waited in all (for tests and the debug log)

    def delay(self, operation: str) -> float:
        """Reserve a token for `operation`; the seconds to wait before sending it (0 for an unpaced action)."""
        category = _CATEGORY.get(operation)
        if category is None:
            return 0.0
        capacity, refill = _BUCKETS[category]
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(category, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * refill) - 1.0
            self._buckets[category] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / refill + _MARGIN_SECONDS

    def emptied(self, operation: str) -> None:
        """ECS throttled `operation`: its bucket is empty now (another client of the account drew from it, or our
        clock ran ahead of ECS's), whatever this process counted; the calls held from now on wait its refill."""
        category = _CATEGORY.get(operation)
        if category is None:
            return
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(category, (0.0, now))
            refill = _BUCKETS[category][1]
            self._buckets[category] = (min(0.0, tokens + (now - at) * refill), now)

    def take(self, operation: str) -> None:
        """Wait until `operation`'s bucket admits it."""
        wait = self.delay(operation)
        if wait > 0:
            self.waited += wait
            self._sleep(wait)

    def before_call(self, model: Any = None, **_: Any) -> None:
        """botocore's before-call hook: pace the call (its retries are botocore's, with back-off). Returns None:
        the call goes on."""
        if model is not None:
            self.take(str(model.name))

    def needs_retry(self, response: Any = None, operation: Any = None, **_: Any) -> None:
        """botocore's needs-retry hook, for every attempt: a ThrottlingException empties the call's bucket
        (`emptied`). Returns None: the retry decision stays botocore's."""
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else None
        if operation is not None and isinstance(parsed, dict) and parsed.get("Error", {}).get("Code") == _THROTTLED:
            self.emptied(str(operation.name))


_HOOK = "ci-ecs-pacer"


def pace(client: Any, sleep: Callable[[float], None]) -> Callable[[], None]:
    """Pace `client`'s ECS calls (a `Pacer` on its before-call event, first so the guard's deadline check follows
    the wait); returns what ends it."""
    pacer = Pacer(sleep)
    events = client.meta.events
    events.register_first("before-call.ecs.*", pacer.before_call, unique_id=_HOOK)
    events.register_first("needs-retry.ecs.*", pacer.needs_retry, unique_id=_HOOK)

    def unpace() -> None:
        events.unregister("before-call.ecs.*", unique_id=_HOOK)
        events.unregister("needs-retry.ecs.*", unique_id=_HOOK)

    return unpace
