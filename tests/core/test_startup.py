"""Issue 27: what a deploy does before its first AWS call, measured in a real `ci-ecs deploy` process against the
simulated sandbox (counts, never times): each botocore model parsed once, one botocore session for the command (the
pre-flight's model reader aside), no garbage-collector pass until the deploy first waits; and after its last poll,
the address lookup made alongside the verdict's reads (ci_ecs.follow.prefetch)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ecs import startup
from ci_ecs.follow.loop import Going
from ci_ecs.follow.prefetch import AddressPrefetch
from ci_ecs.network import Addresses
from ci_ecs.sandbox import Sandbox

# Runs `ci-ecs` as its console script does, with counters around what the test asserts on: botocore's JSON file
# reads (each model, endpoints, partitions), botocore sessions built, collector passes (gc.callbacks) and where
# the collector was paused and resumed (ci_ecs.startup). The report goes to $REPORT at exit.
WRAPPER = r"""
import atexit, collections, contextlib, gc, json, os, sys
import botocore.loaders, botocore.session
from ci_ecs import startup

report = {"parsed": collections.Counter(), "sessions": 0, "passes": 0, "paused_at": None, "resumed_at": None,
          "enabled_after_resume": None}
gc.callbacks.append(lambda phase, info: phase == "stop" and report.__setitem__("passes", report["passes"] + 1))
load_file = botocore.loaders.JSONFileLoader.load_file
def counting_load_file(self, file_path):
    found = load_file(self, file_path)
    if found is not None:
        report["parsed"][file_path] += 1
    return found
botocore.loaders.JSONFileLoader.load_file = counting_load_file
session_init = botocore.session.Session.__init__
def counting_init(self, *args, **kwargs):
    report["sessions"] += 1
    session_init(self, *args, **kwargs)
botocore.session.Session.__init__ = counting_init
paused = startup.collector_paused
@contextlib.contextmanager
def watched_pause(*args, **kwargs):
    report["paused_at"] = report["passes"]
    with paused(*args, **kwargs):
        yield
startup.collector_paused = watched_pause
resume = startup.resume_collector
def watched_resume():
    if report["resumed_at"] is None:
        report["resumed_at"] = report["passes"]
        resume()
        report["enabled_after_resume"] = gc.isenabled()
    else:
        resume()
startup.resume_collector = watched_resume
atexit.register(lambda: open(os.environ["REPORT"], "w").write(json.dumps({**report, "modules": sorted(sys.modules)})))
from ci_ecs.cli import main
sys.argv[0] = "ci-ecs"
main()
"""

@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, runtime="simulated") as sb:
        yield sb


def _deploy(sandbox: Sandbox, tmp_path: Path, image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    config = {"cluster": cluster,
              "task": {"family": f"{cluster}-web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                       "requires_compatibilities": ["FARGATE"],
                       "containers": [{"name": "web", "port_mappings": [{"container_port": 80}]}]},
              "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
              "deploy": {"timeout": 60, "stable_seconds": 0}}
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    report = tmp_path / "report.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path), "REPORT": str(report)}
    done = subprocess.run([sys.executable, "-c", WRAPPER, "deploy", "--image", image, "--output", "json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), json.loads(report.read_text())


def test_a_deploy_parses_each_model_once_with_one_session(sandbox: Sandbox, tmp_path: Path) -> None:
    """Before: the pre-flight's model reader and the ECS client each parsed the ECS model (and endpoints,
    partitions), and check_profile built a session of its own: three sessions, the ECS model parsed twice."""
    result, report = _deploy(sandbox, tmp_path, "public.ecr.aws/nginx/nginx:1.27")
    assert result["rolloutState"] == "COMPLETED"
    ecs_models = [path for path in report["parsed"] if "ecs" in Path(path).parts and "service-2" in path]
    assert ecs_models, report["parsed"]
    # Every service model, endpoints and partitions: one parse each (a paginator file two threads ask for at once may
    # be read twice, botocore's cache being filled by whichever finishes first).
    once = {path: n for path, n in report["parsed"].items()
            if "service-2" in path or Path(path).name in ("endpoints", "partitions", "_retry")}
    assert once and {path: n for path, n in once.items() if n > 1} == {}, report["parsed"]
    # The pre-flight's model reader (ci_ecs.aws.model_session) and the command's: check_profile's session is the
    # one the client factory goes on with.
    assert report["sessions"] == 2


def test_a_deploy_of_a_pulled_image_imports_no_docker_sdk(sandbox: Sandbox, tmp_path: Path) -> None:
    """The Docker SDK (~0.1 s to import) serves builds and pushes only: a deploy of an image it does not move
    leaves it out of its start-up (a guard: it is imported where an image is built or pushed)."""
    result, report = _deploy(sandbox, tmp_path, "public.ecr.aws/nginx/nginx:1.27")
    assert result["rolloutState"] == "COMPLETED"
    assert not [name for name in report["modules"] if name == "docker" or name.startswith("docker.")]


def test_no_collector_pass_before_the_deploys_first_wait(sandbox: Sandbox, tmp_path: Path) -> None:
    """Before: ~150 passes (a full one among them) during start-up, ~60 ms of CPU."""
    result, report = _deploy(sandbox, tmp_path, "public.ecr.aws/nginx/nginx:1.27")
    assert result["rolloutState"] == "COMPLETED"
    assert report["paused_at"] is not None and report["resumed_at"] is not None, report
    assert report["resumed_at"] == report["paused_at"]  # not one pass between the pause and the first wait
    assert report["enabled_after_resume"] is True


def test_collector_paused_gives_an_in_process_caller_its_collector_back() -> None:
    assert gc.isenabled()
    with startup.collector_paused():
        assert not gc.isenabled()
        startup.resume_collector()
        assert gc.isenabled() and gc.get_freeze_count() > 0  # what start-up made is skipped by later passes
        startup.resume_collector()  # once only
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with startup.collector_paused():  # never resumed: enabled again on the way out
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_long_start_up_resumes_the_collector_by_itself() -> None:
    """An image build or push is start-up too (no wait yet): the collector comes back after `resume_after`."""
    with startup.collector_paused(resume_after=0.05):
        assert not gc.isenabled()
        back = threading.Event()
        for _ in range(100):  # a bound, not a timing: the timer thread resumes it
            if gc.isenabled():
                break
            back.wait(0.05)
        assert gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _going(running: int, desired: int) -> Going:
    return Going((running, 0, 0), desired, ending=True, circuit_breaker=True, what="", progress="", timed_out="",
                 near_end=False)


def test_addresses_prefetched_from_the_ending_poll_are_taken_once() -> None:
    """AddressPrefetch with a lookup of our own (it stands for ci_ecs.network.service_addresses; no AWS here)."""
    service = {"serviceName": "web", "loadBalancers": []}
    threads: list[str] = []

    def lookup(described: dict[str, Any]) -> Addresses:
        threads.append(threading.current_thread().name)
        return Addresses(public_ips=[f"203.0.113.{len(threads)}"])

    early = AddressPrefetch(lookup, service)
    early.start(_going(2, 2))
    early.start(_going(2, 2))  # once
    addresses, seen = early.take(dict(service))
    assert addresses is not None and addresses.public_ips == ["203.0.113.1"] and seen > 0
    assert threads == ["ci-ecs-addresses"]

    failing = AddressPrefetch(lookup, service)
    failing.start(_going(1, 2))  # ends with tasks missing: nothing to report, no lookup
    assert threads == ["ci-ecs-addresses"]
    assert failing.take(service)[0].public_ips == ["203.0.113.2"]  # type: ignore[union-attr]
    assert threads[-1] == threading.current_thread().name

    moved = AddressPrefetch(lookup, service)
    moved.start(_going(2, 2))
    behind = {**service, "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:tg/web/1"}]}
    assert moved.take(behind)[0].public_ips == ["203.0.113.4"]  # type: ignore[union-attr]  # looked up again


def test_a_prefetched_lookups_error_is_raised_where_it_is_taken() -> None:
    def lookup(described: dict[str, Any]) -> Addresses:
        raise RuntimeError("lookup failed")

    prefetch = AddressPrefetch(lookup, {"serviceName": "web"})
    prefetch.start(_going(1, 1))
    with pytest.raises(RuntimeError, match="lookup failed"):
        prefetch.take({"serviceName": "web"})


def test_a_deploys_address_lookup_runs_alongside_its_last_reads(sandbox: Sandbox, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup (ListTasks, DescribeTasks, DescribeNetworkInterfaces) starts from the poll that ends the deployment,
    in a thread of its own, while the main thread lists the stopped tasks and describes the service: the same
    calls as one after another. Before: made in the main thread once the verdict's reads were done."""
    import ci_ecs.deploy
    from ci_ecs.aws import AwsSettings, ClientFactory
    from ci_ecs.config import load_config

    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    looked_up: list[str] = []
    real = ci_ecs.deploy.service_addresses

    def spy(*args: Any, **kwargs: Any) -> Addresses:  # our own function, run for real: where it ran is recorded
        looked_up.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(ci_ecs.deploy, "service_addresses", spy)
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    config = {"cluster": cluster,
              "task": {"family": f"{cluster}-web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                       "requires_compatibilities": ["FARGATE"],
                       "containers": [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                       "port_mappings": [{"container_port": 80}]}]},
              "service": {"name": "web", "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True},
              "deploy": {"timeout": 60, "stable_seconds": 0}}
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(config))
    ci_ecs.deploy.deploy(load_config(path), base_dir=tmp_path)  # created: its first deployment
    looked_up.clear()
    factory = ClientFactory(AwsSettings())
    result = ci_ecs.deploy.deploy(load_config(path, {"image_uri": "public.ecr.aws/nginx/nginx:1.28"}),
                                  factory=factory, base_dir=tmp_path)
    assert result.rolloutState == "COMPLETED" and result.serviceAction == "updated"
    assert looked_up == ["ci-ecs-addresses"]
    assert len(result.publicIps) == 2 and len(result.privateIps) == 2
    # The same reads as before, not more: the lookup's three and the verdict's (stopped tasks, the service).
    assert factory.counter.calls[("ec2", "DescribeNetworkInterfaces")] == 1
    assert factory.counter.calls[("ecs", "ListTasks")] == 2
