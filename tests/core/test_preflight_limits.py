"""Table-driven tests of the documented limits the model lacks (ci_ecs.preflight.limits). Pure: no AWS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ci_ecs.config import TaskConfig
from ci_ecs.preflight.keys import Keys
from ci_ecs.preflight.limits import definition_problems, service_problems

NGINX = "public.ecr.aws/nginx/nginx:1.27"
DEFINITION: dict[str, Any] = {"family": "f", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
                              "cpu": "512", "memory": "1024",
                              "containerDefinitions": [{"name": "app", "image": NGINX},
                                                       {"name": "side", "image": NGINX, "essential": False}]}
KEYS = Keys(TaskConfig(file="taskdef.json"))
TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"


def _container(**members: Any) -> dict[str, Any]:
    data = copy.deepcopy(DEFINITION)
    data["containerDefinitions"][0].update(members)
    return data


# (id, definition, fragment of the one problem; "" when valid)
DEFINITIONS: list[tuple[str, dict[str, Any], str]] = [
    ("valid", DEFINITION, ""),
    ("ten-containers", {**DEFINITION, "containerDefinitions": [{"name": f"c{i}", "image": NGINX}
                                                               for i in range(10)]}, ""),
    ("eleven-containers", {**DEFINITION, "containerDefinitions": [{"name": f"c{i}", "image": NGINX}
                                                                  for i in range(11)]}, "11 containers"),
    ("64-kib", _container(environment=[{"name": f"V{i}", "value": "x" * 100} for i in range(700)]), "64 KiB"),
    ("duplicate-names", {**DEFINITION, "containerDefinitions": [{"name": "a", "image": NGINX}] * 2}, "repeated: a"),
    ("no-essential", _container(essential=False), "no essential container"),
    ("depends-on-missing", _container(dependsOn=[{"containerName": "db", "condition": "START"}]), "no container"),
    ("depends-on-sidecar", _container(dependsOn=[{"containerName": "side", "condition": "START"}]), ""),
    ("env-equals", _container(environment=[{"name": "A=B", "value": "1"}]), "contains '='"),
    ("env-nul", _container(environment=[{"name": "A\x00", "value": "1"}]), "NUL"),
    ("env-empty", _container(environment=[{"name": "", "value": "1"}]), "is empty"),
    ("secret-equals", _container(secrets=[{"name": "A=B", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}]),
     "contains '='"),
    ("env-lower-case-and-dots-fine", _container(environment=[{"name": "spring.profiles", "value": "1"}]), ""),
    ("memory-above-task", _container(memory=2048), "more than the task's memory"),
    ("reservation-above-memory", _container(memory=256, memoryReservation=512), "more than memory 256"),
    ("reservations-sum-above-task", {**DEFINITION, "containerDefinitions": [
        {"name": "a", "image": NGINX, "memoryReservation": 600},
        {"name": "b", "image": NGINX, "memoryReservation": 600}]}, "reserve 1200 MiB"),
    ("cpu-sum-above-task", {**DEFINITION, "containerDefinitions": [
        {"name": "a", "image": NGINX, "cpu": 512}, {"name": "b", "image": NGINX, "cpu": 1}]}, "513 cpu units"),
    ("privileged-fargate", _container(privileged=True), "privileged is not valid on Fargate"),
    ("privileged-false-fargate", _container(privileged=False), ""),
    ("privileged-ec2", {**_container(privileged=True), "requiresCompatibilities": ["EC2"]}, ""),
    ("stop-timeout-fargate", _container(stopTimeout=121), "more than Fargate's 120"),
    ("stop-timeout-ec2", {**_container(stopTimeout=300), "requiresCompatibilities": ["EC2"]}, ""),
    ("links-fargate", _container(links=["side"]), "links is not valid"),
    ("ptrace-fargate", _container(linuxParameters={"capabilities": {"add": ["CAP_SYS_PTRACE"]}}), ""),
    ("net-admin-fargate", _container(linuxParameters={"capabilities": {"add": ["NET_ADMIN"]}}), "NET_ADMIN"),
    ("tmpfs-fargate", _container(linuxParameters={"tmpfs": [{"containerPath": "/t", "size": 1}]}), "tmpfs"),
    ("docker-volume-fargate", {**DEFINITION, "volumes": [{"name": "v", "dockerVolumeConfiguration": {
        "scope": "task"}}]}, "dockerVolumeConfiguration"),
    ("ipc-mode-fargate", {**DEFINITION, "ipcMode": "host"}, "ipcMode is not valid"),
]


@pytest.mark.parametrize(("case", "definition", "fragment"), DEFINITIONS, ids=[c[0] for c in DEFINITIONS])
def test_definition_limits(case: str, definition: dict[str, Any], fragment: str) -> None:
    problems = definition_problems(definition, KEYS)
    if not fragment:
        assert problems == [], [str(p) for p in problems]
        return
    assert len(problems) == 1 and fragment in problems[0].message, [str(p) for p in problems]
    assert problems[0].key == "task.file" and problems[0].message.startswith("taskdef.json: task.file: ")


SERVICE = {"cluster": "demo", "serviceName": "web", "taskDefinition": "f:1", "desiredCount": 2}

# (id, request changes, the key of the one problem; None when valid)
SERVICES: list[tuple[str, dict[str, Any], str | None]] = [
    ("valid", {}, None),
    ("quota", {"desiredCount": 5001}, "service.desired_count"),
    ("at-quota", {"desiredCount": 5000}, None),
    ("binpack-disk", {"placementStrategy": [{"type": "binpack", "field": "disk"}]},
     "service.placement_strategy[0].field"),
    ("binpack-memory", {"placementStrategy": [{"type": "binpack", "field": "memory"}]}, None),
    ("spread-without-field", {"placementStrategy": [{"type": "spread"}]}, "service.placement_strategy[0].field"),
    ("six-strategies", {"placementStrategy": [{"type": "random"}] * 6}, "service.placement_strategy"),
    ("member-of-empty", {"placementConstraints": [{"type": "memberOf", "expression": ""}]},
     "service.placement_constraints[0].expression"),
    ("eleven-constraints", {"placementConstraints": [{"type": "distinctInstance"}] * 11},
     "service.placement_constraints"),
    ("target-group-not-an-arn", {"loadBalancers": [{"targetGroupArn": "not-an-arn", "containerName": "a",
                                                    "containerPort": 80}]},
     "service.load_balancers[0].target_group_arn"),
    ("target-group-of-a-load-balancer", {"loadBalancers": [{"targetGroupArn": TARGET_GROUP.replace(
        "targetgroup/web", "loadbalancer/app/web"), "containerName": "a", "containerPort": 80}]},
     "service.load_balancers[0].target_group_arn"),
    ("target-group", {"loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "a",
                                         "containerPort": 80}]}, None),
    ("six-target-groups", {"loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "a",
                                              "containerPort": 80 + i} for i in range(6)]}, "service.load_balancers"),
    ("seventeen-subnets", {"networkConfiguration": {"awsvpcConfiguration": {
        "subnets": [f"subnet-{i}" for i in range(17)]}}}, "service.subnets"),
    ("six-security-groups", {"networkConfiguration": {"awsvpcConfiguration": {
        "subnets": ["subnet-1"], "securityGroups": [f"sg-{i}" for i in range(6)]}}}, "service.security_groups"),
    ("aws-tag-prefix", {"tags": [{"key": "AWS:owner", "value": "x"}]}, "service.tags"),
    ("blue-green-no-bake", {"deploymentConfiguration": {"strategy": "BLUE_GREEN"}}, "service.bake_time_minutes"),
    ("blue-green-bake-0", {"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}}, None),
    ("canary-defaults", {"deploymentConfiguration": {"strategy": "CANARY", "canaryConfiguration": {}}}, None),
]


@pytest.mark.parametrize(("case", "changes", "key"), SERVICES, ids=[c[0] for c in SERVICES])
def test_service_limits(case: str, changes: dict[str, Any], key: str | None) -> None:
    problems = service_problems({**SERVICE, **changes}, KEYS)
    assert [p.key for p in problems] == ([key] if key else []), [str(p) for p in problems]


def test_blue_green_bake_time_waits_for_the_real_request() -> None:
    """Before the service was described (a new service's request), an existing service's own bake time may
    still count: the rule waits for the request as sent."""
    request = {**SERVICE, "deploymentConfiguration": {"strategy": "BLUE_GREEN"}}
    assert service_problems(request, KEYS, known_state=False) == []
    assert service_problems({**request, "desiredCount": 11}, KEYS, tasks_quota=10)[0].key == "service.desired_count"
