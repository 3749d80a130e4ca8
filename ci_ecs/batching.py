"""Reads shared by the services of one `services:` deploy (issue 27, "Throttled scale"): each service's wait runs in
its own thread on the deploy's poll grid (ci_ecs.ecs.BatchingEcsGateway), and what the threads ask for at one grid
instant is read in as few calls as the APIs allow, instead of a call per service.

- `Coalescer`: the keys several threads ask for within a short window go out as one batched call (DescribeTasks,
  100 tasks a call; DescribeNetworkInterfaces).
- `ClusterTasks`: ListTasks once for the whole cluster (desired status RUNNING or STOPPED, all pages) instead of
  once per service, each task put under its service by its `group` ("service:NAME" for a service's tasks, API
  reference Task.group), as long as the cluster's listing takes no more pages than there are services asking:
  a cluster busy with other services' tasks is listed per service again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# How long the first thread to ask waits for the others before the batched call goes out: the threads woken at one
# grid instant ask within a few milliseconds of each other; 50 ms is nothing against a poll a second.
COALESCE_SECONDS = 0.05


@dataclass
class _Batch(Generic[K, V]):
    keys: dict[K, None] = field(default_factory=dict)  # ordered set
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[K, V] = field(default_factory=dict)
    error: BaseException | None = None


class Coalescer(Generic[K, V]):
    """One `fetch` for the keys every thread asked for within `window` seconds of the first.

    The first caller of a batch waits the window, then fetches every key asked for (`fetch` splits them by its
    API's limit); the others wait for that answer. A failed fetch fails every caller of its batch alike.
    """

    def __init__(self, fetch: Callable[[list[K]], dict[K, V]], window: float = COALESCE_SECONDS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._fetch = fetch
        self.window = window
        self._sleep = sleep
        self._lock = threading.Lock()
        self._open: _Batch[K, V] | None = None
        self.fetches = 0  # batched calls made (for tests)

    def get(self, keys: Iterable[K]) -> dict[K, V]:
        """The answers for `keys` (a key the fetch did not answer is left out)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with self._lock:
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            batch.keys.update(dict.fromkeys(wanted))
        if leader:
            try:
                self._sleep(self.window)
            finally:
                with self._lock:
                    self._open = None
            try:
                self.fetches += 1
                batch.result = self._fetch(list(batch.keys))
            except BaseException as exc:
                batch.error = exc
                raise
            finally:
                batch.done.set()
        else:
            batch.done.wait()
            if batch.error is not None:
                raise batch.error
        return {key: batch.result[key] for key in wanted if key in batch.result}


# A task whose lastStatus is STOPPED does not change any more: described once, kept for the whole deploy.
_FINAL = "STOPPED"


@dataclass
class _Listing:
    sent: float
    by_service: dict[str, list[str]]


class ClusterTasks:
    """A cluster's tasks by service, listed and described once per grid instant for every service asking.

    `list_page(desired_status, next_token)` is one ListTasks call for the whole cluster ((ARNs, next token));
    `describe(arns)` DescribeTasks (any number: batched by the caller). `tolerance`: an answer sent no earlier than
    this before a caller asked is its answer; `forget_seconds`: a service not asked about for that long is done.
    """

    def __init__(self, list_page: Callable[[str, str | None], tuple[list[str], str | None]],
                 describe: Callable[[list[str]], list[dict[str, Any]]], *, tolerance: float = 0.2,
                 forget_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._list_page = list_page
        self.tolerance = tolerance
        self.forget_seconds = forget_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._asked: dict[str, dict[str, float]] = {}  # desired status -> service -> when last asked
        self._listings: dict[str, _Listing] = {}
        # Pages the cluster's last listing needed (or more, when it was cut short): per status.
        self.pages: dict[str, int] = {}
        self._tasks: dict[str, tuple[float, dict[str, Any]]] = {}  # ARN -> (described at, task)
        self._tasks_lock = threading.Lock()
        self._describer: Coalescer[str, dict[str, Any]] = Coalescer(
            lambda arns: {str(t.get("taskArn")): t for t in describe(arns)})

    def service_tasks(self, service: str, desired_status: str) -> list[str] | None:
        """The service's task ARNs of that desired status from the cluster's listing, or None: list this service
        on its own (the cluster's listing takes more pages than there are services asking)."""
        asked = self._clock()
        with self._lock:
            services = self._asked.setdefault(desired_status, {})
            services[service] = asked
            listing = self._listings.get(desired_status)
            if listing is None or listing.sent < asked - self.tolerance:
                wanted = sum(1 for t in services.values() if asked - t < self.forget_seconds)
                if self.pages.get(desired_status, 0) > wanted:
                    return None
                listing = self._list(desired_status, wanted)
                if listing is None:
                    return None
                self._listings[desired_status] = listing
            return list(listing.by_service.get(service, []))

    def forget(self, service: str) -> None:
        """The service's deploy is done: it no longer counts as asking."""
        with self._lock:
            for services in self._asked.values():
                services.pop(service, None)

    def _list(self, desired_status: str, most_pages: int) -> _Listing | None:
        sent = self._clock()
        arns: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page, token = self._list_page(desired_status, token)
            pages += 1
            arns.extend(page)
            if not token:
                break
            if pages >= most_pages:  # more pages than services asking: a call per service is cheaper
                self.pages[desired_status] = pages + 1
                return None
        self.pages[desired_status] = pages
        by_service: dict[str, list[str]] = {}
        for task in self.describe(arns, since=sent):
            group = str(task.get("group") or "")
            if group.startswith("service:"):  # API reference, Task.group: "service:NAME" for a service's tasks
                by_service.setdefault(group.removeprefix("service:"), []).append(str(task.get("taskArn")))
        return _Listing(sent, by_service)

    def describe(self, arns: list[str], *, since: float | None = None) -> list[dict[str, Any]]:
        """The tasks, in `arns`' order: from what was described no earlier than `since` (default: `tolerance`
        before now) or has stopped for good, the rest in one batched DescribeTasks for every thread asking."""
        since = self._clock() - self.tolerance if since is None else since
        with self._tasks_lock:
            known = {arn: self._tasks[arn] for arn in arns if arn in self._tasks}
        fresh = {arn: task for arn, (at, task) in known.items() if at >= since or task.get("lastStatus") == _FINAL}
        missing = [arn for arn in arns if arn not in fresh]
        if missing:
            at = self._clock()
            described = self._describer.get(missing)
            with self._tasks_lock:
                for arn, task in described.items():
                    self._tasks[arn] = (at, task)
            fresh.update(described)
        return [fresh[arn] for arn in dict.fromkeys(arns) if arn in fresh]
