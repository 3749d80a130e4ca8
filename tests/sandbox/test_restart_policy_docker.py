"""Container restart policies on the docker runtime (ECS API reference, ContainerRestartPolicy): a container
that exits with a code not ignored, after running restartAttemptPeriod, is started again on the engine in
place; the task stays RUNNING and the restarts are counted (``Sandbox.restart_counts``: ECS's
RestartCount). The sandbox runs with ``minute_seconds=1`` (the 60 s minimum period lasts a second)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ci_ecs.sandbox import Sandbox

from .conftest import Aws, wait_for
from .test_docker_runtime import busybox_image  # noqa: F401 - the module's FROM scratch busybox image

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str], busybox_image: str) -> Iterator[Sandbox]:  # noqa: F811
    """This module's sandbox runs tasks as containers on the private engine; a minute lasts one second."""
    with Sandbox(task_start_seconds=0.3, validate_responses=True, runtime="docker", start_registry=False,
                 docker_host=docker_env["DOCKER_HOST"], minute_seconds=1) as sb:
        yield sb


def test_a_crashing_container_restarts_in_place_on_the_engine(
    aws: Aws, sandbox: Sandbox, busybox_image: str, docker_client: Any  # noqa: F811
) -> None:
    cluster = aws.cluster()
    task_definition = aws.ecs.register_task_definition(
        family="restarts", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{
            "name": "app", "image": busybox_image, "essential": True, "entryPoint": ["/bin/sh", "-c"],
            "command": ["/bin/busybox sleep 1.5; exit 3"],
            "restartPolicy": {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
        }],
    )["taskDefinition"]["taskDefinitionArn"]
    aws.service(cluster, "web", task_definition, desired=1)
    (task,) = wait_for(lambda: [t for t in aws.tasks(cluster, "web") if t["lastStatus"] == "RUNNING"],
                       timeout=30, what="a RUNNING task")
    wait_for(lambda: sandbox.restart_counts(task["taskArn"]).get("app", 0) >= 2, timeout=30, what="2 restarts")
    (still,) = aws.tasks(cluster, "web")
    assert still["taskArn"] == task["taskArn"]  # the same task, never replaced
    assert still["lastStatus"] == "RUNNING"
    assert aws.tasks(cluster, "web", desired_status="STOPPED") == []
    # The engine's container was started again, not replaced by a new one.
    assert still["containers"][0]["runtimeId"] == task["containers"][0]["runtimeId"]
    assert docker_client.containers.get(task["containers"][0]["runtimeId"]).status in ("running", "exited")
    assert aws.describe(cluster, "web")["deployments"][0]["failedTasks"] == 0
