"""CreateService / UpdateService requests ECS refuses and moto accepts, refused before anything is
created or changed (InvalidParameterException, HTTP 400, as ECS answers a bad service parameter).

Written from AWS's documentation, independently of ci-ecs's own pre-flight, so a test that sends
a bad value through ci-ecs fails here as it would on AWS. Each rule names its source; where no ECS
wording is on record the message is the sandbox's own.
"""

from __future__ import annotations

import re
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import InvalidParameterException
from moto.elbv2.models import elbv2_backends

from .tag_rules import check_tags

# Amazon ECS service quotas (developer guide, "Amazon ECS service quotas"): "Tasks per service:
# 5,000" (the default). A desiredCount above it is refused, never attempted.
MAX_TASKS_PER_SERVICE = 5000
# PlacementStrategy (ECS API reference): "You can specify a maximum of 5 strategy rules for each
# service"; PlacementConstraint: "a maximum of 10 constraints for each task".
MAX_PLACEMENT_STRATEGIES = 5
MAX_PLACEMENT_CONSTRAINTS = 10
# AwsVpcConfiguration (ECS API reference): "There's a limit of 16 subnets" / "a limit of 5
# security groups".
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
# Amazon ECS service quotas: "Target groups per service: 5".
MAX_TARGET_GROUPS = 5
# The ARN format of an ELBv2 target group (Elastic Load Balancing API reference, TargetGroup.TargetGroupArn;
# "Amazon Resource Names": arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID).
TARGET_GROUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]+$"
)
# PlacementStrategy.field (ECS API reference): "For the binpack placement strategy, valid values
# are cpu and memory. For the random placement strategy, this field is not used."
BINPACK_FIELDS = ("cpu", "memory")
STRATEGY_TYPES = ("random", "spread", "binpack")
CONSTRAINT_TYPES = ("distinctInstance", "memberOf")


def check_create(params: dict[str, Any], backend: Any) -> None:
    """Raise InvalidParameterException for a CreateService request ECS refuses."""
    _check_desired(params.get("desiredCount"))
    problem = check_tags(params.get("tags"))
    if problem:
        raise InvalidParameterException(problem)
    cluster = _cluster(backend, params.get("cluster") or "default")
    task_definition = _task_definition(backend, params.get("taskDefinition"))
    launch_type = params.get("launchType")
    providers = params.get("capacityProviderStrategy")
    if launch_type and providers:
        # CreateService.capacityProviderStrategy (ECS API reference): "If a
        # capacityProviderStrategy is specified, the launchType parameter must be omitted."
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported."
        )
    fargate = launch_type == "FARGATE" or _fargate_providers(providers)
    _check_placement(params.get("placementStrategy"), params.get("placementConstraints"), fargate)
    _check_capacity_providers(providers, cluster)
    check_network(params.get("networkConfiguration"), backend)
    _check_load_balancers(params.get("loadBalancers"), task_definition, backend)
    _check_discovery_names(params.get("serviceConnectConfiguration"), cluster, None, backend)


def check_update(params: dict[str, Any], backend: Any) -> None:
    """Raise InvalidParameterException for an UpdateService request ECS refuses (the service's
    existence is moto's to check)."""
    _check_desired(params.get("desiredCount"))
    cluster = _cluster(backend, params.get("cluster") or "default")
    service = _service(backend, cluster, params.get("service"))
    reference = params.get("taskDefinition") or getattr(service, "task_definition", None)
    task_definition = _task_definition(backend, reference)
    providers = params.get("capacityProviderStrategy")
    launch_type = getattr(service, "launch_type", None) if service is not None else None
    fargate = (launch_type == "FARGATE" and not providers) or _fargate_providers(providers)
    _check_placement(params.get("placementStrategy"), params.get("placementConstraints"), fargate)
    _check_capacity_providers(providers, cluster)
    check_network(params.get("networkConfiguration"), backend)
    _check_load_balancers(params.get("loadBalancers"), task_definition, backend)
    _check_discovery_names(params.get("serviceConnectConfiguration"), cluster, service, backend)


# ------------------------------------------------------------------------------ rules


def _discovery_names(configuration: Any, cluster: Any) -> set[tuple[str, str]]:
    """(namespace, discovery name) of each Service Connect service a configuration publishes.

    ServiceConnectService.discoveryName (ECS API reference): "If the discoveryName isn't specified, the port
    mapping name from the task definition is used in portName.namespace"; ServiceConnectConfiguration.namespace:
    without one, the cluster's default namespace (Cluster.serviceConnectDefaults).
    """
    if not isinstance(configuration, dict) or not configuration.get("enabled"):
        return set()
    defaults = getattr(cluster, "service_connect_defaults", None) or {}
    namespace = str(configuration.get("namespace") or (defaults.get("namespace") if isinstance(defaults, dict)
                                                        else "") or "")
    return {(namespace, str(entry.get("discoveryName") or entry.get("portName")))
            for entry in configuration.get("services") or [] if isinstance(entry, dict)}


def _check_discovery_names(configuration: Any, cluster: Any, service: Any, backend: Any) -> None:
    """ServiceConnectService.discoveryName (ECS API reference): "The discoveryName is the name of the new Cloud Map
    service that Amazon ECS creates for this Amazon ECS service. This must be unique within the Cloud Map
    namespace." Another ACTIVE service publishing the same name in the namespace: refused (sandbox wording)."""
    wanted = _discovery_names(configuration, cluster)
    if not wanted:
        return
    for other in list(backend.services.values()):
        if other is service or getattr(other, "status", "ACTIVE") != "ACTIVE":
            continue
        members = getattr(other, "sb_revision_members", None) or {}
        other_cluster = backend.clusters.get(str(getattr(other, "cluster_arn", "")).split("/")[-1])
        taken = wanted & _discovery_names(members.get("serviceConnectConfiguration"), other_cluster)
        if taken:
            namespace, name = sorted(taken)[0]
            raise InvalidParameterException(
                f"The Service Connect discovery name {name} is already used in the namespace {namespace} by the "
                f"service {other.name}: a discovery name must be unique within the Cloud Map namespace.")


def _check_desired(desired: Any) -> None:
    if desired is None:
        return
    if isinstance(desired, bool) or not isinstance(desired, int) or desired < 0:
        # CreateService.desiredCount (ECS API reference): an Integer, the number of tasks to run.
        raise InvalidParameterException(f"desiredCount must be a whole number from 0, got {desired!r}.")
    if desired > MAX_TASKS_PER_SERVICE:
        raise InvalidParameterException(
            f"desiredCount {desired} is more than the {MAX_TASKS_PER_SERVICE} tasks per service the service quota "
            "allows (Amazon ECS service quotas, Tasks per service)."
        )


def _check_placement(strategies: Any, constraints: Any, fargate: bool) -> None:
    if (strategies or constraints) and fargate:
        # "Amazon ECS task placement" (developer guide): "Task placement strategies and
        # constraints aren't supported for tasks using the Fargate launch type. Fargate tasks are
        # spread across Availability Zones."
        raise InvalidParameterException("Task placement strategies and constraints are not supported with Fargate.")
    strategies = strategies or []
    if len(strategies) > MAX_PLACEMENT_STRATEGIES:
        raise InvalidParameterException(f"At most {MAX_PLACEMENT_STRATEGIES} placement strategies are allowed.")
    for strategy in strategies:
        kind, field = (strategy or {}).get("type"), (strategy or {}).get("field")
        if kind not in STRATEGY_TYPES:
            raise InvalidParameterException(f"Invalid placement strategy type {kind!r}.")
        if kind == "binpack" and field not in BINPACK_FIELDS:
            raise InvalidParameterException(
                f"Invalid field {field!r} for the binpack placement strategy: use cpu or memory."
            )
        if kind == "spread" and not field:
            # PlacementStrategy.field: "For the spread placement strategy, valid values are
            # instanceId (or host ...), or any platform or custom attribute".
            raise InvalidParameterException("The spread placement strategy requires a field.")
        if kind == "random" and field:
            raise InvalidParameterException("The random placement strategy does not take a field.")
    constraints = constraints or []
    if len(constraints) > MAX_PLACEMENT_CONSTRAINTS:
        raise InvalidParameterException(f"At most {MAX_PLACEMENT_CONSTRAINTS} placement constraints are allowed.")
    for constraint in constraints:
        kind, expression = (constraint or {}).get("type"), (constraint or {}).get("expression")
        if kind not in CONSTRAINT_TYPES:
            raise InvalidParameterException(f"Invalid placement constraint type {kind!r}.")
        # PlacementConstraint.expression (ECS API reference): "A cluster query language
        # expression to apply to the constraint. The expression can have a maximum length of 2000
        # characters. You can't specify an expression if the constraint type is distinctInstance."
        if kind == "distinctInstance" and expression:
            raise InvalidParameterException("An expression cannot be specified for a distinctInstance constraint.")
        if kind == "memberOf" and not expression:
            raise InvalidParameterException("A memberOf placement constraint requires an expression.")
        if expression and len(str(expression)) > 2000:
            raise InvalidParameterException("A placement constraint expression can be at most 2000 characters.")


def _fargate_providers(providers: Any) -> bool:
    return any((p or {}).get("capacityProvider") in ("FARGATE", "FARGATE_SPOT") for p in providers or [])


def _check_capacity_providers(providers: Any, cluster: Any) -> None:
    if not providers or cluster is None:
        return
    associated = set(getattr(cluster, "capacity_providers", None) or [])
    for item in providers:
        name = (item or {}).get("capacityProvider")
        if name not in associated:
            # ECS's InvalidParameterException for a provider the cluster does not have (CreateService,
            # capacityProviderStrategy: "The capacity provider must be associated with the cluster").
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not "
                "associated with the cluster. Associate the capacity provider with the cluster or specify a valid "
                "capacity provider and try again."
            )


def check_network(network: Any, backend: Any) -> None:
    """Raise InvalidParameterException for an ``awsvpcConfiguration`` ECS refuses (too many subnets or groups, ones
    that do not exist, or in different VPCs)."""
    awsvpc = (network or {}).get("awsvpcConfiguration")
    if not awsvpc:
        return
    subnets = list(awsvpc.get("subnets") or [])
    groups = list(awsvpc.get("securityGroups") or [])
    if len(subnets) > MAX_SUBNETS:
        raise InvalidParameterException(f"At most {MAX_SUBNETS} subnets are allowed in awsvpcConfiguration.")
    if len(groups) > MAX_SECURITY_GROUPS:
        raise InvalidParameterException(
            f"At most {MAX_SECURITY_GROUPS} security groups are allowed in awsvpcConfiguration."
        )
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    vpcs: dict[str, str] = {}
    for subnet_id in subnets:
        try:
            vpcs[subnet_id] = ec2.get_subnet(subnet_id).vpc_id
        except Exception:  # noqa: BLE001 - moto raises InvalidSubnetIdError
            # ECS's wording, as moto's own check words it (moto.ecs.models.Service._validate_network).
            raise InvalidParameterException(
                f"Error retrieving subnet information for [{subnet_id}]: The subnet ID '{subnet_id}' does not "
                "exist (ErrorCode: InvalidSubnetID.NotFound)"
            ) from None
    if len(set(vpcs.values())) > 1:
        # AwsVpcConfiguration.subnets (ECS API reference): the subnets of one task's ENI are in
        # the task's VPC; a service's tasks and security groups share one VPC.
        raise InvalidParameterException(
            "The subnets " + ", ".join(subnets) + " belong to different VPCs; all subnets must be in one VPC."
        )
    vpc = next(iter(vpcs.values()), None)
    for group_id in groups:
        found = [g for g in _security_groups(ec2) if g.id == group_id]
        if not found:
            raise InvalidParameterException(
                f"Error retrieving security group information for [{group_id}]: The security group '{group_id}' "
                "does not exist (ErrorCode: InvalidGroup.NotFound)"
            )
        if vpc is not None and found[0].vpc_id != vpc:
            # AwsVpcConfiguration.securityGroups: "All specified security groups must be from the
            # same VPC."
            raise InvalidParameterException(
                f"Security group {group_id} is not in the subnets' VPC {vpc}: all specified security groups must "
                "be from the same VPC."
            )


def _security_groups(ec2: Any) -> list[Any]:
    return [group for groups in ec2.groups.values() for group in groups.values()]


def _check_load_balancers(balancers: Any, task_definition: Any, backend: Any) -> None:
    if not balancers:
        return
    if len(balancers) > MAX_TARGET_GROUPS:
        raise InvalidParameterException(f"At most {MAX_TARGET_GROUPS} target groups are allowed per service.")
    elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    for balancer in balancers:
        arn = (balancer or {}).get("targetGroupArn")
        if arn is None:
            continue  # a Classic Load Balancer (loadBalancerName): not modelled by the sandbox
        if not TARGET_GROUP_ARN.match(str(arn)):
            raise InvalidParameterException(f"Invalid target group ARN: {arn!r} is not a target group ARN.")
        group = elbv2.target_groups.get(arn)
        if group is None:
            raise InvalidParameterException(f"The target group {arn} does not exist.")
        if not group.load_balancer_arns:
            # ECS refuses a target group no load balancer forwards to (CreateService API reference,
            # loadBalancers: the target group must be associated with a load balancer).
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated load balancer."
            )
        if task_definition is None:
            continue
        if task_definition.network_mode == "awsvpc" and group.target_type != "ip":
            # "Use a load balancer" (ECS developer guide): services with tasks that use the awsvpc
            # network mode must use target type ip, not instance.
            raise InvalidParameterException(
                f"The provided target group {arn} has target type {group.target_type}, which is incompatible "
                "with the awsvpc network mode specified in the task definition."
            )
        name, port = balancer.get("containerName"), balancer.get("containerPort")
        containers = {c.get("name"): c for c in task_definition.container_definitions}
        if name not in containers:
            # LoadBalancer.containerName (ECS API reference): "The name of the container (as it
            # appears in a container definition) to associate with the load balancer."
            raise InvalidParameterException(f"The container {name} does not exist in the task definition.")
        ports = {m.get("containerPort") for m in containers[name].get("portMappings") or []}
        if port not in ports:
            # LoadBalancer.containerPort: "This port must correspond to a containerPort in the task
            # definition the tasks in the service are using."
            raise InvalidParameterException(f"The container {name} did not have a container port {port} defined.")


# ------------------------------------------------------------------------------ lookups


def _cluster(backend: Any, name: str) -> Any:
    return backend.clusters.get(str(name).split("/")[-1])


def _service(backend: Any, cluster: Any, name: Any) -> Any:
    if cluster is None or not name:
        return None
    return backend.services.get(f"{cluster.name}:{str(name).split('/')[-1]}")


def _task_definition(backend: Any, reference: Any) -> Any:
    if not reference:
        return None
    try:
        return backend.describe_task_definition(str(reference))
    except Exception:  # noqa: BLE001 - moto's own check answers a missing task definition
        return None
