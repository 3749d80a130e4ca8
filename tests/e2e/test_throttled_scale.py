"""ci-ecs under ECS's documented request throttling (the sandbox's `--rate-limits aws`, issue 27 "Throttled scale"):
many services in one `services:` deploy end with exit 0 and no throttling error, and a cancel during a throttle's
back-off still ends the run within 2 s."""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
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
BURST = 20  # the bucket's size: registrations past it go out one a second
CHANGED = 30  # services whose image changes in the calls-a-service test


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
    throttled registrations fail the deploy with exit 5. Now the registrations are paced to the bucket (20 at once,
    then 1 a second: ci_ecs/pacing.py) instead of throttled and retried: none is throttled, and they are spread
    over the (SERVICES - 20) s the bucket needs."""
    sandbox.rate_limiter.reset()
    sandbox.clear_request_log()
    outages.proxy.clear()
    ended = outages.run(outages.config(services=[f"s{i}" for i in range(SERVICES)]), timeout=300)
    assert ended.code == 0, ended.stderr[-3000:]
    assert "throttl" not in (ended.stdout + ended.stderr).lower()
    assert len(ended.json["services"]) == SERVICES
    throttled = [d for d in sandbox.request_details if d.fault == "rate-limit"]
    assert not throttled, f"paced calls were throttled: {[d.operation for d in throttled][:20]}"
    registered = [d for d in sandbox.request_details if d.operation == "RegisterTaskDefinition" and d.status == 200]
    assert len(registered) == SERVICES  # each service registered once
    times = [c.at for c in outages.proxy.calls if c.operation == "RegisterTaskDefinition"]
    assert times[-1] - times[0] >= (SERVICES - BURST) - 2, "the registrations were not held for the bucket"


def test_a_bucket_emptied_by_another_client_is_retried_and_no_throttling_error_reaches_the_user(
        outages: Outages, sandbox: Sandbox) -> None:
    """Another client of the account empties the "Task definition modify actions" bucket while ci-ecs deploys: the
    pacer cannot know, ECS throttles ci-ecs's registrations, they are retried with jittered back-off (botocore's
    standard retries, `throttle_max_attempts`) and the deploy ends with exit 0 and no throttling error shown."""
    services = [f"o{i}" for i in range(12)]
    sandbox.rate_limiter.reset()
    sandbox.clear_request_log()
    with _draining(sandbox, seconds=4.0):
        ended = outages.run(outages.config(services=services), timeout=300)
    assert ended.code == 0, ended.stderr[-3000:]
    assert "throttl" not in (ended.stdout + ended.stderr).lower() and "rate exceeded" not in ended.stderr.lower()
    throttled = [d.operation for d in sandbox.request_details if d.fault == "rate-limit"]
    assert "RegisterTaskDefinition" in throttled, "ci-ecs was never throttled"
    assert all(s["rolloutState"] == "COMPLETED" for s in ended.json["services"])


def test_image_change_of_many_services_reads_them_together_on_one_poll_schedule(outages: Outages,
                                                                               sandbox: Sandbox) -> None:
    """An image change of CHANGED services in one config: the waits poll on one schedule and each poll instant's
    reads are shared (DescribeServices 10 services a call, the cluster's tasks listed once, DescribeTasks and
    DescribeNetworkInterfaces batched), and the waits start together once every service is updated (the
    registrations past the bucket's 20 go out one a second): fewer than 4.5 calls a service, where
    fabfuel/ecs-deploy's and the aws CLI's per-service scripts make 5 to 12 (bench/results.md, scenario 8).
    Before: ListTasks 3, DescribeTasks 2 and DescribeNetworkInterfaces 1 a service, 9.8 calls a service in all
    (20 services, measured); with the shared reads but waits started as each update went out, 6.7 (30 services)."""
    names = [f"c{i}" for i in range(CHANGED)]
    sandbox.rate_limiter.profile = "none"  # the set-up is not what is measured
    try:
        assert outages.run(outages.config(services=names), timeout=300).code == 0
    finally:
        sandbox.rate_limiter.profile = "aws"
    sandbox.rate_limiter.reset()
    sandbox.clear_request_log()
    outages.proxy.clear()
    ended = outages.run(outages.config("changed", services=names), timeout=300)
    assert ended.code == 0, ended.stderr[-3000:]
    assert all(s["rolloutState"] == "COMPLETED" and s["publicIps"] for s in ended.json["services"])
    calls = [d for d in sandbox.request_details if d.service in ("ecs", "ec2")]
    assert not [d for d in calls if d.fault], "paced calls were throttled"
    by_operation = Counter(d.operation for d in calls)
    assert by_operation["RegisterTaskDefinition"] == by_operation["UpdateService"] == CHANGED
    assert len(calls) / CHANGED < 4.5, f"{len(calls) / CHANGED:.2f} calls a service: {dict(by_operation)}"
    for operation in ("ListTasks", "DescribeTasks", "DescribeNetworkInterfaces"):
        assert by_operation[operation] < 0.5 * CHANGED, f"{operation} a service: {dict(by_operation)}"
    # One poll schedule: a poll's read (DescribeServiceDeployments: the sandbox names each service's deployment, so
    # the waits follow it through that API; DescribeServices for the service itself) comes in instants on the
    # deploy's one-second grid, each reading every waiting service in a batch (20 service deployments, 10 services
    # a call; twice when a thread asked after the batch went out), not a call per service at its own time.
    updated = min(c.at for c in outages.proxy.calls if c.operation == "UpdateService")
    for operation, batch in (("DescribeServiceDeployments", 20), ("DescribeServices", 10)):
        instants = _instants([c.at for c in outages.proxy.calls if c.operation == operation and c.at > updated])
        assert instants, operation
        assert all(len(i) <= 2 * math.ceil(CHANGED / batch) for i in instants), (operation, [len(i) for i in instants])
        if operation == "DescribeServiceDeployments":
            span = instants[-1][0] - instants[0][0]
            assert len(instants) <= span + 2, f"polls off the deploy's one-second grid: {len(instants)} in {span:.1f} s"


def _instants(times: list[float]) -> list[list[float]]:
    """Calls grouped by instant: a call within 0.5 s of its instant's first belongs to it."""
    instants: list[list[float]] = []
    for at in times:
        if instants and at - instants[-1][0] < 0.5:
            instants[-1].append(at)
        else:
            instants.append([at])
    return instants


def test_a_failing_service_among_many_is_reported_and_rolled_back_while_the_others_complete(
        outages: Outages, sandbox: Sandbox) -> None:
    """One service of many crashes at start (the simulated runtime's exit-code label): that one fails, with its
    stopped task's reason, and is rolled back to its previous revision; the others complete. Exit 1."""
    names = [f"f{i}" for i in range(8)]
    sandbox.rate_limiter.reset()
    assert outages.run(outages.config(services=names), timeout=300).code == 0
    config = yaml.safe_load(outages.config("crash", services=names).read_text())
    crashing = copy.deepcopy(config["services"][3]["task"]["containers"])  # YAML aliases share one list
    crashing[0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "3"}
    config["services"][3]["task"]["containers"] = crashing
    path = outages.tmp_path / "one-crashes.yml"
    path.write_text(yaml.safe_dump(config))
    sandbox.rate_limiter.reset()
    ended = outages.run(path, timeout=300)
    assert ended.code == 1, ended.stderr[-3000:]
    assert "throttl" not in (ended.stdout + ended.stderr).lower()
    results = {s["service"]: s for s in ended.json["services"]}
    failed = results.pop("f3")
    assert failed["rolloutState"] != "COMPLETED" and str(failed["rolledBackTo"]).endswith(":1"), failed
    error = ended.json["error"]
    assert error.startswith("f3: ") and not [n for n in results if f"{n}: " in error], error
    assert "exit code 3" in ended.stderr
    assert all(s["rolloutState"] == "COMPLETED" and not s.get("error") for s in results.values()), results
    service = outages.ecs.describe_services(cluster=outages.cluster, services=["f3", "f0"])["services"]
    assert [s["taskDefinition"].rsplit(":", 1)[-1] for s in service] == ["1", "2"]


@contextlib.contextmanager
def _draining(sandbox: Sandbox, *, seconds: float) -> Iterator[None]:
    """Another client of the account takes the "Task definition modify actions" tokens for `seconds`."""
    other = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    stop = threading.Event()
    end = time.monotonic() + seconds

    def drain() -> None:
        while not stop.is_set() and time.monotonic() < end:
            with contextlib.suppress(ClientError):  # a revision that does not exist: a token taken, nothing changed
                other.deregister_task_definition(taskDefinition="drain-nothing:1")

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        yield
    finally:
        stop.set()
        drainer.join(timeout=10)


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


def test_cancel_while_registrations_are_paced_ends_within_2_s(outages: Outages, sandbox: Sandbox) -> None:
    """30 services: past the bucket's 20 the registrations are held by the pacer (a second apart); SIGTERM while they
    are held ends the run at once and no call follows the signal."""
    sandbox.rate_limiter.reset()
    process = outages.start(outages.config("paced", services=[f"p{i}" for i in range(30)]), "--output", "json")
    ended = outages.cancel_at(process, "RegisterTaskDefinition", signal.SIGTERM, number=22, after=0.3)
    _assert_cancelled(outages, ended, signal.SIGTERM)
    assert [c.operation for c in outages.proxy.calls].count("RegisterTaskDefinition") < 30
