"""The service's addresses looked up while its deployment's last reads run (issue 27).

At the poll that ends a deployment, the loop still lists the stopped tasks (ListTasks, DescribeTasks) and the
verdict describes the service (DescribeServices) before the deploy looks up the addresses (ListTasks, DescribeTasks,
DescribeNetworkInterfaces): six calls one after another, while the two halves need nothing from each other. Started
from that poll (`Poll.on_ending`) when all of our tasks run, the lookup goes on in a thread of its own, and the
deploy takes its answer once the deployment COMPLETED; the same calls, the time of one half. botocore's clients are
thread-safe ("Clients are generally thread-safe", boto3 documentation, "Multithreading or multiprocessing with
clients"), and the lookup runs with the deploy's own phases (contextvars).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

from ci_ecs.follow.loop import Going
from ci_ecs.network import Addresses

Lookup = Callable[[dict[str, Any]], "Addresses | None"]


class AddressPrefetch:
    """One service's address lookup, started early (`start`) or not at all; `take` gives it, or looks up now.

    `service`: the service as the call that started the deployment answered it (the lookup reads its name and
    load balancers); a deployment that ended with other load balancers is looked up again (`take`).
    """

    def __init__(self, lookup: Lookup, service: dict[str, Any]) -> None:
        self.lookup = lookup
        self.service = service
        self._thread: threading.Thread | None = None
        self._addresses: Addresses | None = None
        self._error: BaseException | None = None
        self.described_at = 0.0  # time.time() when the lookup's answer was complete

    def start(self, going: Going) -> None:
        """From the poll that ends the deployment: look up now when every task of ours runs (a deployment that
        ends by failing has nothing to report, and its lookup is never made). Once."""
        if self._thread is not None or not going.desired or going.counts[0] < going.desired:
            return
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="ci-ecs-addresses", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._addresses = self.lookup(self.service)
        except BaseException as exc:  # raised where `take` is called, as a lookup made there would be
            self._error = exc
        self.described_at = time.time()

    def take(self, service: dict[str, Any]) -> tuple[Addresses | None, float]:
        """The addresses of `service` (as the verdict described it) and when they were read: the lookup started
        early when it was, for the same load balancers; else one made now."""
        if self._thread is not None:
            self._thread.join()
            if self._error is not None:
                raise self._error
            if _balancers(service) == _balancers(self.service):
                return self._addresses, self.described_at
        return self.lookup(service), time.time()


def _balancers(service: dict[str, Any]) -> list[Any]:
    return list(service.get("loadBalancers") or [])
