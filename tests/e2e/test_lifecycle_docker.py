"""run-task, rollback, status and deregister through the real `ci-ecs` command, against the sandbox's docker
runtime: tasks are real containers on a private Docker engine, so exit codes, logs (awslogs into the
sandbox's CloudWatch Logs), StopTask and reachable addresses are the engine's own.

The image is built FROM scratch with Debian's static busybox (no image can be pulled here); it is not in
the sandbox's ECR, so the runtime uses the engine's local image. Traffic goes only to 127.0.0.0/8.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool

pytestmark = [pytest.mark.docker]

IMAGE = "ci-ecs-lifecycle/busybox:1"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
# The service's container serves a page on 8080; run-task overrides its command.
SERVE = "mkdir -p /www && echo page-$VERSION > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www"


@pytest.fixture(scope="module")
def busybox_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context = tmp_path_factory.mktemp("lifecycle-image")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n")
    docker_client.images.build(path=str(context), tag=IMAGE, rm=True, network_mode="none")
    return IMAGE


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str], busybox_image: str) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"]) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


class Cli:
    """One cluster's config and the real `ci-ecs` command pointed at the sandbox."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.cluster = f"c-{uuid.uuid4().hex[:8]}"
        self.family = f"{self.cluster}-app"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))},
                    **sandbox.env(), "HOME": str(tmp_path)}
        self.ecs = boto3.client("ecs", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test")
        self.path = tmp_path / "ci-ecs.yml"
        self.write("1")

    def write(self, version: str) -> None:
        self.path.write_text(yaml.safe_dump({
            "cluster": self.cluster,
            "task": {"family": self.family, "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"], "execution_role_arn": EXECUTION_ROLE,
                     "containers": [{"name": "app", "image": IMAGE, "command": ["/bin/sh", "-c", SERVE],
                                     "environment": {"VERSION": version}, "stop_timeout": 2,
                                     "port_mappings": [{"container_port": 8080}],
                                     "logs": {"group": f"/ecs/{self.cluster}", "stream_prefix": "app",
                                              "create_group": True}}]},
            "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
            "deploy": {"timeout": 90, "stable_seconds": 1},
        }))

    def args(self, command: str, *args: str) -> list[str]:
        return [require_tool("ci-ecs"), command, "-c", str(self.path), *args]

    def run(self, command: str, *args: str, timeout: float = 180) -> Run:
        done = subprocess.run(self.args(command, *args), env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        sys.stderr.write(done.stderr)
        return Run(done.returncode, done.stdout, done.stderr)

    def revisions(self, status: str = "ACTIVE") -> list[str]:
        return list(self.ecs.list_task_definitions(familyPrefix=self.family, status=status)["taskDefinitionArns"])

    def service(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=self.cluster, services=["web"])["services"][0])

    def our_tasks(self, status: str = "RUNNING") -> list[str]:
        return list(self.ecs.list_tasks(cluster=self.cluster, startedBy="ci-ecs", desiredStatus=status)["taskArns"])


@pytest.fixture
def cli(sandbox: Sandbox, tmp_path: Path) -> Cli:
    return Cli(sandbox, tmp_path)


def _rev(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def test_failing_migration_reports_its_exit_code_and_output(cli: Cli) -> None:
    run = cli.run("run-task", "--command", "/bin/busybox sh -c 'echo MIGRATION-MARKER-42; exit 3'",
                  "--output", "json")
    assert run.code == 1, run.stderr
    result = run.json
    assert result["exitCode"] == 3 and result["lastStatus"] == "STOPPED"
    assert result["containers"] == [{"name": "app", "exitCode": 3, "reason": None}]
    assert result["stopCode"] == "EssentialContainerExited"
    assert "container app exited with code 3" in result["error"]
    assert "container app exited with code 3" in run.stderr
    assert "app | MIGRATION-MARKER-42" in run.stderr  # the container's awslogs stream, tailed
    assert result["durationSeconds"] > 0 and result["taskDefinitionRegistered"] is True


def test_successful_migration_twice_registers_once(cli: Cli) -> None:
    first = cli.run("run-task", "--command", "/bin/busybox echo migrated $VERSION", "--env", "VERSION=9",
                    "--output", "json")
    assert first.code == 0, first.stderr
    assert first.json["exitCode"] == 0 and first.json["lastStatus"] == "STOPPED"
    # shlex splits; no shell expands $VERSION: busybox echo prints it as given.
    assert "app | migrated $VERSION" in first.stderr
    task = cli.ecs.describe_tasks(cluster=cli.cluster, tasks=[first.json["taskArn"]])["tasks"][0]
    assert task["startedBy"] == "ci-ecs"
    assert task["overrides"]["containerOverrides"][0]["command"] == ["/bin/busybox", "echo", "migrated", "$VERSION"]
    assert task["attachments"][0]["type"] == "ElasticNetworkInterface"  # awsvpc, as the service would run

    second = cli.run("run-task", "--command", "/bin/busybox echo migrated $VERSION", "--output", "json")
    assert second.code == 0, second.stderr
    assert second.json["taskDefinitionRegistered"] is False
    assert second.json["taskDefinitionArn"] == first.json["taskDefinitionArn"]
    assert len(cli.revisions()) == 1
    assert cli.our_tasks() == []  # both stopped: nothing left running


def test_sigterm_stops_the_task_it_started(cli: Cli) -> None:
    cli.ecs.create_cluster(clusterName=cli.cluster)  # so the test can list tasks from the start
    process = subprocess.Popen(cli.args("run-task", "--command", "/bin/busybox sleep 300", "--output", "json"),
                               env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            arns = cli.our_tasks()
            if arns and cli.ecs.describe_tasks(cluster=cli.cluster, tasks=arns)["tasks"][0]["lastStatus"] == "RUNNING":
                break
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the task did not start"
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    sys.stderr.write(stderr)
    assert process.returncode == 143, stderr
    assert "StopTask" in stderr
    task = cli.ecs.describe_tasks(cluster=cli.cluster, tasks=arns)["tasks"][0]
    assert task["desiredStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"
    assert '"error"' in stdout and arns[0] in stdout  # the JSON result, with the task it stopped


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a loopback address of the sandbox
        return str(answer.read().decode())


def test_status_rollback_and_deregister_keep_what_runs(cli: Cli) -> None:
    first = cli.run("deploy", "--output", "json")
    assert first.code == 0, first.stderr
    nothing = cli.run("rollback", "--output", "json")
    assert nothing.code == 2 and "nothing to roll back to" in nothing.stderr

    cli.write("2")
    second = cli.run("deploy", "--output", "json")
    assert second.code == 0, second.stderr
    rev1, rev2 = first.json["taskDefinitionArn"], second.json["taskDefinitionArn"]
    assert _rev(rev2) == f"{cli.family}:2"

    status = cli.run("status", "--output", "json")
    assert status.code == 0, status.stderr
    state = status.json
    assert state["taskDefinitionArn"] == rev2 and state["deployments"][0]["rolloutState"] == "COMPLETED"
    [task] = state["tasks"]
    assert task["publicIp"].startswith("127.") and state["publicIps"] == [task["publicIp"]]
    assert state["serviceUrl"] == f"http://{task['publicIp']}:8080"
    assert _get(state["serviceUrl"]).strip() == "page-2"
    assert cli.run("status", "--output", "json").json["tasks"] == state["tasks"]  # read-only: the same twice

    back = cli.run("rollback", "--output", "json")
    assert back.code == 0, back.stderr
    assert back.json["rolledBackFrom"] == rev2 and back.json["rolledBackTo"] == rev1
    assert back.json["rolloutState"] == "COMPLETED" and back.json["taskDefinitionRegistered"] is False
    assert cli.service()["taskDefinition"] == rev1
    assert _get(f"http://{back.json['publicIps'][0]}:8080/").strip() == "page-1"
    again = cli.run("rollback", "--output", "json")
    assert again.code == 0 and again.json["serviceAction"] == "unchanged", again.stderr
    assert again.json["rolledBackFrom"] is None and cli.service()["taskDefinition"] == rev1

    for version in ("3", "4"):  # newer revisions that never ran
        cli.write(version)
        assert cli.run("register").code == 0
    cli.write("1")
    preview = cli.run("deregister", "--keep", "2", "--dry-run", "--output", "json")
    assert preview.code == 0, preview.stderr
    assert [_rev(a) for a in preview.json["deregistered"]] == [f"{cli.family}:2"]
    assert len(cli.revisions()) == 4  # a dry run deregisters nothing

    done = cli.run("deregister", "--keep", "2", "--output", "json")
    assert done.code == 0, done.stderr
    assert [_rev(a) for a in done.json["inUse"]] == [f"{cli.family}:1"]  # older than the newest 2, but running
    assert [_rev(a) for a in done.json["deregistered"]] == [f"{cli.family}:2"]
    assert sorted(_rev(a) for a in cli.revisions()) == [f"{cli.family}:{n}" for n in (1, 3, 4)]
    repeat = cli.run("deregister", "--keep", "2", "--output", "json")
    assert repeat.code == 0 and repeat.json["deregistered"] == []
    assert len(cli.revisions()) == 3
