"""The configuration: `ci-ecs.yml` merged with `CI_ECS_*` variables and flags, validated before any AWS call.

Precedence is flag > environment > file > default. The CLI turns flags and variables into an
`overrides` mapping (click reads `CI_ECS_*` for every option); `load_config` lays it over the file
and validates the result, so a bad value from any source is a one-line `ConfigError` (exit 2).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import stat
import typing
import urllib.parse
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ci_ecs.errors import ConfigError
from ci_ecs.imageref import TAG_PATTERN, parse_image_ref
from ci_ecs.redact import register_secret

DEFAULT_CONFIG_FILE = "ci-ecs.yml"

# AWS Fargate's accepted task-level cpu units -> memory MiB values.
FARGATE_MEMORY: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}

_ECR_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_NAME_255 = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# An environment variable name as shells and `docker run -e` take it (ECS itself passes any string, but a
# name a shell cannot read, or "KEY VALUE" typed for "KEY=VALUE", is a mistake worth catching early).
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
# A task definition in ECS: FAMILY, FAMILY:REVISION, or its ARN (DescribeTaskDefinition's taskDefinition).
TASK_DEFINITION_REF = re.compile(
    r"^(?:arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/)?(?P<family>[A-Za-z0-9_-]{1,255})"
    r"(?::(?P<revision>[1-9][0-9]{0,9}))?$")


def split_names(values: Any) -> Any:
    """Container names given comma- or space-separated (aws-actions' render form) as a list.

    >>> split_names(["web, nginx", "worker"])
    ['web', 'nginx', 'worker']
    """
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return values
    out: list[Any] = []
    for value in values:
        out.extend(re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else [value])
    return [v for v in out if v != ""]


def is_task_definition_ref(value: str) -> bool:
    """Whether `value` names a task definition in ECS (family, family:revision or ARN), not a file.

    >>> [is_task_definition_ref(v) for v in ("web", "web:3", "taskdef.json", "./web")]
    [True, True, False, False]
    """
    return bool(TASK_DEFINITION_REF.match(value))


def cpu_units(value: str) -> int:
    """Task cpu as units: "256" -> 256, "0.25 vCPU" -> 256, "1vcpu" -> 1024."""
    text = value.strip().lower()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*vcpu", text)
    if match:
        return int(float(match.group(1)) * 1024)
    if text.isdigit():
        return int(text)
    raise ValueError(f"cpu {value!r} is not a number of cpu units or 'N vCPU'")


def memory_mib(value: str) -> int:
    """Task memory in MiB: "512" -> 512, "0.5GB" -> 512, "2 GB" -> 2048."""
    text = value.strip().lower()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*gb", text)
    if match:
        return int(float(match.group(1)) * 1024)
    match = re.fullmatch(r"([0-9]+)\s*(?:mb|mib)?", text)
    if match:
        return int(match.group(1))
    raise ValueError(f"memory {value!r} is not a number of MiB or 'N GB'")


def _scalar_types(annotation: Any) -> set[Any]:
    """The int/float/bool types a field annotation admits: `int | None` -> {int}."""
    if annotation in (int, float, bool):
        return {annotation}
    return {arg for arg in typing.get_args(annotation) if arg in (int, float, bool)}


def is_http_url(value: str) -> bool:
    """Whether `value` is an absolute http(s) URL with a host, as an AWS endpoint must be.

    >>> is_http_url("http://127.0.0.1:4566"), is_http_url("notaurl"), is_http_url("https://")
    (True, False, False)
    """
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number_mixups(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `desired_count: true` as 1 and `assign_public_ip: "yes"` (or 1,
        # "on", "t") as True. A count is never a boolean; and a switch is a YAML boolean, because
        # that is what YAML users write and what a typo (`wait: "flase"`, `assign_public_ip: 0.5`)
        # must not silently become. Numbers may still be strings ("2"), as env values are.
        kinds = _scalar_types(cls.model_fields[info.field_name or ""].annotation)
        if not kinds or value is None:
            return value
        if bool in kinds and not isinstance(value, bool):
            raise ValueError(f"must be true or false (a YAML boolean), not {json.dumps(value, default=str)[:60]}")
        if bool not in kinds and isinstance(value, bool):
            raise ValueError(f"must be a number, not {json.dumps(value)}")
        return value


class Encryption(_Strict):
    type: Literal["AES256", "KMS"] = "AES256"
    kms_key: str | None = None


class CatalogConfig(_Strict):
    """`repository.catalog`: an ECR Public repository's catalog data, shown in the Amazon ECR Public Gallery.

    Limits from the ECR Public API reference (RepositoryCatalogDataInput): description 1024 characters,
    about/usage 25600 (Markdown), at most 50 architectures and operating systems of 1 to 50 characters each
    (the gallery shows ARM, ARM 64, x86, x86-64 and Linux, Windows as badges). `logo_image` is a PNG or JPEG
    file, relative to the config file's directory.
    """

    description: str | None = Field(default=None, max_length=1024)
    about: str | None = Field(default=None, max_length=25600)
    usage: str | None = Field(default=None, max_length=25600)
    architectures: list[typing.Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=50)
    operating_systems: list[typing.Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=50)
    logo_image: str | None = None


# Repository settings ECR Public does not have (its CreateRepository takes a name, catalog data and tags).
PRIVATE_ONLY_REPOSITORY_KEYS = ("tag_mutability", "scan_on_push", "lifecycle_keep_last", "encryption")


class RepositoryConfig(_Strict):
    name: str
    # An Amazon ECR Public repository (public.ecr.aws/<registry alias>/<name>): anyone can pull its images.
    public: bool = False
    catalog: CatalogConfig | None = None
    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] | None = None
    scan_on_push: bool | None = None
    lifecycle_keep_last: int | None = Field(default=None, ge=1, le=10000)
    encryption: Encryption | None = None

    @field_validator("name")
    @classmethod
    def _ecr_name(cls, value: str) -> str:
        if not (2 <= len(value) <= 256) or not _ECR_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid ECR repository name (lower-case letters, digits, ._-/)")
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog_needs_public(cls, value: CatalogConfig | None, info: ValidationInfo) -> CatalogConfig | None:
        if value is not None and not info.data.get("public"):
            raise ValueError("catalog data is for a public repository: set repository.public: true")
        return value

    @field_validator(*PRIVATE_ONLY_REPOSITORY_KEYS)
    @classmethod
    def _private_only(cls, value: Any, info: ValidationInfo) -> Any:
        # `public` is declared before these keys, so it is in info.data when they are validated.
        if value is not None and info.data.get("public"):
            raise ValueError("ECR Public repositories have no such setting (remove it, or set public: false)")
        return value


class BuildConfig(_Strict):
    context: str = "."
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class ImageConfig(_Strict):
    tag: str | None = None
    build: BuildConfig | None = None
    local: str | None = None
    source: str | None = None
    # What the task definition references: the pushed digest (a moved tag never changes a service) or the tag.
    pin: Literal["digest", "tag"] = "digest"

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not TAG_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a valid image tag (letters, digits, _.-, at most 128)")
        return value

    @field_validator("local", "source")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> ImageConfig:
        origins = [name for name in ("build", "local", "source") if getattr(self, name) is not None]
        if len(origins) > 1:
            raise ValueError(f"give only one of build, local, source (got {', '.join(origins)})")
        if self.build is not None and not self.tag:
            raise ValueError("image.tag is required with image.build (or CI_ECS_IMAGE_TAG / --tag)")
        return self


class PortMapping(_Strict):
    container_port: int = Field(ge=0, le=65535)
    host_port: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    name: str | None = None
    app_protocol: Literal["http", "http2", "grpc"] | None = None


class HealthCheck(_Strict):
    command: list[str]
    interval: int | None = Field(default=None, ge=5, le=300)
    timeout: int | None = Field(default=None, ge=2, le=120)
    retries: int | None = Field(default=None, ge=1, le=10)
    start_period: int | None = Field(default=None, ge=0, le=300)


class LogConfig(_Strict):
    """awslogs shorthand: `logs: {group: /ecs/hello, stream_prefix: web}`."""

    group: str
    stream_prefix: str = "ecs"
    region: str | None = None
    create_group: bool = False


class ContainerConfig(_Strict):
    name: str
    image: str | None = None
    essential: bool = True
    cpu: int | None = Field(default=None, ge=0)
    memory: int | None = Field(default=None, ge=4)
    memory_reservation: int | None = Field(default=None, ge=4)
    port_mappings: list[PortMapping] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    command: list[str] | None = None
    entry_point: list[str] | None = None
    working_dir: str | None = None
    user: str | None = None
    health_check: HealthCheck | None = None
    logs: LogConfig | None = None
    docker_labels: dict[str, str] = Field(default_factory=dict)
    readonly_root_filesystem: bool | None = None
    stop_timeout: int | None = Field(default=None, ge=0, le=120)
    # Native ECS container-definition fields ci-ecs does not model, passed through untouched.
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid container name (letters, digits, _ and -)")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @field_validator("environment", "docker_labels", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # YAML turns `PORT: 80` and `DEBUG: true` into numbers and booleans; ECS wants strings.
        if isinstance(value, dict):
            return {k: _scalar_to_str(v) for k, v in value.items()}
        return value


def _scalar_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class RuntimePlatform(_Strict):
    cpu_architecture: Literal["X86_64", "ARM64"] | None = None
    operating_system_family: str | None = None


class TaskConfig(_Strict):
    family: str | None = None
    cpu: str | None = None
    memory: str | None = None
    network_mode: Literal["awsvpc", "bridge", "host", "none"] | None = None
    requires_compatibilities: list[Literal["FARGATE", "EC2", "EXTERNAL"]] = Field(default_factory=list)
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    runtime_platform: RuntimePlatform | None = None
    ephemeral_storage_gib: int | None = Field(default=None, ge=21, le=200)
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    containers: list[ContainerConfig] = Field(default_factory=list)
    # A native ECS task definition (JSON or YAML) instead of `containers`; unknown fields pass through.
    file: str | None = None
    # A task definition in ECS instead of containers/file: FAMILY (its latest ACTIVE revision is the base,
    # the image(s) and environment are applied, a revision is registered only when that changes it), or
    # FAMILY:REVISION / an ARN (deployed as is).
    definition: str | None = None
    # Containers (by name) whose image becomes the deployed image; default: see taskdef.render.
    # Comma- or space-separated names are split (`--container-name web,nginx`, as aws-actions' render).
    image_containers: list[str] = Field(default_factory=list)
    # Images for named containers (`--image nginx=REF`), beside or instead of the one deployed image.
    images: dict[str, str] = Field(default_factory=dict)
    # Environment variables set on the image container(s), replacing the same names (`--env KEY=VALUE`).
    environment_overrides: dict[str, str] = Field(default_factory=dict)
    # Keep null values of a native task definition (then botocore's validation reports them); default: drop.
    keep_null_value_keys: bool = False

    @field_validator("image_containers", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        return split_names(value)

    @field_validator("images")
    @classmethod
    def _images(cls, value: dict[str, str]) -> dict[str, str]:
        for name, image in value.items():
            if not _NAME_255.match(name):
                raise ValueError(f"{name!r} is not a valid container name (letters, digits, _ and -)")
            parse_image_ref(image)
        return value

    @field_validator("environment_overrides", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _scalar_to_str(v) for k, v in value.items()}
        return value

    @field_validator("environment_overrides")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name "
                                 "(letters, digits and _, not starting with a digit)")
        return value

    @field_validator("definition")
    @classmethod
    def _definition(cls, value: str | None) -> str | None:
        if value is not None and not is_task_definition_ref(value):
            raise ValueError(f"{value!r} is not a task definition family, family:revision or task definition ARN")
        return value

    def pinned_revision(self) -> bool:
        """True when `definition` names one revision (family:revision or ARN): deployed as is."""
        match = TASK_DEFINITION_REF.match(self.definition or "")
        return bool(match and match.group("revision"))

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _as_string(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str | None) -> str | None:
        if value is not None:
            cpu_units(value)
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None:
            memory_mib(value)
        return value

    @field_validator("family")
    @classmethod
    def _family(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid family name (letters, digits, _ and -)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> TaskConfig:
        shapes = [name for name in ("file", "containers", "definition") if getattr(self, name)]
        if len(shapes) > 1:
            raise ValueError(f"give one of containers, file or definition, not {' and '.join(shapes)}")
        if not shapes:
            raise ValueError("give containers (at least one), file (a native ECS task definition) "
                             "or definition (a task definition family in ECS)")
        if self.containers and not self.family:
            raise ValueError("family is required with containers")
        if self.pinned_revision():
            given = [name for name in ("family", "cpu", "memory", "network_mode", "execution_role_arn",
                                       "task_role_arn", "image_containers", "images", "environment_overrides")
                     if getattr(self, name)]
            if given:
                raise ValueError(f"task definition {self.definition} is one revision, deployed as is: it takes "
                                 f"no {given[0]} (give the family to change it)")
        names = [c.name for c in self.containers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"container names must be unique (repeated: {', '.join(duplicates)})")
        if "FARGATE" in self.requires_compatibilities:
            if self.network_mode not in (None, "awsvpc"):
                raise ValueError(f"FARGATE requires network_mode awsvpc (got {self.network_mode})")
            if self.cpu is None or self.memory is None:
                if not (self.file or self.definition):
                    raise ValueError("FARGATE requires task-level cpu and memory")
            else:
                cpu, memory = cpu_units(self.cpu), memory_mib(self.memory)
                allowed = FARGATE_MEMORY.get(cpu)
                if allowed is None:
                    raise ValueError(f"FARGATE does not accept cpu {self.cpu} "
                                     f"(one of {', '.join(str(c) for c in FARGATE_MEMORY)})")
                if memory not in allowed:
                    raise ValueError(f"FARGATE cpu {cpu} does not accept memory {memory} "
                                     f"(from {allowed[0]} to {allowed[-1]} in steps of "
                                     f"{allowed[1] - allowed[0]})")
        return self


class LoadBalancerAdvanced(_Strict):
    """A load balancer's blue/green settings (ECS API reference, AdvancedConfiguration)."""

    alternate_target_group_arn: str
    production_listener_rule: str
    test_listener_rule: str | None = None
    role_arn: str


class LoadBalancer(_Strict):
    target_group_arn: str | None = None
    load_balancer_name: str | None = None
    container_name: str
    container_port: int = Field(ge=0, le=65535)
    advanced: LoadBalancerAdvanced | None = None

    @model_validator(mode="after")
    def _target(self) -> LoadBalancer:
        if not self.target_group_arn and not self.load_balancer_name:
            raise ValueError("give target_group_arn (or load_balancer_name for a Classic Load Balancer)")
        return self


class PlacementStrategy(_Strict):
    type: Literal["random", "spread", "binpack"]
    field: str | None = None


class PlacementConstraint(_Strict):
    type: Literal["distinctInstance", "memberOf"]
    expression: str | None = None


class CircuitBreaker(_Strict):
    enable: bool = True
    rollback: bool = True


# Ranges from the ECS API reference: DeploymentConfiguration.bakeTimeInMinutes, CanaryConfiguration
# (canaryPercent multiples of 0.1 from 0.1 to 100.0; canaryBakeTimeInMinutes 0-1440) and LinearConfiguration
# (stepPercent multiples of 0.1 from 3.0 to 100.0; stepBakeTimeInMinutes 0-1440).
def _tenths(value: float, key: str) -> float:
    if abs(round(value * 10) - value * 10) > 1e-6:
        raise ValueError(f"{key} must be a multiple of 0.1 (got {value})")
    return value


class CanaryConfig(_Strict):
    percent: float | None = Field(default=None, ge=0.1, le=100.0)
    bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)

    @field_validator("percent")
    @classmethod
    def _percent(cls, value: float | None) -> float | None:
        return None if value is None else _tenths(value, "percent")


class LinearConfig(_Strict):
    step_percent: float | None = Field(default=None, ge=3.0, le=100.0)
    step_bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)

    @field_validator("step_percent")
    @classmethod
    def _step(cls, value: float | None) -> float | None:
        return None if value is None else _tenths(value, "step_percent")


class DeploymentAlarms(_Strict):
    names: list[str] = Field(min_length=1)
    rollback: bool = True
    enable: bool = True


@functools.lru_cache(maxsize=1)
def lifecycle_hook_stages() -> tuple[str, ...]:
    """The stages a deployment lifecycle hook may name: the DeploymentLifecycleHookStage enum of botocore's ECS
    model, read at run time, so a stage ECS adds (PRE_PRODUCTION_TRAFFIC_SHIFT came after the others) is accepted
    with a newer botocore and no release of ci-ecs (ECS API reference, DeploymentLifecycleHook.lifecycleStages)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return tuple(model.shape_for("DeploymentLifecycleHookStage").enum)


class LifecycleHook(_Strict):
    """A deployment lifecycle hook: a Lambda function (target_arn + role_arn), or a PAUSE (no target_arn)
    that waits for `ci-ecs continue`."""

    target_arn: str | None = None
    role_arn: str | None = None
    stages: list[str] = Field(min_length=1)
    details: dict[str, Any] | None = None
    timeout_minutes: int | None = Field(default=None, ge=1, le=1440)
    timeout_action: Literal["CONTINUE", "ROLLBACK"] | None = None

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: list[str]) -> list[str]:
        known = lifecycle_hook_stages()
        for stage in value:
            if stage not in known:
                raise ValueError(f"{stage!r} is not a lifecycle stage ECS knows ({', '.join(known)})")
        return value

    @model_validator(mode="after")
    def _lambda(self) -> LifecycleHook:
        if self.target_arn and not self.role_arn:
            raise ValueError("a Lambda hook (target_arn) needs role_arn")
        return self


class CapacityProvider(_Strict):
    capacity_provider: str
    weight: int = Field(default=1, ge=0, le=1000)
    base: int = Field(default=0, ge=0, le=100000)


class ServiceConfig(_Strict):
    name: str | None = None
    desired_count: int | None = Field(default=None, ge=0)
    launch_type: Literal["FARGATE", "EC2", "EXTERNAL"] | None = None
    capacity_provider_strategy: list[CapacityProvider] = Field(default_factory=list)
    platform_version: str | None = None
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool | None = None
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    health_check_grace_period: int | None = Field(default=None, ge=0, le=2147483647)
    placement_strategy: list[PlacementStrategy] = Field(default_factory=list)
    placement_constraints: list[PlacementConstraint] = Field(default_factory=list)
    circuit_breaker: CircuitBreaker | None = None
    strategy: Literal["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"] | None = None
    bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)
    canary: CanaryConfig | None = None
    linear: LinearConfig | None = None
    alarms: DeploymentAlarms | None = None
    lifecycle_hooks: list[LifecycleHook] | None = None
    minimum_healthy_percent: int | None = Field(default=None, ge=0, le=100)
    maximum_percent: int | None = Field(default=None, ge=100, le=200)
    enable_execute_command: bool | None = None
    propagate_tags: Literal["TASK_DEFINITION", "SERVICE", "NONE"] | None = None
    # Set on a new service; on an existing one only these keys are tagged (TagResource), a null value removes that
    # key (UntagResource), and tags the config does not name are left as they are.
    tags: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid service name (letters, digits, _ and -)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ServiceConfig:
        if self.launch_type and self.capacity_provider_strategy:
            raise ValueError("give launch_type or capacity_provider_strategy, not both")
        if self.launch_type == "FARGATE" and (self.placement_strategy or self.placement_constraints):
            raise ValueError("FARGATE services do not take placement_strategy or placement_constraints")
        # As ECS refuses them (API reference, DeploymentConfiguration, Canary/LinearConfiguration; "Required
        # resources for Amazon ECS blue/green deployments"): each strategy's own settings only with it, and
        # traffic-shifting strategies only with load balancers that carry the blue/green settings.
        if self.canary is not None and self.strategy != "CANARY":
            raise ValueError("service.canary needs service.strategy: CANARY")
        if self.linear is not None and self.strategy != "LINEAR":
            raise ValueError("service.linear needs service.strategy: LINEAR")
        if self.strategy in ("LINEAR", "CANARY") and not self.load_balancers:
            raise ValueError(f"service.strategy {self.strategy} needs service.load_balancers with `advanced`")
        if self.strategy in ("BLUE_GREEN", "LINEAR", "CANARY"):
            for index, lb in enumerate(self.load_balancers):
                if lb.advanced is None:
                    raise ValueError(f"service.load_balancers.{index}.advanced is required with strategy "
                                     f"{self.strategy} (alternate_target_group_arn, production_listener_rule, "
                                     "role_arn)")
        return self


class DeploySettings(_Strict):
    wait: bool = True
    timeout: int = Field(default=900, ge=1)
    # After COMPLETED, our tasks must stay up until the youngest has run this long (a crash loop is not success).
    stable_seconds: float = Field(default=5.0, ge=0, le=600)
    # None: roll back ourselves unless the service's circuit breaker already rolls back.
    rollback: bool | None = None
    force_new_deployment: bool = False
    # Waiting polls from about 1 s, backing off to this many seconds as the wait grows.
    max_poll_interval: float = Field(default=15.0, gt=0, le=60)
    # completed: wait until the service deployment is SUCCESSFUL (bake included); traffic-shifted: return once
    # production traffic has moved (after POST_PRODUCTION_TRAFFIC_SHIFT), leaving the bake to ECS.
    wait_until: Literal["completed", "traffic-shifted"] = "completed"
    # With a `services:` list: how many services deploy at once.
    parallelism: int = Field(default=5, ge=1, le=50)
    # When tasks of our deployment stop (or fail `verify`): the last lines of each essential container's
    # awslogs stream printed under its stopped reason (0: none).
    log_lines: int = Field(default=20, ge=0, le=10000)
    # The account's service quota "Tasks per service" (ECS default 5,000, adjustable): a desired count above it
    # is refused before anything is written. Set it when AWS raised yours.
    tasks_per_service_quota: int = Field(default=5000, ge=1, le=2**31 - 1)


class VerifyConfig(_Strict):
    """`verify:` the access check after the deployment completed: every task of it (its public IP, else its
    private IP) or the load balancer's DNS name must answer `path` with `status` (and `body`) within `within`.
    """

    path: str = "/"
    # Default: the first port mapping of the image container (for a load balancer: 80, or 443 with https).
    port: int | None = Field(default=None, ge=1, le=65535)
    scheme: Literal["http", "https"] = "http"
    status: str = "200-399"
    body: str | None = None  # a regular expression searched in the start of the body
    timeout: float = Field(default=5.0, gt=0, le=120)  # seconds per request
    within: float = Field(default=60.0, ge=0, le=3600)  # seconds to keep retrying until every task answers

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or not value.isprintable() or " " in value:
            raise ValueError(f"{json.dumps(value)[:60]} is not a URL path starting with / (no spaces)")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        status_ranges(value)
        return value

    @field_validator("body")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"body is not a regular expression: {exc}") from None
        return value


def status_ranges(text: str) -> list[tuple[int, int]]:
    """HTTP status codes as inclusive ranges: "200-399" -> [(200, 399)]; "200, 204" -> [(200, 200), (204, 204)].

    >>> status_ranges("200-299,301")
    [(200, 299), (301, 301)]
    """
    ranges = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*([1-5][0-9][0-9])\s*(?:-\s*([1-5][0-9][0-9])\s*)?", part)
        if not match:
            raise ValueError(f"status {text!r} is not a list of HTTP codes or ranges like 200-399")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise ValueError(f"status range {part.strip()} ends before it starts")
        ranges.append((low, high))
    return ranges


class RunTaskSettings(_Strict):
    """`run_task:` how `ci-ecs run-task` places its task, over the service's own settings (same keys)."""

    launch_type: Literal["FARGATE", "EC2", "EXTERNAL"] | None = None
    capacity_provider_strategy: list[CapacityProvider] = Field(default_factory=list)
    platform_version: str | None = None
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool | None = None

    @model_validator(mode="after")
    def _shape(self) -> RunTaskSettings:
        if self.launch_type and self.capacity_provider_strategy:
            raise ValueError("give launch_type or capacity_provider_strategy, not both")
        return self


class ServiceEntry(_Strict):
    """One task + service of a `services:` list."""

    task: TaskConfig
    service: ServiceConfig
    verify: VerifyConfig | None = None


class Config(_Strict):
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    assume_role_arn: str | None = None
    max_attempts: int = Field(default=8, ge=1, le=50)
    # As in ECS: CreateService/UpdateService use the cluster named "default" when none is given.
    cluster: str = "default"
    # Capacity providers to associate with the cluster (ci_ecs/cluster.py): an existing cluster gets them added
    # to its own (PutClusterCapacityProviders), a cluster ci-ecs creates has them besides FARGATE and FARGATE_SPOT.
    cluster_capacity_providers: list[str] = Field(default_factory=list)
    repository: RepositoryConfig | None = None
    image: ImageConfig = Field(default_factory=ImageConfig)
    task: TaskConfig | None = None
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    # Several services in one cluster, sharing the image; deployed concurrently (deploy.parallelism).
    services: list[ServiceEntry] = Field(default_factory=list)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    run_task: RunTaskSettings = Field(default_factory=RunTaskSettings)
    # The image to deploy, as is (`--image`); set by flags/env, not usually in the file.
    image_uri: str | None = None
    # The access check for the top-level service (with a `services:` list: `verify` in each entry).
    verify: VerifyConfig | None = None
    # `--verify/--no-verify` (CI_ECS_VERIFY): True checks every service (defaults where `verify` is unset),
    # False none; None follows the file.
    verify_enabled: bool | None = None
    # May deploy create a missing service? `--create` (CI_ECS_CREATE); load_config makes it True when the file
    # describes the service (a `service:` section or a `services:` list), False when only flags name it.
    # None (a Config built by a library caller): yes.
    create: bool | None = None

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not _NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid cluster name (letters, digits, _ and -)")
        return value

    @field_validator("cluster_capacity_providers")
    @classmethod
    def _capacity_providers(cls, value: list[str]) -> list[str]:
        # A capacity provider's name: "Up to 255 characters ... letters (both upper and lowercase letters),
        # numbers, underscores (_), and hyphens (-). The name can't be prefixed with "aws", "ecs", or "fargate""
        # (ECS API reference, CreateCapacityProvider), except AWS's own FARGATE and FARGATE_SPOT.
        for name in value:
            if not _NAME_255.match(name):
                raise ValueError(f"{name!r} is not a capacity provider name (letters, digits, _ and -)")
            if name not in ("FARGATE", "FARGATE_SPOT") and name.lower().startswith(("aws", "ecs", "fargate")):
                raise ValueError(f"{name!r} is not a capacity provider: names starting with aws, ecs or fargate "
                                 "are AWS's own (FARGATE, FARGATE_SPOT)")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"capacity providers must be unique (repeated: {', '.join(repeated)})")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
            raise ValueError(f"{value!r} is not an AWS region name like us-east-1")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError(f"{value!r} is not an http(s) URL with a host, like http://127.0.0.1:4566")
        if value is not None:
            # A password in the URL (http://user:PASSWORD@host) is masked wherever the URL or the password alone
            # would be printed (redact's URL shape covers the first, registering it the second).
            register_secret(urllib.parse.urlsplit(value).password)
        return value

    @field_validator("image_uri")
    @classmethod
    def _image_uri(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @field_validator("assume_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", value):
            raise ValueError(f"{value!r} is not an IAM role ARN")
        return value

    def targets(self) -> list[ServiceEntry]:
        """The task + service pairs to deploy: the top-level pair, or the `services:` list.

        With a `services:` list, a service name from the flags (`--service`) picks that one entry.
        """
        if not self.services:
            if self.task is None:
                raise ConfigError("task is required (containers or a native task definition file)", key="task")
            return [ServiceEntry.model_construct(task=self.task, service=self.service, verify=self.verify)]
        if self.service.name:
            return [entry for entry in self.services if entry.service.name == self.service.name]
        return list(self.services)

    def verify_for(self, entry: ServiceEntry) -> VerifyConfig | None:
        """The access check for `entry`: its `verify`, with `--verify` (defaults) / `--no-verify` applied."""
        if self.verify_enabled is False:
            return None
        if self.verify_enabled and entry.verify is None:
            return VerifyConfig()
        return entry.verify

    @model_validator(mode="after")
    def _deployable(self, info: ValidationInfo) -> Config:
        purpose = (info.context or {}).get("purpose")
        if purpose in ("push", "service"):
            # `ci-ecs push` needs only the repository and the image (checked where it pushes); `ci-ecs continue`
            # only the cluster and the service's name.
            return self
        if purpose == "register":  # `ci-ecs register`: task definitions only, no service needed
            self._check_tag()
            if self.task is None and not self.services:
                raise ValueError("task is required (containers, a native task definition file or a family)")
            for entry in self.targets():
                self._check_target(entry)
            return self
        if self.services:
            if self.task is not None:
                raise ValueError("give task + service, or a services list, not both")
            settings = sorted(self.service.model_fields_set - {"name"})
            if settings:
                raise ValueError(f"with a services list, set service.{settings[0]} in each entry")
            if self.verify is not None:
                raise ValueError("with a services list, set verify in each entry")
            names = [entry.service.name for entry in self.services]
            for index, name in enumerate(names):
                if not name:
                    raise ValueError(f"services[{index}].service.name is required")
            repeated = sorted({n for n in names if n and names.count(n) > 1})
            if repeated:
                raise ValueError(f"service names must be unique (repeated: {', '.join(repeated)})")
            if self.service.name and self.service.name not in names:
                raise ValueError(f"no service named {self.service.name!r} in services ({', '.join(map(str, names))})")
        else:
            if not self.service.name:
                raise ValueError("service.name is required (in the file, CI_ECS_SERVICE or --service)")
            if self.task is None:
                raise ValueError("task is required (containers or a native task definition file)")
        self._check_tag()
        for entry in self.targets():
            self._check_target(entry)
        return self

    def _check_tag(self) -> None:
        """A tag nothing uses is an error, not a silent no-op: `--tag` (CI_ECS_IMAGE_TAG) names the image in the
        config's repository (`<repositoryUri>:<tag>`, built, pushed or copied there); without a repository the
        deploy would ship the unchanged image and report success."""
        if self.image.tag and self.repository is None:
            raise ValueError(f"image.tag (--tag / CI_ECS_IMAGE_TAG) is {self.image.tag!r}, but nothing uses a tag: "
                             "the config has no repository to build, push or deploy from (give the image with "
                             "--image, or add a repository)")

    def _check_target(self, entry: ServiceEntry) -> None:
        needs_image = any(c.image is None and c.name not in entry.task.images for c in entry.task.containers)
        if entry.task.pinned_revision() and self.image_uri:
            raise ValueError(f"task definition {entry.task.definition} is one revision, deployed as is: "
                             "it takes no image (give the family to change it)")
        if needs_image and not self.image_uri and not self.repository:
            raise ValueError("a container has no image: set its image, or repository + image.tag, or --image")
        if self.repository and not self.image_uri and needs_image and not (
                self.image.tag or self.image.local or self.image.source or self.image.build):
            raise ValueError("image.tag is required to deploy from the repository (or CI_ECS_IMAGE_TAG / --tag)")
        names = {c.name for c in entry.task.containers}
        for lb in entry.service.load_balancers:
            if names and lb.container_name not in names:
                raise ValueError(f"load balancer container_name {lb.container_name!r} is not a container")


# --- loading -------------------------------------------------------------------------------------

# Limits that keep hostile YAML (a "billion laughs" of nested aliases, a self-referencing anchor, a
# file of nothing but `[`) from costing more than a moment: a real config or task definition is a few
# KiB, reuses an anchor a handful of times and nests less than ten levels. ECS itself caps a task
# definition at 64 KiB, so 1 MiB leaves room without letting a stray binary through.
MAX_FILE_BYTES = 1024 * 1024
MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing what only hostile or mistaken input does.

    - an alias whose expansion would pass MAX_ALIAS_NODES nodes in total (nested aliases grow
      exponentially when the document is walked or copied, though PyYAML shares the objects),
    - an alias to the collection that contains it (a recursive structure),
    - nesting deeper than MAX_DEPTH (the composer recurses per level),
    - a key repeated in one mapping (PyYAML keeps the last one silently).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> nodes in its full expansion
        self._open: set[str] = set()  # anchors of collections still being composed
        self._alias_nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} refers to a collection that contains it", event.start_mark)
            node: yaml.Node | None = super().compose_node(parent, index)
            self._alias_nodes += self._sizes.get(id(node), 1)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"aliases expand to more than {MAX_ALIAS_NODES} nodes (refused as a YAML bomb)",
                    event.start_mark)
            return node
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        anchor = event.anchor
        if anchor is not None and not self.check_event(yaml.ScalarEvent):
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if isinstance(node, yaml.SequenceNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(item), 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1)
                                            for k, v in node.value)
            self._refuse_duplicate_keys(node)
        return node

    @staticmethod
    def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key_node, _ in node.value:
            # `<<` merge keys may repeat, and a merged key may be overridden: that is YAML's merge rule.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            first = seen.setdefault((key_node.tag, key_node.value), key_node)
            if first is not key_node:
                raise yaml.composer.ComposerError(
                    None, None, f"duplicate key {key_node.value!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark)


def read_text_file(path: Path, *, what: str, key: str | None = None) -> str:
    """The text of a config or task definition file: at most MAX_FILE_BYTES of UTF-8, else a ConfigError.

    The error names the file and says what is wrong with it ("is not UTF-8 text", "is larger than").
    """
    source = str(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever. What was opened is
        # checked to be a regular file before a byte is read (a FIFO, a device or a directory is refused).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", key=key, source=source) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"the {what} is not a regular file (a FIFO, device or directory is not read)",
                              key=key, source=source)
        with os.fdopen(fd, "rb") as stream:
            fd = -1  # closed with the stream
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", key=key, source=source) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"the {what} is larger than {MAX_FILE_BYTES // 1024} KiB", key=key, source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                          "a binary file?)", key=key, source=source) from None
    if "\x00" in text:
        raise ConfigError(f"the {what} is not text (it contains NUL bytes; a binary file?)", key=key, source=source)
    return text


def _compose_and_construct(text: str, source: str, key: str | None) -> tuple[yaml.Node | None, Any]:
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text)  # reads the text at once: a control character is a ReaderError here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", key=key, source=source,
                          line=mark.line + 1 if mark else None) from None
    except ValueError as exc:  # e.g. an integer longer than Python's int_max_str_digits
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", key=key, source=source) from None
    finally:
        if loader is not None:
            loader.dispose()
    return node, data


def load_yaml_text(text: str, source: str, *, key: str | None = None) -> Any:
    """Parse YAML safely (no YAML bombs, recursive anchors or duplicate keys); errors are ConfigErrors.

    Every YAML file ci-ecs reads goes through here: the config and native task definition files.

    >>> load_yaml_text("a: 1\\nb: [x, y]\\n", "example.yml")
    {'a': 1, 'b': ['x', 'y']}
    """
    return _compose_and_construct(text, source, key)[1]


def _positions(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _positions(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _positions(item, path + (index,), out)


def _refuse_outside_link(path: Path) -> None:
    """A config file that is a symbolic link must lead into the working tree (the current directory or the
    link's own directory): a link a pull request adds could otherwise make ci-ecs read, and quote in its
    errors, any file the CI user can read (~/.aws/credentials, /etc/...). Nothing of the target is read."""
    if not path.is_symlink():
        return
    target = path.resolve()
    trees = {Path.cwd().resolve(), path.absolute().parent.resolve()}
    if not any(target == tree or tree in target.parents for tree in trees):
        raise ConfigError("the config file is a symbolic link to a file outside the working tree; not read "
                          "(copy the file into the repository, or give its real path with -c)", source=str(path))


def _read_file(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    source = str(path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError("config file not found (give -c/--config or CI_ECS_CONFIG)", source=source)
    _refuse_outside_link(path)
    text = read_text_file(path, what="config file")
    node, data = _compose_and_construct(text, source, None)
    if node is None or data is None:
        raise ConfigError("the config file is empty (expected a mapping with cluster, service, task)",
                          source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"the top level must be a mapping of keys, not a {type(data).__name__}",
                          source=source, line=1)
    positions: dict[tuple[Any, ...], int] = {}
    _positions(node, (), positions)
    return data, positions


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    target = data
    for key in keys[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
            target[key] = child
        target = child
    target[keys[-1]] = value


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields are valid at `loc` (for 'did you mean' suggestions)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found:
            return found
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """The error location as a path in `data`: pydantic's union/validator tags are not keys, so they go."""
    out: list[Any] = []
    node = data
    for index, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif index == len(loc) - 1 and isinstance(node, dict):
            out.append(part)  # a missing key
    return tuple(out)


def _first_error(exc: ValidationError, data: Any) -> tuple[tuple[Any, ...], str]:
    error = exc.errors(include_url=False)[0]
    loc = _clean_loc(tuple(error["loc"]), data)
    message = error["msg"]
    if error["type"] == "extra_forbidden" and loc:
        parent = _model_for(loc[:-1])
        known = list(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else (f"; known keys: {', '.join(known)}" if known else "")
        return loc, f"unknown key{hint}"
    if error["type"] == "missing":
        return loc, "is required"
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    if "input" in error and error["type"] not in ("value_error",) and not isinstance(error["input"], dict):
        message += f" (got {json.dumps(error['input'], default=str)[:60]})"
    return loc, message


def no_config_file(path: Path, problem: str) -> str:
    """The message for a missing default config file whose absence flags and variables did not make up for.

    >>> no_config_file(Path("ci-ecs.yml"), "service.name: is required")[:47]
    'config file ci-ecs.yml not found (looked for /'
    """
    return (f"config file {path} not found (looked for {path.absolute()}); give -c/--config or CI_ECS_CONFIG, "
            f"or describe the deploy with flags (--cluster, --service, --task-definition, --image): {problem}")


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                *, require_file: bool = False, purpose: str = "deploy") -> Config:
    """Read `path` (YAML), lay `overrides` (dotted keys from flags/env) over it and validate.

    Raises ConfigError naming the key and the file line. A missing default file is not an error
    when the flags alone describe the deploy. `purpose="push"` checks only what `ci-ecs push` needs.

    >>> load_config(None, {"cluster": "c", "service.name": "s", "task": {"family": "f",
    ...     "containers": [{"name": "web", "image": "nginx:1.27"}]}}).service.name
    's'
    """
    data: dict[str, Any] = {}
    positions: dict[tuple[Any, ...], int] = {}
    source: str | None = None
    # The default file, absent: flags and variables alone may describe the run (drop-in use); when they do not,
    # the error says which file was looked for rather than only which key is missing.
    missing: Path | None = None
    if path is not None:
        file_path = Path(path)
        if file_path.exists() or file_path.is_symlink() or require_file:
            data, positions = _read_file(file_path)
            source = str(file_path)
        else:
            missing = file_path
    # A service is described by the file (or a library caller's whole `service`/`services` value), never by the
    # dotted flags (--service, --desired-count) alone: only then may a deploy create it (refuse_missing_services).
    described = any(key in data for key in ("service", "services")) or any(
        (overrides or {}).get(key) is not None for key in ("service", "services"))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, dotted, value)
    if data.get("create") is None:
        data["create"] = described
    try:
        return Config.model_validate(data, context={"purpose": purpose})
    except ValidationError as exc:
        loc, message = _first_error(exc, data)
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in positions:
                line = positions[loc[:cut]] if cut else None
                break
        from_flag = any(k == _dotted(loc) or _dotted(loc).startswith(k + ".") for k in (overrides or {})
                        if (overrides or {}).get(k) is not None)
        if missing is not None and not from_flag:
            raise ConfigError(no_config_file(missing, f"{_dotted(loc) + ': ' if loc else ''}{message}")) from None
        raise ConfigError(message, key=_dotted(loc) or None, line=None if from_flag else line,
                          source=source if (source and not from_flag) else None) from None
