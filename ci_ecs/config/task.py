"""The `task:` section: containers (or a native file, or a definition in ECS), cpu/memory, roles."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ci_ecs.config.base import StrictModel
from ci_ecs.config.values import (
    ENV_NAME,
    NAME_255,
    TASK_DEFINITION_REF,
    cpu_units,
    fargate_size_problem,
    is_task_definition_ref,
    memory_mib,
    split_names,
)
from ci_ecs.imageref import parse_image_ref


class PortMapping(StrictModel):
    container_port: int = Field(ge=0, le=65535)
    host_port: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    name: str | None = None
    app_protocol: Literal["http", "http2", "grpc"] | None = None


class HealthCheck(StrictModel):
    command: list[str]
    interval: int | None = Field(default=None, ge=5, le=300)
    timeout: int | None = Field(default=None, ge=2, le=120)
    retries: int | None = Field(default=None, ge=1, le=10)
    start_period: int | None = Field(default=None, ge=0, le=300)


class LogConfig(StrictModel):
    """awslogs shorthand: `logs: {group: /ecs/hello, stream_prefix: web}`."""

    group: str
    stream_prefix: str = "ecs"
    region: str | None = None
    create_group: bool = False


class RestartPolicy(StrictModel):
    """A container's restart policy (ECS API reference, ContainerRestartPolicy): ECS restarts the container in
    its task when it exits, unless with one of `ignored_exit_codes`."""

    enabled: bool = True
    # ContainerRestartPolicy.ignoredExitCodes: "You can specify a maximum of 50 container exit codes."
    ignored_exit_codes: list[int] | None = Field(default=None, max_length=50)
    # ContainerRestartPolicy.restartAttemptPeriod: "You can set a minimum restartAttemptPeriod of 60 seconds and
    # a maximum restartAttemptPeriod of 1800 seconds. By default, a container must run for 300 seconds".
    restart_attempt_period: int | None = Field(default=None, ge=60, le=1800)


class ContainerConfig(StrictModel):
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
    restart_policy: RestartPolicy | None = None
    # ContainerDefinition.versionConsistency (ECS API reference): resolve the image tag to a digest or not.
    version_consistency: Literal["enabled", "disabled"] | None = None
    # Native ECS container-definition fields ci-ecs does not model, passed through untouched.
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_255.match(value):
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


class RuntimePlatform(StrictModel):
    cpu_architecture: Literal["X86_64", "ARM64"] | None = None
    operating_system_family: str | None = None


class TaskConfig(StrictModel):
    family: str | None = None
    cpu: str | None = None
    memory: str | None = None
    network_mode: Literal["awsvpc", "bridge", "host", "none"] | None = None
    requires_compatibilities: list[Literal["FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES"]] = Field(
        default_factory=list)
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
            if not NAME_255.match(name):
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
        if value is not None and not NAME_255.match(value):
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
                problem = fargate_size_problem(cpu_units(self.cpu), memory_mib(self.memory), cpu_shown=self.cpu)
                if problem:
                    raise ValueError(problem[1])
        return self
