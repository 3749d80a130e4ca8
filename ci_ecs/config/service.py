"""The `service:` section: count, network, load balancers, deployment strategy, hooks, capacity."""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ci_ecs.config.api import member_shape, to_api
from ci_ecs.config.base import StrictModel
from ci_ecs.config.values import NAME_255

# ServiceConfig keys that are ECS request structures in snake_case -> the CreateService/UpdateService member.
API_STRUCTURES = {"service_connect": "serviceConnectConfiguration", "vpc_lattice": "vpcLatticeConfigurations",
                  "volume_configurations": "volumeConfigurations", "gateway_connectors": "gatewayConnectors",
                  "monitoring": "monitoring"}


class LoadBalancerAdvanced(StrictModel):
    """A load balancer's blue/green settings (ECS API reference, AdvancedConfiguration)."""

    alternate_target_group_arn: str
    production_listener_rule: str
    test_listener_rule: str | None = None
    role_arn: str


class LoadBalancer(StrictModel):
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


class PlacementStrategy(StrictModel):
    type: Literal["random", "spread", "binpack"]
    field: str | None = None


class PlacementConstraint(StrictModel):
    type: Literal["distinctInstance", "memberOf"]
    expression: str | None = None


class ThresholdConfiguration(StrictModel):
    """The circuit breaker's failure threshold (ECS API reference, ThresholdConfiguration: `type` COUNT uses
    `value` as the threshold, BOUNDED_PERCENT and UNBOUNDED_PERCENT multiply it by the desired count; both
    members are required). The type's values come from botocore's model (ThresholdType) at run time."""

    type: str
    value: int

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        known = model_enum("ThresholdType")
        if value not in known:
            raise ValueError(f"{value!r} is not a threshold type ECS knows ({', '.join(known)})")
        return value


class CircuitBreaker(StrictModel):
    enable: bool = True
    rollback: bool = True
    # DeploymentCircuitBreaker.thresholdConfiguration / resetOnHealthyTask (ECS API reference); unset: ECS's
    # defaults (BOUNDED_PERCENT 50), or what the service has.
    threshold_configuration: ThresholdConfiguration | None = None
    reset_on_healthy_task: bool | None = None


class EarlySuccessCriteria(StrictModel):
    """`service.early_success_criteria` (ECS API reference, DeploymentEarlySuccessCriteria): a rolling
    deployment is successful once `healthy_percent` of the desired count is healthy on the new revision; the old
    revision's tasks are removed before that (BLOCKING) or after it (DEFERRED)."""

    enable: bool = True
    healthy_percent: int | None = Field(default=None, ge=0, le=100)
    source_service_revision_cleanup: Literal["BLOCKING", "DEFERRED"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> EarlySuccessCriteria:
        # DeploymentEarlySuccessCriteria.enable: "When set to true, Amazon ECS monitors the deployment to meet
        # early success criteria. You must also specify healthyPercent and sourceServiceRevisionCleanup."
        if self.enable:
            missing = [name for name in ("healthy_percent", "source_service_revision_cleanup")
                       if getattr(self, name) is None]
            if missing:
                raise ValueError(f"enable: true needs {' and '.join(missing)} (ECS requires healthyPercent and "
                                 "sourceServiceRevisionCleanup with it)")
        return self


# Ranges from the ECS API reference: DeploymentConfiguration.bakeTimeInMinutes, CanaryConfiguration
# (canaryPercent multiples of 0.1 from 0.1 to 100.0; canaryBakeTimeInMinutes 0-1440) and LinearConfiguration
# (stepPercent multiples of 0.1 from 3.0 to 100.0; stepBakeTimeInMinutes 0-1440).
def _tenths(value: float, key: str) -> float:
    if abs(round(value * 10) - value * 10) > 1e-6:
        raise ValueError(f"{key} must be a multiple of 0.1 (got {value})")
    return value


class CanaryConfig(StrictModel):
    percent: float | None = Field(default=None, ge=0.1, le=100.0)
    bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)

    @field_validator("percent")
    @classmethod
    def _percent(cls, value: float | None) -> float | None:
        return None if value is None else _tenths(value, "percent")


class LinearConfig(StrictModel):
    step_percent: float | None = Field(default=None, ge=3.0, le=100.0)
    step_bake_time_minutes: int | None = Field(default=None, ge=0, le=1440)

    @field_validator("step_percent")
    @classmethod
    def _step(cls, value: float | None) -> float | None:
        return None if value is None else _tenths(value, "step_percent")


class DeploymentAlarms(StrictModel):
    names: list[str] = Field(min_length=1)
    rollback: bool = True
    enable: bool = True


@functools.lru_cache(maxsize=16)
def model_enum(shape: str) -> tuple[str, ...]:
    """The values of an enum shape of botocore's ECS model, read at run time (a value ECS adds is accepted with a
    newer botocore)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return tuple(model.shape_for(shape).enum)


@functools.lru_cache(maxsize=1)
def lifecycle_hook_stages() -> tuple[str, ...]:
    """The stages a deployment lifecycle hook may name: the DeploymentLifecycleHookStage enum of botocore's ECS
    model, read at run time, so a stage ECS adds (PRE_PRODUCTION_TRAFFIC_SHIFT came after the others) is accepted
    with a newer botocore and no release of ci-ecs (ECS API reference, DeploymentLifecycleHook.lifecycleStages)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return tuple(model.shape_for("DeploymentLifecycleHookStage").enum)


class LifecycleHook(StrictModel):
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


class CapacityProvider(StrictModel):
    capacity_provider: str
    weight: int = Field(default=1, ge=0, le=1000)
    base: int = Field(default=0, ge=0, le=100000)


class ServiceConfig(StrictModel):
    name: str | None = None
    desired_count: int | None = Field(default=None, ge=0)
    launch_type: Literal["FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES"] | None = None
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
    early_success_criteria: EarlySuccessCriteria | None = None
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
    # CreateService/UpdateService availabilityZoneRebalancing (ECS API reference).
    availability_zone_rebalancing: Literal["ENABLED", "DISABLED"] | None = None
    # ECS request structures written in snake_case, turned into the request's members by botocore's model
    # (config/api.py): serviceConnectConfiguration, vpcLatticeConfigurations, volumeConfigurations,
    # gatewayConnectors, monitoring. None: left as the service has it; [] clears a list.
    service_connect: dict[str, Any] | None = None
    vpc_lattice: list[dict[str, Any]] | None = None
    volume_configurations: list[dict[str, Any]] | None = None
    gateway_connectors: list[dict[str, Any]] | None = None
    monitoring: dict[str, Any] | None = None

    @field_validator(*API_STRUCTURES)
    @classmethod
    def _api_structure(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            to_api(value, member_shape("CreateService", API_STRUCTURES[str(info.field_name)]))
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_255.match(value):
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
