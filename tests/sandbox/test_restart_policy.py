"""Container restart policies on the simulated runtime (ECS API reference, ContainerRestartPolicy): a container
that exits with a code not ignored, after running restartAttemptPeriod, restarts in place; its task stays
RUNNING and the restart is counted (``Sandbox.restart_counts``: ECS's RestartCount). The sandbox runs with
``minute_seconds=1``, so the 60 s minimum period lasts one second."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_ecs.sandbox import CRASH_AFTER_LABEL, CRASH_LABEL, Sandbox

from .conftest import TASK_START_SECONDS, Aws, wait_for


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's sandbox: a minute lasts one second."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True, minute_seconds=1,
                 start_registry=False) as sb:
        yield sb


def _service(aws: Aws, family: str, exit_code: str, after: str, policy: dict[str, Any]) -> str:
    cluster = aws.cluster()
    task_definition = aws.ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                               "dockerLabels": {CRASH_LABEL: exit_code, CRASH_AFTER_LABEL: after},
                               "restartPolicy": policy}],
    )["taskDefinition"]["taskDefinitionArn"]
    aws.service(cluster, "web", task_definition, desired=1)
    return cluster


def test_a_crashing_container_restarts_in_place(aws: Aws, sandbox: Sandbox) -> None:
    policy = {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}
    cluster = _service(aws, "restarts", "3", "1.5", policy)
    (task,) = wait_for(lambda: aws.tasks(cluster, "web"), what="a task")
    wait_for(lambda: sandbox.restart_counts(task["taskArn"]).get("web", 0) >= 2, timeout=20, what="2 restarts")
    (still,) = aws.tasks(cluster, "web")
    assert still["taskArn"] == task["taskArn"]  # the same task, never replaced
    assert (still["lastStatus"], still["containers"][0]["lastStatus"]) == ("RUNNING", "RUNNING")
    assert aws.tasks(cluster, "web", desired_status="STOPPED") == []
    deployment = aws.describe(cluster, "web")["deployments"][0]
    assert (deployment["rolloutState"], deployment["failedTasks"]) == ("COMPLETED", 0)


def _stops(aws: Aws, cluster: str) -> dict[str, Any]:
    stopped = wait_for(lambda: aws.tasks(cluster, "web", desired_status="STOPPED"), timeout=20, what="a stop")
    return dict(stopped[0])


def test_an_ignored_exit_code_stops_the_task(aws: Aws, sandbox: Sandbox) -> None:
    cluster = _service(aws, "ignored", "0", "1.5", {"enabled": True, "ignoredExitCodes": [0],
                                                     "restartAttemptPeriod": 60})
    task = _stops(aws, cluster)
    assert (task["stopCode"], task["containers"][0]["exitCode"]) == ("EssentialContainerExited", 0)
    assert sandbox.restart_counts(task["taskArn"]) == {"web": 0}


def test_a_container_that_exits_before_the_attempt_period_is_not_restarted(aws: Aws, sandbox: Sandbox) -> None:
    cluster = _service(aws, "early-exit", "3", "0.3", {"enabled": True, "restartAttemptPeriod": 60})
    task = _stops(aws, cluster)
    assert (task["stopCode"], task["containers"][0]["exitCode"]) == ("EssentialContainerExited", 3)
    assert sandbox.restart_counts(task["taskArn"]) == {"web": 0}


def test_without_a_policy_the_task_is_replaced(aws: Aws, sandbox: Sandbox) -> None:
    cluster = _service(aws, "no-policy", "3", "1.5", {"enabled": False})
    task = _stops(aws, cluster)
    assert task["stopCode"] == "EssentialContainerExited"
    assert sandbox.restart_counts(task["taskArn"]) == {"web": 0}


@pytest.mark.parametrize("policy", [{"enabled": True, "restartAttemptPeriod": 59},
                                    {"enabled": True, "restartAttemptPeriod": 1801},
                                    {"enabled": True, "ignoredExitCodes": list(range(51))}])
def test_register_task_definition_refuses_a_policy_outside_ecs_limits(aws: Aws, policy: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as caught:
        aws.ecs.register_task_definition(
            family="bad-policy", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "restartPolicy": policy}])
    assert caught.value.response["Error"]["Code"] == "ClientException"
    assert "restartPolicy" in caught.value.response["Error"]["Message"]
