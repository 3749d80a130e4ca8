"""`express:` an ECS Express Mode service (CreateExpressGatewayService's request in snake_case), deployed
by `ci-ecs deploy` instead of `task:` + `service:`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from ci_ecs.config.base import StrictModel
from ci_ecs.config.values import NAME_255
from ci_ecs.imageref import parse_image_ref

ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")


class ExpressLogs(StrictModel):
    log_group: str = Field(min_length=1, max_length=512)
    log_stream_prefix: str = Field(min_length=1, max_length=512)


class ExpressContainer(StrictModel):
    """`primary_container:` ExpressGatewayContainer; `image` defaults to the deployed image."""

    image: str | None = None
    container_port: int | None = Field(default=None, ge=1, le=65535)
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)  # NAME: ARN of a Secrets Manager secret / SSM parameter
    aws_logs_configuration: ExpressLogs | None = None
    repository_credentials: str | None = None  # credentialsParameter: the secret's ARN

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        # YAML reads `PORT: 80` as a number; ECS takes strings.
        if isinstance(value, dict):
            return {k: v if isinstance(v, (str, bool)) else str(v) for k, v in value.items()}
        return value


class ExpressScaling(StrictModel):
    min_task_count: int | None = Field(default=None, ge=0)
    max_task_count: int | None = Field(default=None, ge=1)
    auto_scaling_metric: Literal["AVERAGE_CPU", "AVERAGE_MEMORY", "REQUEST_COUNT_PER_TARGET"] | None = None
    auto_scaling_target_value: int | None = Field(default=None, ge=1)


class ExpressNetwork(StrictModel):
    subnets: list[str] | None = None
    security_groups: list[str] | None = None


class ExpressConfig(StrictModel):
    """`express:` what ci-ecs asks CreateExpressGatewayService / UpdateExpressGatewayService for. What is left out
    is ECS's default when creating and is never changed on an existing service."""

    # Required: without a name ECS makes up a new one on every create, so a re-run would make another service.
    service_name: str
    cluster: str | None = None
    primary_container: ExpressContainer = Field(default_factory=ExpressContainer)
    cpu: str | None = None
    memory: str | None = None
    health_check_path: str | None = None
    scaling_target: ExpressScaling | None = None
    execution_role_arn: str
    infrastructure_role_arn: str
    task_role_arn: str | None = None
    network_configuration: ExpressNetwork | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("service_name", "cluster")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid name (up to 255 letters, digits, _ and -)")
        return value

    @field_validator("execution_role_arn", "infrastructure_role_arn", "task_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.fullmatch(value):
            raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        # The ALB's health check path (CreateTargetGroup.HealthCheckPath): starts with /, 1-1024 characters.
        if value is not None and (not value.startswith("/") or len(value) > 1024):
            raise ValueError(f"{value!r} is not a path starting with / (at most 1024 characters)")
        return value

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("scaling_target")
    @classmethod
    def _scaling(cls, value: ExpressScaling | None) -> ExpressScaling | None:
        if value and value.min_task_count is not None and value.max_task_count is not None \
                and value.min_task_count > value.max_task_count:
            raise ValueError("min_task_count must not be greater than max_task_count")
        return value
