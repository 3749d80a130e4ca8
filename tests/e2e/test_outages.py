"""The deploy's promises when AWS calls hang, fail or are interrupted (issue 23: items 1, 2, 6 and 7).

The real `ci-ecs` command against the sandbox, behind tests/e2e/proxy.py (a loopback forwarder that delays,
hangs, drops or swallows chosen calls); throttling and 5xx come from the sandbox's own fault injection. "No
call started after the signal" is read from the proxy's log, which records each request as it arrives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool
from tests.e2e.proxy import FaultProxy

# A cancel ends the run within this many seconds (design.md, Exit codes); a timed-out run within --timeout + this.
CANCEL_SECONDS = 2.0
TIMEOUT_SLACK_SECONDS = 2.0
HOLD_SECONDS = 4.0  # how long the proxy holds the call a signal interrupts (the 4 s RegisterTaskDefinition)


@pytest.fixture
def proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox.endpoint_url) as running:
        yield running


@dataclass
class Ended:
    code: int
    stdout: str
    stderr: str
    seconds: float  # from the moment of interest (a signal, the first call) to the exit
    signalled_at: float | None = None

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


class Outages:
    """Configs for one cluster, and `ci-ecs deploy` runs through the proxy."""

    def __init__(self, sandbox: Sandbox, proxy: FaultProxy, tmp_path: Path) -> None:
        self.sandbox, self.proxy, self.tmp_path = sandbox, proxy, tmp_path
        self.cluster = f"o-{uuid.uuid4().hex[:8]}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_", "GITHUB_"))},
                    **sandbox.env(), "AWS_ENDPOINT_URL": proxy.url, "HOME": str(tmp_path)}
        self.ecs = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test")

    def config(self, greeting: str = "hello", *, services: list[str] | None = None, **top: Any) -> Path:
        data: dict[str, Any] = {
            "cluster": self.cluster,
            "task": {"family": f"{self.cluster}-web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"],
                     "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     "containers": [{"name": "web", "image": "nginx:1.27",
                                     "port_mappings": [{"container_port": 8080}],
                                     "environment": {"GREETING": greeting}}]},
            "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
            "deploy": {"timeout": 60, "stable_seconds": 0},
            **top,
        }
        if services:  # a `services:` list: each service deploys in a thread of its own
            task, service = data.pop("task"), data.pop("service")
            data["services"] = [{"task": {**task, "family": f"{self.cluster}-{name}"},
                                 "service": {**service, "name": name}} for name in services]
            data["deploy"]["parallelism"] = len(services)
        path = self.tmp_path / f"ci-ecs-{uuid.uuid4().hex[:6]}.yml"
        path.write_text(yaml.safe_dump(data))
        return path

    def start(self, config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([require_tool("ci-ecs"), "deploy", "-c", str(config), *args],
                                env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def run(self, config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Ended:
        process = self.start(config, "--output", "json", *args, env=env)
        begin = time.monotonic()
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        sys.stderr.write(stderr)
        return Ended(process.returncode, stdout, stderr, time.monotonic() - begin)

    def cancel_at(self, process: subprocess.Popen[str], operation: str, signum: int, *, number: int = 1,
                  after: float = 0.3) -> Ended:
        """Send `signum` `after` seconds once call `number` of `operation` reached the proxy; wait for the exit."""
        self.proxy.wait_for(operation, number=number)
        time.sleep(after)
        signalled = time.monotonic()
        process.send_signal(signum)
        try:
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        ended = time.monotonic() - signalled
        sys.stderr.write(stderr)
        return Ended(process.returncode, stdout, stderr, ended, signalled)

    def revisions(self) -> list[str]:
        return list(self.ecs.list_task_definitions(familyPrefix=f"{self.cluster}-web")["taskDefinitionArns"])


@pytest.fixture
def outages(sandbox: Sandbox, proxy: FaultProxy, tmp_path: Path) -> Outages:
    return Outages(sandbox, proxy, tmp_path)


def _assert_cancelled(outages: Outages, ended: Ended, signum: int) -> None:
    assert ended.code == {signal.SIGTERM: 143, signal.SIGINT: 130}[signum], ended.stderr
    assert ended.seconds < CANCEL_SECONDS, f"the cancel took {ended.seconds:.2f} s"
    assert ended.signalled_at is not None
    started = [(c.operation, c.number) for c in outages.proxy.calls_since(ended.signalled_at)]
    assert started == [], f"calls started after the signal: {started}"
    name = signal.Signals(signum).name
    assert f"cancelled ({name})" in ended.stderr
    assert ended.json["error"].startswith(f"cancelled ({name})")  # the JSON result, like any other ending
    assert "Traceback" not in ended.stderr


# --- 1. A cancel is never lost -------------------------------------------------------------------------------

@pytest.mark.parametrize(("operation", "signum"), [
    ("DescribeServices", signal.SIGTERM),  # the first describes run in a pool thread
    ("RegisterTaskDefinition", signal.SIGTERM),
    ("CreateService", signal.SIGINT),
    ("DescribeServiceDeployments", signal.SIGINT),  # a poll of the wait
], ids=["describe", "register", "create-service", "poll"])
def test_cancel_during_a_call_ends_at_once_and_starts_no_call(outages: Outages, operation: str,
                                                              signum: int) -> None:
    """Before: botocore retried the interrupted call (SIGTERM) and the deploy went on to exit 0."""
    outages.proxy.add(operation, "delay", seconds=HOLD_SECONDS, calls={1})
    process = outages.start(outages.config(), "--output", "json")
    ended = outages.cancel_at(process, operation, signum)
    _assert_cancelled(outages, ended, signum)
    if operation == "RegisterTaskDefinition":
        # The held call reaches ECS after the proxy's delay: what was sent stays done, nothing is sent twice.
        time.sleep(HOLD_SECONDS + 0.5)
        assert len(outages.revisions()) == 1
        assert [c.operation for c in outages.proxy.calls].count("RegisterTaskDefinition") == 1


def test_cancel_during_the_calls_of_a_services_deploy(outages: Outages) -> None:
    """Two services registering at once, each in a pool thread: both calls are left, neither is sent again."""
    outages.proxy.add("RegisterTaskDefinition", "delay", seconds=HOLD_SECONDS)
    process = outages.start(outages.config(services=["a", "b"]), "--output", "json")
    outages.proxy.wait_for("RegisterTaskDefinition", number=2)
    ended = outages.cancel_at(process, "RegisterTaskDefinition", signal.SIGTERM, number=2, after=0.1)
    _assert_cancelled(outages, ended, signal.SIGTERM)


def test_cancel_during_a_retry_back_off(outages: Outages) -> None:
    """Every DescribeServices dropped: botocore backs off between attempts; the cancel cuts the back-off short
    and no attempt follows it."""
    outages.proxy.add("DescribeServices", "drop")
    process = outages.start(outages.config(max_attempts=20), "--output", "json")
    ended = outages.cancel_at(process, "DescribeServices", signal.SIGTERM, number=3, after=0.05)
    _assert_cancelled(outages, ended, signal.SIGTERM)


def test_cancel_during_update_service(outages: Outages) -> None:
    first = outages.run(outages.config("one"))
    assert first.code == 0, first.stderr
    outages.proxy.clear()
    outages.proxy.add("UpdateService", "delay", seconds=HOLD_SECONDS, calls={1})
    process = outages.start(outages.config("two"), "--output", "json")
    ended = outages.cancel_at(process, "UpdateService", signal.SIGTERM)
    _assert_cancelled(outages, ended, signal.SIGTERM)
    assert ended.json["taskDefinitionRegistered"] is True


def test_cancel_during_the_wait_sleep(outages: Outages, sandbox: Sandbox) -> None:
    """Tasks that take long to start: the wait sleeps between polls when the signal comes."""
    before = sandbox.task_start_seconds
    sandbox.set_faults(task_start_seconds=30)
    try:
        process = outages.start(outages.config(), "--output", "json")
        ended = outages.cancel_at(process, "DescribeServiceDeployments", signal.SIGTERM, after=0.3)
    finally:
        sandbox.set_faults(task_start_seconds=before)
    _assert_cancelled(outages, ended, signal.SIGTERM)
    assert ended.json["serviceAction"] == "created"


def test_sigint_writes_the_ci_outputs(outages: Outages, tmp_path: Path) -> None:
    """Before: SIGINT was a KeyboardInterrupt: stdout empty, no $GITHUB_OUTPUT."""
    github_output = tmp_path / "github-output"
    outages.proxy.add("CreateService", "delay", seconds=HOLD_SECONDS, calls={1})
    process = outages.start(outages.config(), "--output", "github", env={"GITHUB_OUTPUT": str(github_output)})
    ended = outages.cancel_at(process, "CreateService", signal.SIGINT)
    assert ended.code == 130, ended.stderr
    assert ended.seconds < CANCEL_SECONDS
    assert ended.signalled_at is not None and outages.proxy.calls_since(ended.signalled_at) == []
    written = _github_outputs(github_output.read_text())
    assert written["task-definition-arn"] == \
        f"arn:aws:ecs:us-east-1:123456789012:task-definition/{outages.cluster}-web:1"
    assert written["cluster"] == outages.cluster
    assert ended.stdout.strip(), "the text summary is printed on stdout"


def _github_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT's `name<<DELIMITER` blocks (and `name=value` lines) as a dict."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


# --- 2. --timeout bounds the whole run -----------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["DescribeServices", "RegisterTaskDefinition", "DescribeServiceDeployments"])
def test_timeout_bounds_a_hung_call(outages: Outages, operation: str) -> None:
    """Before: 60 s read timeout × 8 attempts (a --timeout 15 run took 181 s and exited 1)."""
    timeout = 6
    outages.proxy.add(operation, "hang")
    ended = outages.run(outages.config(), "--timeout", str(timeout), timeout=90)
    assert ended.code == 4, ended.stderr
    first_call = outages.proxy.calls[0].at
    begin = time.monotonic() - ended.seconds
    # Counted from the deploy's start (its first call): the interpreter's start-up under load is not the deploy's.
    took = ended.seconds - max(0.0, first_call - begin)
    assert took < timeout + TIMEOUT_SLACK_SECONDS, f"{took:.2f} s for --timeout {timeout}"
    assert f"ecs {operation}: no answer from {outages.proxy.url} within the run's timeout ({timeout} s)" \
        in ended.stderr
    assert ended.json["error"]


def test_timeout_bounds_the_retries(outages: Outages) -> None:
    """Every DescribeServices dropped, 20 attempts allowed: the back-off would take minutes; retries that cannot
    finish before the deadline are not tried, and the run ends with exit 4."""
    timeout = 5
    outages.proxy.add("DescribeServices", "drop")
    ended = outages.run(outages.config(max_attempts=20), "--timeout", str(timeout), timeout=120)
    assert ended.code == 4, ended.stderr
    begin = time.monotonic() - ended.seconds
    took = ended.seconds - max(0.0, outages.proxy.calls[0].at - begin)
    assert took < timeout + TIMEOUT_SLACK_SECONDS, f"{took:.2f} s for --timeout {timeout}"
    assert "ecs DescribeServices: no answer" in ended.stderr and "last attempt: ConnectionClosedError" in ended.stderr


# --- 6. AWS-side trouble has an exit code of its own ---------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_exit_5_naming_the_endpoint(outages: Outages) -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"
    ended = outages.run(outages.config(max_attempts=2), env={"AWS_ENDPOINT_URL": endpoint})
    assert ended.code == 5, ended.stderr
    assert f"cannot connect to {endpoint}" in ended.stderr
    assert "is the sandbox running?" in ended.stderr
    assert "Connection refused" in ended.stderr and "Traceback" not in ended.stderr


def test_dropped_connections_are_exit_5(outages: Outages) -> None:
    outages.proxy.add("DescribeServices", "drop")
    ended = outages.run(outages.config(max_attempts=2))
    assert ended.code == 5, ended.stderr
    assert f"no answer from {outages.proxy.url} (the connection closed before the answer" in ended.stderr
    assert [c.operation for c in outages.proxy.calls].count("DescribeServices") == 2  # botocore retried, once


def test_tls_failure_is_exit_5(outages: Outages, sandbox: Sandbox) -> None:
    endpoint = sandbox.endpoint_url.replace("http://", "https://")
    ended = outages.run(outages.config(max_attempts=1), env={"AWS_ENDPOINT_URL": endpoint})
    assert ended.code == 5, ended.stderr
    assert f"TLS with {endpoint} failed" in ended.stderr


@pytest.mark.parametrize("fault", ["throttle", "5xx"])
def test_throttling_and_5xx_after_retries_are_exit_5(outages: Outages, sandbox: Sandbox, fault: str) -> None:
    """Before: exit 1, the code of a failed deployment."""
    try:
        if fault == "throttle":
            sandbox.set_faults(throttle_rate=1.0)
        else:
            sandbox.set_faults(error_5xx_operations="ecs:DescribeServices")
        ended = outages.run(outages.config(max_attempts=2, throttle_max_attempts=2))
    finally:
        sandbox.set_faults(throttle_rate=0.0, error_5xx_operations=())
    assert ended.code == 5, ended.stderr
    expected = "throttled by AWS" if fault == "throttle" else "AWS answered HTTP 503"
    assert f"{expected} at {outages.proxy.url} after 2 attempts" in ended.stderr
    assert ended.json["error"]


def test_a_region_no_partition_has_is_exit_2_before_any_call(outages: Outages) -> None:
    ended = outages.run(outages.config(), "--region", "xx-nowhere-1")
    assert ended.code == 2, ended.stderr
    assert "region: 'xx-nowhere-1' is not an AWS region" in ended.stderr
    assert outages.proxy.calls == []


def test_a_mistyped_region_is_exit_2_naming_the_nearest(outages: Outages) -> None:
    """Before: exit 3 ("credentials") with the signature error the endpoint answers."""
    ended = outages.run(outages.config(), env={"AWS_REGION": "us-esat-1", "AWS_DEFAULT_REGION": "us-esat-1"})
    assert ended.code == 2, ended.stderr
    assert "'us-esat-1' is not an AWS region" in ended.stderr
    assert "the nearest known region is us-east-1" in ended.stderr
    assert outages.revisions() == []


# --- 7. A lost answer does not register twice ----------------------------------------------------------------

@pytest.mark.parametrize("action", ["swallow", "drop"])
def test_lost_register_answer_leaves_one_new_revision(outages: Outages, action: str) -> None:
    """swallow: ECS registered the revision, its answer is lost (before: botocore sent the call again, two
    revisions); drop: the call never reached ECS, so it is sent again."""
    first = outages.run(outages.config("one"))
    assert first.code == 0, first.stderr
    assert len(outages.revisions()) == 1
    outages.proxy.clear()
    outages.proxy.add("RegisterTaskDefinition", action, calls={1})
    ended = outages.run(outages.config("two"))
    assert ended.code == 0, ended.stderr
    assert len(outages.revisions()) == 2, outages.revisions()
    assert ended.json["taskDefinitionArn"].endswith(f"{outages.cluster}-web:2")
    sent = [c.operation for c in outages.proxy.calls].count("RegisterTaskDefinition")
    assert sent == (1 if action == "swallow" else 2)
