"""RegisterTaskDefinition is refused the way ECS refuses it (ClientException, HTTP 400)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import EXECUTION_ROLE, PUBLIC_IMAGE, Aws

PRIVATE_ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
OTHER_ACCOUNT_ECR = "906394416424.dkr.ecr.us-east-1.amazonaws.com/aws-for-fluent-bit:stable"
AWSLOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app", "awslogs-region": "us-east-1"}}


def _register(aws: Aws, container: dict[str, Any] | None = None, **task: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "family": "rules",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "web", "image": PUBLIC_IMAGE, **(container or {})}],
    }
    definition.update(task)
    definition = {k: v for k, v in definition.items() if v is not None}
    return dict(aws.ecs.register_task_definition(**definition)["taskDefinition"])


NEEDS_ROLE_FOR_ECR = "Fargate requires task definition to have execution role ARN to support ECR images."
REFUSED = [
    ({"image": PRIVATE_ECR}, {}, NEEDS_ROLE_FOR_ECR),
    ({"image": OTHER_ACCOUNT_ECR}, {}, NEEDS_ROLE_FOR_ECR),
    (
        {"logConfiguration": AWSLOGS},
        {},
        "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
    ),
    (
        {"secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}]},
        {},
        "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'.",
    ),
    ({}, {"networkMode": "bridge"}, "Fargate only supports network mode \u2018awsvpc\u2019."),
    ({}, {"networkMode": None}, "Fargate only supports network mode \u2018awsvpc\u2019."),
    ({}, {"cpu": None}, "Fargate requires that 'cpu' be defined at the task level."),
    (
        {},
        {"cpu": "256", "memory": "4096"},
        "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
        "See the Amazon ECS documentation for the valid values.",
    ),
    (
        {"portMappings": [{"containerPort": 80, "hostPort": 8080}]},
        {},
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
    ),
]


@pytest.mark.parametrize(("container", "task", "message"), REFUSED)
def test_refused_like_ecs(aws: Aws, container: dict[str, Any], task: dict[str, Any], message: str) -> None:
    with pytest.raises(aws.ecs.exceptions.ClientException) as caught:
        _register(aws, container, **task)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == message
    assert aws.ecs.list_task_definitions(familyPrefix="rules")["taskDefinitionArns"] == []


def test_execution_role_makes_them_valid(aws: Aws) -> None:
    container = {
        "image": PRIVATE_ECR,
        "logConfiguration": AWSLOGS,
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
        "portMappings": [{"containerPort": 80, "hostPort": 80}],
    }
    registered = _register(aws, container, family="rules-ok", executionRoleArn=EXECUTION_ROLE)
    assert registered["revision"] == 1


def test_documented_spellings_are_converted(aws: Aws) -> None:
    registered = _register(aws, family="rules-units", cpu="0.25 vCPU", memory="0.5GB")
    assert (registered["cpu"], registered["memory"]) == ("256", "512")


def test_ec2_task_definitions_keep_their_freedom(aws: Aws) -> None:
    registered = _register(
        aws,
        {"image": PRIVATE_ECR, "memory": 128, "logConfiguration": AWSLOGS},
        family="rules-ec2",
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        cpu=None,
        memory=None,
    )
    assert registered["networkMode"] == "bridge"
