"""ci-ecs under ECS's documented request throttling (the sandbox's `--rate-limits aws`, issue 27 "Throttled scale"):
many services in one `services:` deploy end with exit 0 and no throttling error, and a cancel during a throttle's
back-off still ends the run within 2 s."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ci_ecs.sandbox import Sandbox
from tests.e2e.proxy import FaultProxy
from tests.e2e.test_outages import Outages, _assert_cancelled

TASK_START_SECONDS = 0.2
# More services than the "Task definition modify actions" bucket holds (20 tokens, 1 a second): the registrations
# past the 20th are throttled and must wait their turn. 50: the most deploy.parallelism allows; at this size botocore's
# standard retries alone (8 attempts, and a retry quota the services' one client shares) failed a registration.
SERVICES = 50


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True, start_registry=False,
                 rate_limits="aws") as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


@pytest.fixture
def proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox.endpoint_url) as running:
        yield running


@pytest.fixture
def outages(sandbox: Sandbox, proxy: FaultProxy, tmp_path: Path) -> Outages:
    return Outages(sandbox, proxy, tmp_path)


def test_many_services_under_the_limits_end_with_exit_0_and_no_throttling_error(outages: Outages,
                                                                                sandbox: Sandbox) -> None:
    """Before: botocore's standard retries (8 attempts, and a retry quota shared by the services' one client) let
    throttled registrations fail the deploy with exit 5."""
    sandbox.clear_request_log()
    ended = outages.run(outages.config(services=[f"s{i}" for i in range(SERVICES)]), timeout=300)
    assert ended.code == 0, ended.stderr[-3000:]
    assert "throttl" not in (ended.stdout + ended.stderr).lower()
    assert len(ended.json["services"]) == SERVICES
    throttled = [d for d in sandbox.request_details if d.fault == "rate-limit"]
    assert throttled, "the sandbox throttled nothing: the test did not test throttling"
    registered = [d for d in sandbox.request_details if d.operation == "RegisterTaskDefinition" and d.status == 200]
    assert len(registered) == SERVICES  # each service registered once: a throttled call had no side effect


def test_cancel_during_a_throttle_back_off_ends_within_2_s(outages: Outages, sandbox: Sandbox) -> None:
    """The "Task definition modify actions" bucket kept empty by another client of the same account: ci-ecs's
    RegisterTaskDefinition is throttled and backs off; SIGTERM during the back-off ends the run at once and no
    attempt follows."""
    other = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            with contextlib.suppress(ClientError):  # a revision that does not exist: a token taken, nothing changed
                other.deregister_task_definition(taskDefinition="drain-nothing:1")

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        process = outages.start(outages.config(), "--output", "json")
        ended = outages.cancel_at(process, "RegisterTaskDefinition", signal.SIGTERM, number=3, after=0.05)
    finally:
        stop.set()
        drainer.join(timeout=10)
    _assert_cancelled(outages, ended, signal.SIGTERM)
    assert [c.operation for c in outages.proxy.calls].count("RegisterTaskDefinition") >= 3
