"""Create/UpdateExpressGatewayService requests ECS refuses, refused before anything is created or
changed (InvalidParameterException, HTTP 400).

Written from AWS's documentation, independently of ci-ecs's own pre-flight. botocore already
refuses what the model refuses (types, required members, the ExpressGatewayServiceScalingMetric
enum); these are the documented rules the model does not carry. Sources: ECS API reference,
CreateExpressGatewayService (executionRoleArn and infrastructureRoleArn are IAM role ARNs;
serviceName "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens", as
for CreateService), ExpressGatewayContainer (containerPort: a TCP port, 1-65535),
ExpressGatewayScalingTarget (minTaskCount and maxTaskCount are task counts, the minimum not above
the maximum), healthCheckPath ("The path on the container that the Application Load Balancer uses
for health checks": an ALB health check path starts with "/", ELB API reference,
CreateTargetGroup.HealthCheckPath, 1-1024 characters). Task-size pairs are refused by the task
definition rules (``taskdef_rules``), as the task definition ECS registers for the service would be.
"""

from __future__ import annotations

import re
from typing import Any

from moto.ecs.exceptions import InvalidParameterException

from .tag_rules import check_tags

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_HEALTH_CHECK_PATH = 1024  # CreateTargetGroup.HealthCheckPath: "1-1024 characters"
# AwsVpcConfiguration (ECS API reference): "a limit of 16 subnets" / "a limit of 5 security groups".
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
# Amazon ECS service quotas, "Tasks per service: 5,000" bounds a scaling target's maximum.
MAX_TASKS_PER_SERVICE = 5000


def _refuse(message: str) -> None:
    raise InvalidParameterException(message)


def check_create(params: dict[str, Any]) -> None:
    """Raise InvalidParameterException for a CreateExpressGatewayService request ECS refuses."""
    name = params.get("serviceName")
    if name is not None and not SERVICE_NAME.match(str(name)):
        _refuse("Service name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.")
    problem = check_tags(params.get("tags"))
    if problem:
        _refuse(problem)
    _check_roles(params, ("executionRoleArn", "infrastructureRoleArn", "taskRoleArn"))
    _check_common(params)


def check_update(params: dict[str, Any]) -> None:
    """Raise InvalidParameterException for an UpdateExpressGatewayService request ECS refuses."""
    _check_roles(params, ("executionRoleArn", "taskRoleArn"))
    _check_common(params)


def _check_roles(params: dict[str, Any], members: tuple[str, ...]) -> None:
    for member in members:
        value = params.get(member)
        if value is not None and not ROLE_ARN.match(str(value)):
            _refuse(f"{member} must be the ARN of an IAM role.")


def _check_common(params: dict[str, Any]) -> None:
    container = params.get("primaryContainer")
    if container is not None:
        port = container.get("containerPort")
        if port is not None and not 1 <= int(port) <= 65535:
            _refuse("containerPort must be a port number from 1 to 65535.")
        if not str(container.get("image") or "").strip():
            _refuse("primaryContainer.image must not be empty.")
    path = params.get("healthCheckPath")
    if path is not None and (not str(path).startswith("/") or len(str(path)) > MAX_HEALTH_CHECK_PATH):
        _refuse("healthCheckPath must start with '/' and have at most 1024 characters.")
    _check_scaling(params.get("scalingTarget"))
    network = params.get("networkConfiguration") or {}
    if len(network.get("subnets") or []) > MAX_SUBNETS:
        _refuse("networkConfiguration.subnets: there's a limit of 16 subnets.")
    if len(network.get("securityGroups") or []) > MAX_SECURITY_GROUPS:
        _refuse("networkConfiguration.securityGroups: there's a limit of 5 security groups.")


def _check_scaling(scaling: dict[str, Any] | None) -> None:
    if not scaling:
        return
    low, high = scaling.get("minTaskCount"), scaling.get("maxTaskCount")
    for member, value in (("minTaskCount", low), ("maxTaskCount", high)):
        if value is not None and not 0 <= int(value) <= MAX_TASKS_PER_SERVICE:
            _refuse(f"scalingTarget.{member} must be from 0 to {MAX_TASKS_PER_SERVICE}.")
    if low is not None and high is not None and int(low) > int(high):
        _refuse("scalingTarget.minTaskCount must not be greater than maxTaskCount.")
    target = scaling.get("autoScalingTargetValue")
    if target is not None and int(target) <= 0:
        _refuse("scalingTarget.autoScalingTargetValue must be greater than 0.")
