"""Issue 26's restart-policy done-when item on the docker runtime, through the real `ci-ecs deploy`: a container
with a restart policy that crashes after 1.5 s is restarted in place on the private Docker engine; the task
stays RUNNING and the restarts are counted (``Sandbox.restart_counts``). The sandbox runs with
``minute_seconds=1`` (the 60 s minimum restartAttemptPeriod lasts a second). The image is built FROM scratch
with Debian's static busybox and used as the engine's local image; traffic goes only to 127.0.0.0/8."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool

pytestmark = [pytest.mark.docker]

IMAGE = "ci-ecs-restart/busybox:1"


@pytest.fixture(scope="module")
def busybox_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context = tmp_path_factory.mktemp("restart-image")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n")
    docker_client.images.build(path=str(context), tag=IMAGE, rm=True, network_mode="none")
    return IMAGE


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str], busybox_image: str) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"], minute_seconds=1) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def test_restart_policy_keeps_a_crashing_container_running(sandbox: Sandbox, tmp_path: Path) -> None:
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump({
        "cluster": cluster,
        "task": {"family": f"{cluster}-app", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                 "requires_compatibilities": ["FARGATE"],
                 "containers": [{"name": "app", "image": IMAGE, "command": ["/bin/sh", "-c", "sleep 1.5; exit 3"],
                                 "stop_timeout": 2, "restart_policy": {
                                     "enabled": True, "ignored_exit_codes": [0], "restart_attempt_period": 60}}]},
        "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
        "deploy": {"timeout": 90, "stable_seconds": 1},
    }))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path)}
    done = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path)], env=env, capture_output=True,
                          text=True, timeout=180)
    sys.stderr.write(done.stderr)
    assert done.returncode == 0, done.stderr
    ecs = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    (arn,) = ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sandbox.restart_counts(arn).get("app", 0) < 2:
        time.sleep(0.2)
    assert sandbox.restart_counts(arn)["app"] >= 2  # restarted in place on the engine, twice
    (task,) = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    assert (task["lastStatus"], task["desiredStatus"]) == ("RUNNING", "RUNNING")
    assert ecs.list_tasks(cluster=cluster, serviceName="web", desiredStatus="STOPPED")["taskArns"] == []
