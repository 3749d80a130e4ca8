"""Clusters and services: create when missing, update only on a real difference (or when forced)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.config import ServiceConfig
from ci_ecs.diff import Change, diff_values, strip_empty
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import ServiceStateError

log = logging.getLogger(__name__)

# CreateService keys that UpdateService cannot change.
_CREATE_ONLY = ("launchType", "schedulingStrategy", "tags", "role")


def ensure_cluster(ecs: EcsGateway, cluster: str, *, dry_run: bool = False) -> bool:
    """Create the cluster when it is missing; never touch an existing one. True when created."""
    if ecs.describe_cluster(cluster) is not None:
        log.info("cluster %s exists", cluster)
        return False
    if dry_run:
        log.info("cluster %s: would create", cluster)
        return True
    ecs.create_cluster(cluster)
    log.info("cluster %s created", cluster)
    return True


def desired_service(service: ServiceConfig, *, task_definition: str, subnets: list[str],
                    network_mode: str | None, desired_count_default: int = 1) -> dict[str, Any]:
    """The service fields the config sets, in CreateService's names; unset fields are left out.

    `desiredCount` is left out when unset, so an update keeps what an autoscaler chose.

    >>> from ci_ecs.config import ServiceConfig
    >>> desired_service(ServiceConfig(name="s", desired_count=2), task_definition="f:1", subnets=[],
    ...                 network_mode=None)
    {'taskDefinition': 'f:1', 'desiredCount': 2}
    """
    spec: dict[str, Any] = {"taskDefinition": task_definition, "desiredCount": service.desired_count}
    if service.launch_type:
        spec["launchType"] = service.launch_type
    if service.capacity_provider_strategy:
        spec["capacityProviderStrategy"] = [
            {"capacityProvider": c.capacity_provider, "weight": c.weight, "base": c.base}
            for c in service.capacity_provider_strategy]
    if service.platform_version:
        spec["platformVersion"] = service.platform_version
    if network_mode == "awsvpc":
        vpc: dict[str, Any] = {"subnets": sorted(subnets)}
        if service.security_groups:
            vpc["securityGroups"] = sorted(service.security_groups)
        vpc["assignPublicIp"] = "ENABLED" if service.assign_public_ip else "DISABLED"
        spec["networkConfiguration"] = {"awsvpcConfiguration": vpc}
    if service.load_balancers:
        spec["loadBalancers"] = [strip_empty({"targetGroupArn": lb.target_group_arn,
                                              "loadBalancerName": lb.load_balancer_name,
                                              "containerName": lb.container_name,
                                              "containerPort": lb.container_port})
                                 for lb in service.load_balancers]
    if service.health_check_grace_period is not None:
        spec["healthCheckGracePeriodSeconds"] = service.health_check_grace_period
    if service.placement_strategy:
        spec["placementStrategy"] = [strip_empty({"type": p.type, "field": p.field})
                                     for p in service.placement_strategy]
    if service.placement_constraints:
        spec["placementConstraints"] = [strip_empty({"type": p.type, "expression": p.expression})
                                        for p in service.placement_constraints]
    deployment: dict[str, Any] = {}
    if service.minimum_healthy_percent is not None:
        deployment["minimumHealthyPercent"] = service.minimum_healthy_percent
    if service.maximum_percent is not None:
        deployment["maximumPercent"] = service.maximum_percent
    if service.circuit_breaker is not None:
        deployment["deploymentCircuitBreaker"] = {"enable": service.circuit_breaker.enable,
                                                  "rollback": service.circuit_breaker.rollback}
    if deployment:
        spec["deploymentConfiguration"] = deployment
    if service.enable_execute_command is not None:
        spec["enableExecuteCommand"] = service.enable_execute_command
    if service.propagate_tags:
        spec["propagateTags"] = service.propagate_tags
    if service.tags:
        spec["tags"] = [{"key": k, "value": v} for k, v in service.tags.items()]
    if spec["desiredCount"] is None:
        del spec["desiredCount"]
    spec.setdefault("_desiredCountOnCreate", desired_count_default)
    return spec


def _comparable(spec: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Project `current` (DescribeServices) onto the keys `spec` sets, both in a comparable form."""
    wanted: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for key, value in spec.items():
        if key.startswith("_") or key in ("tags",):
            continue
        have = current.get(key)
        if key == "deploymentConfiguration":
            have = {k: (current.get(key) or {}).get(k) for k in value}
        elif key == "networkConfiguration":
            vpc = dict((have or {}).get("awsvpcConfiguration", {}))
            for list_key in ("subnets", "securityGroups"):
                if list_key in vpc:
                    vpc[list_key] = sorted(vpc[list_key])
            if "securityGroups" not in value["awsvpcConfiguration"]:
                vpc.pop("securityGroups", None)
            vpc.setdefault("assignPublicIp", "DISABLED")
            have = {"awsvpcConfiguration": vpc}
        elif key == "capacityProviderStrategy":
            have = [{"capacityProvider": c.get("capacityProvider"), "weight": c.get("weight", 0),
                     "base": c.get("base", 0)} for c in have or []]
        elif key == "platformVersion" and have is None:
            have = "LATEST"
        wanted[key] = value
        found[key] = have
    return found, wanted


def diff_service(current: dict[str, Any] | None, spec: dict[str, Any]) -> list[Change]:
    """What ensure_service would change: the keys the config sets whose values differ."""
    if current is None or current.get("status") == "INACTIVE":
        return [Change("service", new="(create)")]
    found, wanted = _comparable(spec, current)
    return diff_values(found, wanted)


@dataclass
class ServiceResult:
    """What ensure_service found or did."""

    action: str  # created | updated | unchanged
    service: dict[str, Any]
    deployment_id: str | None
    previous_task_definition: str | None
    changes: list[Change] = field(default_factory=list)


def primary_deployment(service: dict[str, Any]) -> dict[str, Any] | None:
    """The service's PRIMARY deployment."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return None


def ensure_service(ecs: EcsGateway, cluster: str, name: str, spec: dict[str, Any], *,
                   force_new_deployment: bool = False, dry_run: bool = False) -> ServiceResult:
    """Create the service when missing or INACTIVE; update it only when something differs or when forced.

    A DRAINING service raises ServiceStateError: ECS is deleting it.
    """
    current = ecs.describe_service(cluster, name)
    if current is not None and current.get("status") == "DRAINING":
        raise ServiceStateError(f"service {name} in cluster {cluster} is DRAINING (being deleted); "
                                "wait until it is INACTIVE, then deploy again", cluster=cluster, service=name)
    changes = diff_service(current, spec)
    if current is None or current.get("status") == "INACTIVE":
        params = {k: v for k, v in spec.items() if not k.startswith("_")}
        params.setdefault("desiredCount", spec.get("_desiredCountOnCreate", 1))
        params.update({"cluster": cluster, "serviceName": name})
        if dry_run:
            log.info("service %s: would create (desired count %s)", name, params["desiredCount"])
            return ServiceResult("created", {"serviceName": name, **params}, None, None, changes)
        created = ecs.create_service(params)
        deployment = primary_deployment(created)
        log.info("service %s created (desired count %s)", name, created.get("desiredCount"))
        return ServiceResult("created", created, deployment.get("id") if deployment else None, None, changes)
    previous = current.get("taskDefinition")
    if not changes and not force_new_deployment:
        log.info("service %s unchanged (%s, desired count %s)", name, _short(previous),
                 current.get("desiredCount"))
        deployment = primary_deployment(current)
        return ServiceResult("unchanged", current, deployment.get("id") if deployment else None, previous, [])
    blocked = [c for c in changes if c.path.split(".")[0].split("[")[0] in _CREATE_ONLY]
    if blocked:
        raise ServiceStateError(f"service {name}: {blocked[0].path} cannot change on an existing service "
                                f"({blocked[0]}); delete and recreate the service, or keep the old value",
                                cluster=cluster, service=name)
    params = {k: v for k, v in spec.items() if not k.startswith("_") and k not in _CREATE_ONLY}
    params.update({"cluster": cluster, "service": name})
    if force_new_deployment:
        params["forceNewDeployment"] = True
    what = ", ".join(c.path for c in changes) or "forced new deployment"
    if dry_run:
        log.info("service %s: would update (%s)", name, what)
        return ServiceResult("updated", current, None, previous, changes)
    updated = ecs.update_service(params)
    deployment = primary_deployment(updated)
    log.info("service %s updated (%s)", name, what)
    return ServiceResult("updated", updated, deployment.get("id") if deployment else None, previous, changes)


def _short(arn: str | None) -> str:
    return (arn or "").rsplit("/", 1)[-1]
