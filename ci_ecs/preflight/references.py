"""Pre-flight: the references ECS resolves when a service is created or updated, found with read calls before
anything is written (issue 22).

ECS checks what a CreateService/UpdateService names: the subnets and security groups (and that they share a
VPC), the target groups (their target type against the task's network mode, the container and port the load
balancer names in the task definition) and the capacity providers of its strategy (associated with the
cluster). Each refusal would come after ci-ecs had registered a task definition (or created a cluster); here
they come first, all at once, each a ConfigError naming the config key. The reads are batched over every
service of the deploy: one DescribeSubnets, one DescribeSecurityGroups, one DescribeTargetGroups.

Only what a request sends is checked: an update that does not send networkConfiguration keeps what ECS
accepted before. A read the caller's credentials may not make (a deploy policy written before these checks)
skips that check with a warning: ECS still checks when the service is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ci_ecs.aws import ClientFactory
from ci_ecs.aws_failures import aws_errors
from ci_ecs.cluster import FARGATE_PROVIDERS
from ci_ecs.errors import AwsError, ConfigError, CredentialsError

log = logging.getLogger(__name__)

# Values per EC2 filter in one call: a bound on the request's size (ECS takes at most 16 subnets and 5 security
# groups per service, API reference AwsVpcConfiguration), so one call covers every service of a usual deploy.
_FILTER_BATCH = 200
# Target group ARNs per DescribeTargetGroups call (ECS attaches at most 5 target groups to a service).
_TARGET_GROUP_BATCH = 20


@dataclass(frozen=True)
class PlannedService:
    """One service as the deploy is about to write it."""

    key_prefix: str                 # "" or "services[2]." — what precedes service./task. in config keys
    definition: dict[str, Any]      # the RegisterTaskDefinition input as rendered (placeholder image allowed)
    request: dict[str, Any]         # the CreateService or UpdateService input as it would be sent
    creating: bool                  # True: CreateService; False: UpdateService
    current: dict[str, Any] | None  # DescribeServices' answer for an existing service, else None


def check_references(factory: ClientFactory, *, cluster: str, cluster_providers: list[str] | None,
                     services: list[PlannedService]) -> list[ConfigError]:
    """Every reference problem at once (each ConfigError naming the config key, e.g. 'service.subnets').

    `cluster_providers`: the capacity providers the cluster has associated when the services are written
    (ci_ecs.cluster.planned_providers: the existing cluster's plus `cluster_capacity_providers`), or None when
    ci-ecs creates the cluster (FARGATE and FARGATE_SPOT, ci_ecs.cluster.FARGATE_PROVIDERS). Makes at most one
    DescribeSubnets, DescribeSecurityGroups and DescribeTargetGroups call (more only for a target group that is
    not found, to name it); none when no request names a subnet, security group or target group.
    """
    problems = capacity_provider_problems(cluster, cluster_providers, services)
    if not problems:
        problems += managed_instances_provider_problems(factory, cluster, services)
    problems += _network_problems(factory, services)
    problems += _load_balancer_problems(factory, services)
    return problems


# --- capacity providers ------------------------------------------------------------------------------------------

def capacity_provider_problems(cluster: str, cluster_providers: list[str] | None,
                               services: list[PlannedService]) -> list[ConfigError]:
    """A strategy naming a capacity provider the cluster does not have associated (no call).

    ECS refuses it: "The specified capacity provider strategy cannot contain a capacity provider that is not
    associated with the cluster"; "A capacity provider must be associated with the cluster to be used in a
    capacity provider strategy. The PutClusterCapacityProviders API is used to associate a capacity provider
    with a cluster" (API reference, CreateService / UpdateService capacityProviderStrategy).
    """
    associated = list(FARGATE_PROVIDERS if cluster_providers is None else cluster_providers)
    created = cluster_providers is None
    problems = []
    for planned in services:
        strategy = list(planned.request.get("capacityProviderStrategy") or [])
        problems += _strategy_shape_problems(planned.key_prefix, strategy)
        for index, item in enumerate(strategy):
            name = str(item.get("capacityProvider") or "")
            if name in associated:
                continue
            has = ", ".join(associated) or "none"
            where = (f"cluster {cluster}, which ci-ecs creates with {has}" if created
                     else f"cluster {cluster} (it has {has})")
            problems.append(ConfigError(
                f"capacity provider {name} is not associated with {where}: ECS refuses a strategy naming it; "
                f"add {name} to cluster_capacity_providers to have ci-ecs associate it",
                key=f"{planned.key_prefix}service.capacity_provider_strategy[{index}].capacity_provider"))
    return problems


def _strategy_shape_problems(prefix: str, strategy: list[dict[str, Any]]) -> list[ConfigError]:
    """Two rules of a strategy's providers together (no call).

    "A capacity provider strategy can only contain Auto Scaling group capacity providers or Fargate capacity
    providers" (ECS Developer Guide, "Amazon ECS capacity providers", considerations); "Only one capacity
    provider in a capacity provider strategy can have a base defined" (API reference,
    CapacityProviderStrategyItem.base; ci-ecs sends base 0, ECS's default, for the others).
    """
    key = f"{prefix}service.capacity_provider_strategy"
    names = [str(item.get("capacityProvider") or "") for item in strategy]
    fargate = [n for n in names if n in FARGATE_PROVIDERS]
    others = [n for n in names if n not in FARGATE_PROVIDERS]
    problems = []
    if fargate and others:
        problems.append(ConfigError(f"a strategy takes Fargate capacity providers or Auto Scaling group ones, not "
                                    f"both ({', '.join(fargate)} with {', '.join(others)})", key=key))
    based = [n for n, item in zip(names, strategy, strict=True) if item.get("base")]
    if len(based) > 1:
        problems.append(ConfigError(f"only one capacity provider of a strategy may have a base ({', '.join(based)} "
                                    "have one)", key=key))
    return problems


def managed_instances_provider_problems(factory: ClientFactory, cluster: str, services: list[PlannedService]
                                       ) -> list[ConfigError]:
    """A strategy naming a Managed Instances capacity provider for a task definition not made for them: one
    DescribeCapacityProviders (CapacityProvider.type) for the strategies' providers other than FARGATE and
    FARGATE_SPOT, none when there are none.

    ECS developer guide, "Amazon ECS task definition differences for Amazon ECS Managed Instances": "To use Amazon
    ECS Managed Instances, you must configure your task definition to use the Amazon ECS Managed Instances launch
    type" (requiresCompatibilities MANAGED_INSTANCES; its rules are then the pre-flight's, limits.py).
    """
    names = sorted({str(item.get("capacityProvider")) for planned in services
                    for item in planned.request.get("capacityProviderStrategy") or []
                    if item.get("capacityProvider") not in FARGATE_PROVIDERS})
    if not names:
        return []
    ecs = factory.client("ecs")
    try:
        with aws_errors(f"describe the capacity providers of cluster {cluster}"):
            described = ecs.describe_capacity_providers(capacityProviders=names, cluster=cluster)
    except CredentialsError as exc:
        _skipped("capacity providers", "ecs:DescribeCapacityProviders", exc)
        return []
    managed = {str(p.get("name")) for p in described.get("capacityProviders") or []
               if p.get("type") == "MANAGED_INSTANCES" or p.get("managedInstancesProvider")}
    problems = []
    for planned in services:
        compatibilities = planned.definition.get("requiresCompatibilities") or []
        for index, item in enumerate(planned.request.get("capacityProviderStrategy") or []):
            name = item.get("capacityProvider")
            if name in managed and "MANAGED_INSTANCES" not in compatibilities:
                problems.append(ConfigError(
                    f"capacity provider {name} is a Managed Instances one: the task definition must be made for "
                    "them (requires_compatibilities: [MANAGED_INSTANCES], network mode awsvpc or host)",
                    key=f"{planned.key_prefix}service.capacity_provider_strategy[{index}].capacity_provider"))
    return problems


# --- subnets and security groups ---------------------------------------------------------------------------------

def _vpc_config(planned: PlannedService) -> dict[str, Any]:
    return dict((planned.request.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {})


def _batches(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _skipped(what: str, action: str, exc: CredentialsError) -> None:
    log.warning("pre-flight: %s not checked (%s): `ci-ecs iam-policy` lists %s; ECS still checks them when the "
                "service is written", what, exc.code, action)


def _describe_by_id(read: Callable[[list[str]], list[dict[str, Any]]], ids: list[str], id_key: str
                    ) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for batch in _batches(ids, _FILTER_BATCH):
        for item in read(batch):
            found[str(item[id_key])] = item
    return found


def _network_problems(factory: ClientFactory, services: list[PlannedService]) -> list[ConfigError]:
    """Subnets and security groups exist, and each service's are in one VPC.

    Looked up with the `subnet-id` / `group-id` filters (DescribeSubnets, DescribeSecurityGroups filters in the
    EC2 API reference): a missing ID is simply absent from the answer, where naming it in SubnetIds/GroupIds
    fails the whole call (InvalidSubnetID.NotFound, InvalidGroup.NotFound) without saying which one is missing
    other than in the message's wording.
    """
    subnet_ids = sorted({s for p in services for s in _vpc_config(p).get("subnets") or []})
    group_ids = sorted({g for p in services for g in _vpc_config(p).get("securityGroups") or []})
    if not subnet_ids and not group_ids:
        return []
    ec2 = factory.client("ec2")
    region = factory.region

    def subnets(batch: list[str]) -> list[dict[str, Any]]:
        with aws_errors("describe the service's subnets"):
            pages = ec2.get_paginator("describe_subnets").paginate(Filters=[{"Name": "subnet-id", "Values": batch}])
            return [s for page in pages for s in page.get("Subnets", [])]

    def groups(batch: list[str]) -> list[dict[str, Any]]:
        with aws_errors("describe the service's security groups"):
            pages = ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "group-id", "Values": batch}])
            return [g for page in pages for g in page.get("SecurityGroups", [])]

    found_subnets: dict[str, dict[str, Any]] | None = None
    found_groups: dict[str, dict[str, Any]] | None = None
    if subnet_ids:
        try:
            found_subnets = _describe_by_id(subnets, subnet_ids, "SubnetId")
        except CredentialsError as exc:
            _skipped("subnets", "ec2:DescribeSubnets", exc)
    if group_ids:
        try:
            found_groups = _describe_by_id(groups, group_ids, "GroupId")
        except CredentialsError as exc:
            _skipped("security groups", "ec2:DescribeSecurityGroups", exc)

    problems = []
    for planned in services:
        vpc = _vpc_config(planned)
        key = f"{planned.key_prefix}service."
        # vpc id -> the first subnet / security group of this service in it
        vpcs: dict[str, str] = {}
        for subnet in vpc.get("subnets") or []:
            if found_subnets is None:
                break
            if subnet not in found_subnets:
                problems.append(ConfigError(f"subnet {subnet} does not exist in {region} (EC2 DescribeSubnets)",
                                            key=key + "subnets"))
            else:
                vpcs.setdefault(str(found_subnets[subnet].get("VpcId")), f"subnet {subnet}")
        subnet_vpcs = dict(vpcs)
        for group in vpc.get("securityGroups") or []:
            if found_groups is None:
                break
            if group not in found_groups:
                problems.append(ConfigError(f"security group {group} does not exist in {region} "
                                            "(EC2 DescribeSecurityGroups)", key=key + "security_groups"))
            else:
                vpcs.setdefault(str(found_groups[group].get("VpcId")), f"security group {group}")
        # "All specified subnets and security groups must be from the same VPC" (ECS API reference,
        # NetworkConfiguration.awsvpcConfiguration; AwsVpcConfiguration: "All specified subnets must be from the
        # same VPC", likewise the security groups).
        if len(vpcs) > 1:
            which = "subnets" if len(subnet_vpcs) > 1 else "security_groups"
            named = "; ".join(f"{what} is in {vpc_id}" for vpc_id, what in vpcs.items())
            problems.append(ConfigError(f"the subnets and security groups of a service must all be in one VPC "
                                        f"(ECS API reference, AwsVpcConfiguration): {named}", key=key + which))
    return problems


# --- load balancers ----------------------------------------------------------------------------------------------

def _target_groups_of(load_balancers: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(index, config key under load_balancers[i], ARN) of every target group a request's loadBalancers name."""
    out = []
    for index, lb in enumerate(load_balancers):
        if lb.get("targetGroupArn"):
            out.append((index, "target_group_arn", str(lb["targetGroupArn"])))
        alternate = (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
        if alternate:
            out.append((index, "advanced.alternate_target_group_arn", str(alternate)))
    return out


def _describe_target_groups(factory: ClientFactory, arns: list[str]
                            ) -> tuple[dict[str, dict[str, Any]], dict[str, str]] | None:
    """(target groups found by ARN, {ARN: error code} of those ECS would not find); None when the caller may not
    read them.

    DescribeTargetGroups answers TargetGroupNotFound when any ARN of the call is missing (ELBv2 API reference,
    DescribeTargetGroups errors) and ValidationError for one that is not a target group ARN: the batch is then
    asked again one ARN at a time to learn which.
    """
    elbv2 = factory.client("elbv2")
    found: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}

    def describe(batch: list[str]) -> list[dict[str, Any]]:
        with aws_errors("describe the service's target groups"):
            pages = elbv2.get_paginator("describe_target_groups").paginate(TargetGroupArns=batch)
            return [g for page in pages for g in page.get("TargetGroups", [])]

    try:
        for batch in _batches(arns, _TARGET_GROUP_BATCH):
            try:
                groups = describe(batch)
            except AwsError as exc:
                if isinstance(exc, CredentialsError) or exc.code not in ("TargetGroupNotFound", "ValidationError"):
                    raise
                groups = []
                for arn in batch:
                    try:
                        groups.extend(describe([arn]))
                    except AwsError as one:
                        if isinstance(one, CredentialsError) or one.code not in ("TargetGroupNotFound",
                                                                                 "ValidationError"):
                            raise
                        missing[arn] = one.code
            found.update({str(g["TargetGroupArn"]): g for g in groups})
    except CredentialsError as exc:
        _skipped("target groups", "elasticloadbalancing:DescribeTargetGroups", exc)
        return None
    return found, missing


def _port_problems(planned: PlannedService, load_balancers: list[dict[str, Any]], *, current: bool
                   ) -> list[ConfigError]:
    """The container each load balancer names is in the task definition, with a port mapping for its port.

    LoadBalancer (ECS API reference): containerName is "The name of the container (as it appears in a container
    definition) to associate with the load balancer"; containerPort "must correspond to a containerPort in the
    task definition the tasks in the service are using".
    """
    containers = {str(c.get("name")): c for c in planned.definition.get("containerDefinitions") or []}
    family = planned.definition.get("family") or "the task definition"
    problems = []
    for index, lb in enumerate(load_balancers):
        name, port = lb.get("containerName"), lb.get("containerPort")
        if current:
            # The service keeps the load balancers it has when the config sets none: the new revision must
            # still have what they name, or ECS refuses the update.
            prefix, key = "the service's load balancer (set service.load_balancers to change it) names ", \
                f"{planned.key_prefix}service.load_balancers"
            name_key = port_key = key
        else:
            prefix = ""
            key = f"{planned.key_prefix}service.load_balancers[{index}]"
            name_key, port_key = f"{key}.container_name", f"{key}.container_port"
        if name not in containers:
            problems.append(ConfigError(f"{prefix}container {name}, which {family} does not have (its containers: "
                                        f"{', '.join(containers) or 'none'})", key=name_key))
            continue
        ports = [m.get("containerPort") for m in containers[str(name)].get("portMappings") or []]
        if port is not None and port not in ports:
            shown = ", ".join(str(p) for p in ports if p is not None) or "none"
            problems.append(ConfigError(f"{prefix}container port {port} of container {name}, which has no port "
                                        f"mapping for it in {family} (its container ports: {shown})", key=port_key))
    return problems


def _target_type_problem(group: dict[str, Any], network_mode: str, key: str) -> ConfigError | None:
    """The target group's type must be what ECS registers the service's tasks as.

    awsvpc: "you must choose ip as the target type, not instance. Tasks that use the awsvpc network mode are
    associated with an elastic network interface, not an Amazon EC2 instance" (ECS API reference, LoadBalancer;
    Developer Guide, "Use an Application Load Balancer for Amazon ECS"). bridge and host: the task's container
    "is registered with the Application Load Balancer as an instance ID and port combination" (same guide), so
    the type is `instance`. ECS registers tasks, never Lambda functions or load balancers (types lambda, alb).
    """
    wanted = "ip" if network_mode == "awsvpc" else "instance"
    have = group.get("TargetType")
    if have is None or have == wanted:
        return None
    return ConfigError(f"target group {group.get('TargetGroupName') or group.get('TargetGroupArn')} has target type "
                       f"{have}, but tasks of network mode {network_mode} register as {wanted} targets: use a target "
                       f"group of type {wanted}", key=key)


def _load_balancer_problems(factory: ClientFactory, services: list[PlannedService]) -> list[ConfigError]:
    sent = [(p, list(p.request["loadBalancers"] or [])) for p in services if "loadBalancers" in p.request]
    arns = sorted({arn for _, lbs in sent for _, _, arn in _target_groups_of(lbs)})
    described = _describe_target_groups(factory, arns) if arns else ({}, {})
    region = factory.region
    problems: list[ConfigError] = []
    for planned in services:
        if "loadBalancers" not in planned.request:
            moved = not planned.creating and "taskDefinition" in planned.request and planned.current
            if moved and planned.current:
                problems += _port_problems(planned, list(planned.current.get("loadBalancers") or []), current=True)
            continue
        lbs = list(planned.request["loadBalancers"] or [])
        # ECS defaults to bridge on Linux when a task definition names no network mode (API reference,
        # RegisterTaskDefinition networkMode).
        mode = str(planned.definition.get("networkMode") or "bridge")
        problems += _port_problems(planned, lbs, current=False)
        for index, lb in enumerate(lbs):
            if lb.get("loadBalancerName") and mode == "awsvpc":
                # "Services with tasks that use the awsvpc network mode ... only support Application Load Balancers
                # and Network Load Balancers. Classic Load Balancers are not supported" (API reference, LoadBalancer).
                problems.append(ConfigError(
                    f"Classic Load Balancer {lb['loadBalancerName']}: services of network mode awsvpc take target "
                    "groups of Application or Network Load Balancers only (set target_group_arn)",
                    key=f"{planned.key_prefix}service.load_balancers[{index}].load_balancer_name"))
        if described is None:
            continue
        found, missing = described
        for index, field, arn in _target_groups_of(lbs):
            key = f"{planned.key_prefix}service.load_balancers[{index}].{field}"
            if arn in missing:
                reason = "is not a target group ARN" if missing[arn] == "ValidationError" else \
                    f"does not exist in {region}"
                problems.append(ConfigError(f"target group {arn} {reason} (ELBv2 DescribeTargetGroups: "
                                            f"{missing[arn]})", key=key))
            elif arn in found:
                problem = _target_type_problem(found[arn], mode, key)
                if problem:
                    problems.append(problem)
    return problems
