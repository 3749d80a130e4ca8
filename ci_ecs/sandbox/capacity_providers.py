"""Amazon ECS Managed Instances capacity providers on the sandbox (moto answers HTTP 500 on them).

CreateCapacityProvider with ``managedInstancesProvider`` is checked here against what ECS refuses, stored as a
moto ``CapacityProvider`` that DescribeCapacityProviders echoes in ECS's shape (``type`` MANAGED_INSTANCES, its
``cluster`` and ``managedInstancesProvider``) and associated with its cluster. A service whose capacity provider
strategy names such a provider runs its tasks like Fargate ones (``task_control.launch_task``), reported with
launch type MANAGED_INSTANCES and the provider's name.

The rules are ECS's (each cites the ECS API reference), written apart from ci-ecs's own pre-flight.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar
from typing import Any

from botocore.session import get_session
from botocore.validate import ParamValidator
from moto.ecs.exceptions import ClusterNotFoundException, InvalidParameterException
from moto.ecs.models import CapacityProvider, EC2ContainerServiceBackend

from . import service_rules
from .tag_rules import check_tags

MANAGED_INSTANCES = "MANAGED_INSTANCES"
# CreateCapacityProvider.name (ECS API reference): "The name can't be prefixed with "aws", "ecs", or "fargate"."
RESERVED_NAME_PREFIXES = ("aws", "ecs", "fargate")
# The ARNs of ManagedInstancesProvider.infrastructureRoleArn (an IAM role) and
# InstanceLaunchTemplate.ec2InstanceProfileArn (an IAM instance profile), by their IAM resource type.
_ROLE_ARN_PART = ":role/"
_PROFILE_ARN_PART = ":instance-profile/"


def check_create(params: dict[str, Any], backend: EC2ContainerServiceBackend) -> None:
    """Raise what ECS raises for a CreateCapacityProvider request with ``managedInstancesProvider`` (nothing is
    created then)."""
    _check_model(params)
    problem = check_tags(params.get("tags"))
    if problem:
        raise InvalidParameterException(problem)
    name = str(params.get("name") or "")
    if name.lower().startswith(RESERVED_NAME_PREFIXES):
        # CreateCapacityProvider.name: "The name can't be prefixed with "aws", "ecs", or "fargate"."
        raise InvalidParameterException(
            f"The capacity provider name '{name}' is not valid: it can't be prefixed with aws, ecs or fargate."
        )
    if params.get("autoScalingGroupProvider") is not None:
        # CapacityProvider.type (ECS API reference): a provider is of one type, EC2_AUTOSCALING or
        # MANAGED_INSTANCES; one request cannot describe both.
        raise InvalidParameterException(
            "Specify either autoScalingGroupProvider or managedInstancesProvider, not both."
        )
    cluster = params.get("cluster")
    if not cluster:
        # CreateCapacityProvider.cluster: "When you create a capacity provider with Amazon ECS Managed Instances,
        # it becomes available only within the specified cluster" (PutClusterCapacityProviders: Managed Instances
        # providers are not associated there), so the cluster is what such a provider cannot be without.
        raise InvalidParameterException("A Managed Instances capacity provider requires a cluster.")
    try:
        backend._get_cluster(str(cluster))
    except ClusterNotFoundException:
        raise ClusterNotFoundException from None  # CreateCapacityProvider's documented ClusterNotFoundException
    provider = params["managedInstancesProvider"]
    role = str(provider.get("infrastructureRoleArn") or "")
    if not role.startswith("arn:") or _ROLE_ARN_PART not in role:
        # ManagedInstancesProvider.infrastructureRoleArn: "The Amazon Resource Name (ARN) of the infrastructure
        # role that Amazon ECS uses to manage instances on your behalf."
        raise InvalidParameterException(f"The infrastructureRoleArn '{role}' is not an IAM role ARN.")
    template = provider.get("instanceLaunchTemplate") or {}
    profile = str(template.get("ec2InstanceProfileArn") or "")
    if not profile.startswith("arn:") or _PROFILE_ARN_PART not in profile:
        # InstanceLaunchTemplate.ec2InstanceProfileArn: "The Amazon Resource Name (ARN) of the instance profile
        # that Amazon ECS applies to Amazon ECS Managed Instances."
        raise InvalidParameterException(f"The ec2InstanceProfileArn '{profile}' is not an IAM instance profile ARN.")
    network = template.get("networkConfiguration") or {}
    if not network.get("subnets"):
        # ManagedInstancesNetworkConfiguration.subnets: "The list of subnet IDs where Amazon ECS can launch Amazon
        # ECS Managed Instances" (instances need a subnet to be launched in).
        raise InvalidParameterException("The instanceLaunchTemplate networkConfiguration needs at least one subnet.")
    # The subnets and security groups must exist and share a VPC, as for a task's awsvpcConfiguration.
    service_rules.check_network({"awsvpcConfiguration": network}, backend)
    for bound in ("vCpuCount", "memoryMiB"):
        limits = (template.get("instanceRequirements") or {}).get(bound) or {}
        if limits.get("max") is not None and limits["max"] < limits.get("min", 0):
            # InstanceRequirementsRequest.vCpuCount / memoryMiB: a range of a minimum and an optional maximum.
            raise InvalidParameterException(f"instanceRequirements.{bound}: max is below min.")


def _check_model(params: dict[str, Any]) -> None:
    """Required members, types and enums of botocore's CreateCapacityProvider input shape: ECS answers a request
    the model refuses with InvalidParameterException (a client that skips botocore's validation gets it here)."""
    shape = get_session().get_service_model("ecs").operation_model("CreateCapacityProvider").input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise InvalidParameterException(report.generate_report().splitlines()[-1].strip())


def create(params: dict[str, Any], backend: EC2ContainerServiceBackend) -> CapacityProvider:
    """Store a checked Managed Instances provider and associate it with its cluster."""
    cluster = backend._get_cluster(str(params["cluster"]))
    provider = CapacityProvider(backend.account_id, backend.region_name, str(params["name"]), {},
                                params.get("tags"))
    provider.auto_scaling_group_provider = None  # type: ignore[assignment]  # not an Auto Scaling group one
    # The members moto's CapacityProvider lacks, read by its serializer (CapacityProvider shape).
    setattr(provider, "managed_instances_provider", copy.deepcopy(params["managedInstancesProvider"]))  # noqa: B010
    setattr(provider, "type", MANAGED_INSTANCES)  # noqa: B010
    setattr(provider, "cluster", cluster.name)  # noqa: B010
    provider.update_status = None
    backend.capacity_providers[provider.name] = provider
    cluster.capacity_providers = [*(cluster.capacity_providers or []), provider.name]
    return provider


def managed_provider(backend: EC2ContainerServiceBackend, name: str | None) -> CapacityProvider | None:
    """The Managed Instances capacity provider of that name or ARN, None for any other (FARGATE, an Auto Scaling
    group one, an unknown name)."""
    if not name:
        return None
    provider = backend._get_provider(name)
    return provider if getattr(provider, "type", None) == MANAGED_INSTANCES else None


def strategy_provider(backend: EC2ContainerServiceBackend, strategy: list[dict[str, Any]] | None
                      ) -> CapacityProvider | None:
    """The Managed Instances provider a task of this capacity provider strategy runs on, or None when the strategy
    names none (the strategy's first Managed Instances provider: the sandbox has one kind of capacity in each)."""
    for item in strategy or []:
        provider = managed_provider(backend, (item or {}).get("capacityProvider"))
        if provider is not None:
            return provider
    return None


def kept_providers(backend: EC2ContainerServiceBackend, cluster_name: str, requested: list[str] | None
                   ) -> list[str] | None:
    """PutClusterCapacityProviders' ``capacityProviders`` with the cluster's Managed Instances providers kept:
    ECS associates those at creation and PutClusterCapacityProviders does not manage them ("Amazon ECS Managed
    Instances doesn't support this, because when you create a capacity provider with Amazon ECS Managed
    Instances, it becomes available only within the specified cluster"). One of another cluster is refused."""
    if requested is None:
        return None
    cluster = backend._get_cluster(cluster_name)
    for name in requested:
        provider = managed_provider(backend, name)
        if provider is not None and getattr(provider, "cluster", None) != cluster.name:
            raise InvalidParameterException(
                f"The capacity provider {name} is a Managed Instances capacity provider of another cluster."
            )
    own = [name for name in cluster.capacity_providers or []
           if (p := managed_provider(backend, name)) is not None and getattr(p, "cluster", None) == cluster.name]
    return [*requested, *(name for name in own if name not in requested)]


# RunTask's capacityProviderStrategy as the request gave it: moto before 5.2.5 does not pass it to the backend's
# run_task, so the response handler hands it over here (patches.py) for the one request it serves.
REQUESTED_RUN_TASK_STRATEGY: ContextVar[list[dict[str, Any]] | None] = ContextVar("run_task_strategy", default=None)


def take_run_task_strategy(backend: EC2ContainerServiceBackend, positional: list[Any], kwargs: dict[str, Any],
                           launch_index: int, strategy_index: int) -> str | None:
    """For moto's ``run_task`` arguments: a capacity provider strategy naming a Managed Instances provider (moto
    would look for container instances) is replaced, in place, by launch type FARGATE (the task runs like a
    Fargate one). The provider's name, or None when the strategy names none (arguments untouched)."""
    if "capacity_provider_strategy" in kwargs:
        strategy = kwargs["capacity_provider_strategy"]
    elif len(positional) > strategy_index:
        strategy = positional[strategy_index]
    else:
        strategy = REQUESTED_RUN_TASK_STRATEGY.get()  # an older moto: not among the arguments, nothing to replace
    provider = strategy_provider(backend, strategy) if strategy else None
    if provider is None:
        return None
    if "capacity_provider_strategy" in kwargs:
        kwargs["capacity_provider_strategy"] = None
    elif len(positional) > strategy_index:
        positional[strategy_index] = None
    if "launch_type" in kwargs or len(positional) <= launch_index:
        kwargs["launch_type"] = "FARGATE"
    else:
        positional[launch_index] = "FARGATE"
    return str(provider.name)
