"""Issue 27: what a deploy's start-up does before its first AWS call, measured in a real `ci-ecs deploy` process
against the simulated sandbox (counts, never times): each botocore model parsed once, one botocore session for the
command (the pre-flight's model reader aside), no garbage-collector pass until the deploy first waits, and modules
only other commands need left unimported."""

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
    assert {path: n for path, n in report["parsed"].items() if n > 1} == {}
    # The pre-flight's model reader (ci_ecs.aws.model_session) and the command's: check_profile's session is the
    # one the client factory goes on with.
    assert report["sessions"] == 2


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
