"""Services: create when missing, update only on a real difference (or when forced).

The rule every function here keeps: **what the config leaves out is never changed on an existing
service** (it may have been made by Terraform, CloudFormation or by hand). Defaults such as the
default VPC's subnets, a launch type inferred from the task definition or a desired count of 1 apply
when *creating* a service only. An update compares, and sends, only the keys the config sets.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.act import Step, would
from ci_ecs.config import ServiceConfig
from ci_ecs.config.api import member_shape, to_api
from ci_ecs.config.service import API_STRUCTURES
from ci_ecs.diff import Change, diff_values, strip_empty
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import ConfigError, ServiceStateError

log = logging.getLogger(__name__)

# ensure_service's `current` when the caller has not described the service.
_DESCRIBE: Any = object()
# CreateService keys that UpdateService cannot change.
_CREATE_ONLY = ("launchType", "schedulingStrategy", "tags", "role")
# ECS's default for a new service's desired count when the config and the flags give none.
DEFAULT_DESIRED_COUNT = 1


@dataclass(frozen=True)
class ServiceSpec:
    """What the config sets on a service, in CreateService's names; everything else is left as it is.

    `fields` holds top-level keys (taskDefinition, desiredCount, loadBalancers, ...). `network` holds
    only the awsvpcConfiguration members the config sets (subnets, securityGroups, assignPublicIp),
    because each of them is left alone on an existing service when unset.
    """

    fields: dict[str, Any]
    network: dict[str, Any] = field(default_factory=dict)
    # The tags the config names (None: remove that key); applied to an existing service with Tag/UntagResource.
    tags: dict[str, str | None] = field(default_factory=dict)


def desired_service(service: ServiceConfig, *, task_definition: str) -> ServiceSpec:
    """The service settings the config sets; unset settings are left out (kept as they are on update).

    `desiredCount` is left out when unset, so an update keeps what an autoscaler chose.

    >>> from ci_ecs.config import ServiceConfig
    >>> spec = desired_service(ServiceConfig(name="s", desired_count=2, security_groups=["sg-1"]),
    ...                        task_definition="f:1")
    >>> spec.fields, spec.network
    ({'taskDefinition': 'f:1', 'desiredCount': 2}, {'securityGroups': ['sg-1']})
    """
    spec: dict[str, Any] = {"taskDefinition": task_definition}
    if service.desired_count is not None:
        spec["desiredCount"] = service.desired_count
    if service.launch_type:
        spec["launchType"] = service.launch_type
    if service.capacity_provider_strategy:
        spec["capacityProviderStrategy"] = [
            {"capacityProvider": c.capacity_provider, "weight": c.weight, "base": c.base}
            for c in service.capacity_provider_strategy]
    if service.platform_version:
        spec["platformVersion"] = service.platform_version
    if service.load_balancers:
        spec["loadBalancers"] = [strip_empty({"targetGroupArn": lb.target_group_arn,
                                              "loadBalancerName": lb.load_balancer_name,
                                              "containerName": lb.container_name,
                                              "containerPort": lb.container_port,
                                              "advancedConfiguration": _advanced(lb)})
                                 for lb in service.load_balancers]
    if service.health_check_grace_period is not None:
        spec["healthCheckGracePeriodSeconds"] = service.health_check_grace_period
    if service.placement_strategy:
        spec["placementStrategy"] = [strip_empty({"type": p.type, "field": p.field})
                                     for p in service.placement_strategy]
    if service.placement_constraints:
        spec["placementConstraints"] = [strip_empty({"type": p.type, "expression": p.expression})
                                        for p in service.placement_constraints]
    deployment = _deployment_configuration(service)
    if deployment:
        spec["deploymentConfiguration"] = deployment
    if service.enable_execute_command is not None:
        spec["enableExecuteCommand"] = service.enable_execute_command
    if service.propagate_tags:
        spec["propagateTags"] = service.propagate_tags
    if service.tags:
        # A null value asks for the key's removal: nothing to set on a new service. (ServiceSpec.tags has them all.)
        spec["tags"] = [{"key": k, "value": v} for k, v in service.tags.items() if v is not None]
    if service.availability_zone_rebalancing is not None:
        spec["availabilityZoneRebalancing"] = service.availability_zone_rebalancing
    for name, member in API_STRUCTURES.items():
        value = getattr(service, name)
        if value is not None:  # [] clears a list member; None leaves it as the service has it
            spec[member] = to_api(value, member_shape("CreateService", member))
    return ServiceSpec(spec, _network(service), dict(service.tags))


def _deployment_configuration(service: ServiceConfig) -> dict[str, Any]:
    """The deploymentConfiguration members the config sets (empty: leave the service's as they are)."""
    deployment: dict[str, Any] = {}
    if service.minimum_healthy_percent is not None:
        deployment["minimumHealthyPercent"] = service.minimum_healthy_percent
    if service.maximum_percent is not None:
        deployment["maximumPercent"] = service.maximum_percent
    if service.circuit_breaker is not None:
        breaker = service.circuit_breaker
        threshold = breaker.threshold_configuration
        deployment["deploymentCircuitBreaker"] = strip_empty({
            "enable": breaker.enable, "rollback": breaker.rollback,
            "thresholdConfiguration": {"type": threshold.type, "value": threshold.value} if threshold else None,
            "resetOnHealthyTask": breaker.reset_on_healthy_task})
    if service.early_success_criteria is not None:
        early = service.early_success_criteria
        deployment["earlySuccessCriteria"] = strip_empty({
            "enable": early.enable, "healthyPercent": early.healthy_percent,
            "sourceServiceRevisionCleanup": early.source_service_revision_cleanup})
    deployment.update(_strategy_settings(service))
    return deployment


def _network(service: ServiceConfig) -> dict[str, Any]:
    """The awsvpcConfiguration members the config sets (subnets and security groups sorted, as ECS keeps them)."""
    network: dict[str, Any] = {}
    if service.subnets:
        network["subnets"] = sorted(service.subnets)
    if service.security_groups:
        network["securityGroups"] = sorted(service.security_groups)
    if service.assign_public_ip is not None:
        network["assignPublicIp"] = "ENABLED" if service.assign_public_ip else "DISABLED"
    return network


def tag_plan(wanted: dict[str, str | None], current: dict[str, str]
             ) -> tuple[list[Change], dict[str, str], list[str]]:
    """The tag changes on an existing service: (changes for plan, tags to set, keys to remove).

    Only the keys the config names are compared; the service's other tags (Terraform's, a cost allocation
    tool's) are never removed. A key set to null in the config is removed when the service has it.

    >>> changes, add, remove = tag_plan({"team": "web", "old": None, "same": "1"},
    ...                                 {"old": "x", "same": "1", "cost": "7"})
    >>> [str(c) for c in changes], add, remove
    (['+ tags.team: "web"', '- tags.old: "x"'], {'team': 'web'}, ['old'])
    """
    changes: list[Change] = []
    add: dict[str, str] = {}
    remove: list[str] = []
    for key, value in wanted.items():
        have = current.get(key)
        if value is None:
            if key in current:
                changes.append(Change(f"tags.{key}", old=have))
                remove.append(key)
        elif have != value:
            changes.append(Change(f"tags.{key}", new=value) if key not in current
                           else Change(f"tags.{key}", old=have, new=value))
            add[key] = value
    return changes, add, remove


def _advanced(lb: Any) -> dict[str, Any] | None:
    if lb.advanced is None:
        return None
    return strip_empty({"alternateTargetGroupArn": lb.advanced.alternate_target_group_arn,
                        "productionListenerRule": lb.advanced.production_listener_rule,
                        "testListenerRule": lb.advanced.test_listener_rule,
                        "roleArn": lb.advanced.role_arn})


def _strategy_settings(service: ServiceConfig) -> dict[str, Any]:
    """deploymentConfiguration's strategy members the config sets (issue 10's rule: only those).

    >>> from ci_ecs.config import ServiceConfig
    >>> _strategy_settings(ServiceConfig(strategy="CANARY", canary={"percent": 10}, load_balancers=[{
    ...     "target_group_arn": "tg", "container_name": "web", "container_port": 80, "advanced": {
    ...     "alternate_target_group_arn": "tg2", "production_listener_rule": "r", "role_arn": "role"}}]))
    {'strategy': 'CANARY', 'canaryConfiguration': {'canaryPercent': 10.0}}
    """
    out: dict[str, Any] = {}
    if service.strategy is not None:
        out["strategy"] = service.strategy
    if service.bake_time_minutes is not None:
        out["bakeTimeInMinutes"] = service.bake_time_minutes
    if service.canary is not None:
        out["canaryConfiguration"] = strip_empty({"canaryPercent": service.canary.percent,
                                                  "canaryBakeTimeInMinutes": service.canary.bake_time_minutes})
    if service.linear is not None:
        out["linearConfiguration"] = strip_empty({"stepPercent": service.linear.step_percent,
                                                  "stepBakeTimeInMinutes": service.linear.step_bake_time_minutes})
    if service.alarms is not None:
        out["alarms"] = {"alarmNames": list(service.alarms.names), "enable": service.alarms.enable,
                         "rollback": service.alarms.rollback}
    if service.lifecycle_hooks is not None:
        hooks = []
        for hook in service.lifecycle_hooks:
            timeout = strip_empty({"timeoutInMinutes": hook.timeout_minutes, "action": hook.timeout_action})
            hooks.append(strip_empty({"targetType": "AWS_LAMBDA" if hook.target_arn else "PAUSE",
                                      "hookTargetArn": hook.target_arn, "roleArn": hook.role_arn,
                                      "lifecycleStages": list(hook.stages), "hookDetails": hook.details,
                                      "timeoutConfiguration": timeout or None}))
        out["lifecycleHooks"] = hooks
    return out


def create_params(spec: ServiceSpec, *, cluster: str, name: str, network_mode: str | None,
                  default_subnets: Callable[[], list[str]], launch_type: str | None = None) -> dict[str, Any]:
    """CreateService's input: the config's settings plus the defaults that apply to a new service only.

    `default_subnets` is called only when an awsvpc service names no subnets (the default VPC's);
    `launch_type` is the one inferred from the task definition, used when neither a launch type nor a
    capacity provider strategy is set (ECS would otherwise use the cluster's default strategy).
    """
    params = copy.deepcopy(spec.fields)
    params.setdefault("desiredCount", DEFAULT_DESIRED_COUNT)
    if launch_type and "launchType" not in params and "capacityProviderStrategy" not in params:
        params["launchType"] = launch_type
    if network_mode == "awsvpc":
        vpc = dict(spec.network)
        if not vpc.get("subnets"):
            vpc["subnets"] = sorted(default_subnets())
        params["networkConfiguration"] = {"awsvpcConfiguration": vpc}
    params.update({"cluster": cluster, "serviceName": name})
    return params


def _current_vpc(current: dict[str, Any]) -> dict[str, Any] | None:
    vpc = (current.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if not vpc:
        return None
    out: dict[str, Any] = {"subnets": sorted(vpc.get("subnets") or [])}
    if vpc.get("securityGroups"):
        out["securityGroups"] = sorted(vpc["securityGroups"])
    # DescribeServices leaves assignPublicIp out when it is DISABLED, ECS's default (API reference,
    # AwsVpcConfiguration.assignPublicIp: "The default value is DISABLED").
    out["assignPublicIp"] = vpc.get("assignPublicIp") or "DISABLED"
    return out


def _merge(current: Any, wanted: Any) -> Any:
    """`current` with the members `wanted` sets laid over it (dicts merge, everything else replaces)."""
    if isinstance(current, dict) and isinstance(wanted, dict):
        out = dict(current)
        for key, value in wanted.items():
            out[key] = _merge(current.get(key), value)
        return out
    return copy.deepcopy(wanted)


# Members DescribeServices reports on each deployment rather than on the service (Deployment shape of the ECS API
# reference: serviceConnectConfiguration, volumeConfigurations, vpcLatticeConfigurations): the PRIMARY one's.
_DEPLOYMENT_MEMBERS = ("serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")
# Members only a service revision reports (ServiceRevision shape: gatewayConnectors, monitoring; Service has
# neither): read with DescribeServiceRevisions (`with_revision`) when the config sets one.
REVISION_MEMBERS = ("gatewayConnectors", "monitoring")
# Where `with_revision` puts the service's current service revision in a described service (not an ECS member).
_REVISION = "_currentServiceRevision"


def with_revision(ecs: EcsGateway, spec: ServiceSpec, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """`current` with its current service revision beside it, when the config sets a member only a revision
    reports (REVISION_MEMBERS) and the service has one: one DescribeServiceRevisions call, else none.

    While a deployment runs the service has several current revisions: the newest is the one its members were
    last set on.
    """
    if current is None or _REVISION in current or not any(m in spec.fields for m in REVISION_MEMBERS):
        return current
    arns = sorted(str(r["arn"]) for r in current.get("currentServiceRevisions") or [] if r.get("arn"))
    if not arns:
        return current
    revisions = ecs.describe_service_revisions(arns)
    newest = max(revisions, key=lambda r: str(r.get("createdAt") or ""), default={})
    return {**current, _REVISION: newest}


def _overlay(have: Any, want: Any) -> Any:
    """`want` laid over `have`, lists of the same length item by item: what ECS echoes beyond what the config
    sets (its defaults filled in) is not a difference."""
    if isinstance(have, dict) and isinstance(want, dict):
        return {**have, **{k: _overlay(have.get(k), v) for k, v in want.items()}}
    if isinstance(have, list) and isinstance(want, list) and len(have) == len(want):
        return [_overlay(h, w) for h, w in zip(have, want, strict=True)]
    return copy.deepcopy(want)


def _comparable_current(key: str, current: dict[str, Any]) -> Any:
    have = current.get(key)
    if key == "availabilityZoneRebalancing" and have is None:
        # UpdateService availabilityZoneRebalancing (ECS API reference): "If the service never had an
        # AvailabilityZoneRebalancing value set, Amazon ECS treats this as DISABLED."
        return "DISABLED"
    if key in _DEPLOYMENT_MEMBERS and have is None:
        have = (primary_deployment(current) or {}).get(key)
    if key in REVISION_MEMBERS and have is None:
        have = (current.get(_REVISION) or {}).get(key)
    if key == "capacityProviderStrategy":
        return [{"capacityProvider": c.get("capacityProvider"), "weight": c.get("weight", 0),
                 "base": c.get("base", 0)} for c in have or []]
    if key == "platformVersion" and have is None:
        return "LATEST"
    if key in ("loadBalancers", "placementStrategy", "placementConstraints") and have is None:
        return []
    return copy.deepcopy(have)


def update_plan(spec: ServiceSpec, current: dict[str, Any], *, network_mode: str | None,
                service_name: str = "") -> tuple[list[Change], dict[str, Any]]:
    """What an update changes and what UpdateService is sent: only keys the config sets that differ.

    Nested settings merge with what the service has: setting only `security_groups` keeps the
    service's subnets and public-IP setting; setting only `minimum_healthy_percent` keeps its circuit
    breaker. Returns the changes (for plan) and the UpdateService fields (without cluster/service).
    """
    changes: list[Change] = []
    params: dict[str, Any] = {}
    for key, value in spec.fields.items():
        if key == "tags":
            continue  # tags are CreateService-only here; ci-ecs does not retag an existing service
        have = _comparable_current(key, current)
        want = _merge(have, value) if key == "deploymentConfiguration" else value
        compared = _overlay(have, want) if key in (*_DEPLOYMENT_MEMBERS, *REVISION_MEMBERS) else want
        found = diff_values(have, compared, key)
        if found:
            changes.extend(found)
            params[key] = want
    vpc = _current_vpc(current)
    if network_mode == "awsvpc" and (spec.network or vpc is None):
        if vpc is None and not spec.network.get("subnets"):
            # UpdateService needs subnets in an awsvpcConfiguration; the default VPC is a default for
            # creating a service only, never a place to move an existing one to.
            raise ConfigError(f"service {service_name} has no awsvpc network configuration and the task "
                              "definition uses awsvpc: set service.subnets", key="service.subnets")
        want_vpc = {**(vpc or {}), **spec.network}
        found = diff_values({"awsvpcConfiguration": vpc}, {"awsvpcConfiguration": want_vpc},
                            "networkConfiguration")
        if found:
            changes.extend(found)
            params["networkConfiguration"] = {"awsvpcConfiguration": want_vpc}
    return changes, params


@dataclass
class ServiceResult:
    """What ensure_service found or did.

    `deployment_id` is the deployment to follow: the one our CreateService/UpdateService started, or
    for an unchanged service its PRIMARY one. `previous_task_definition` is what a failed deployment
    may roll back to: set only when this run moved the service to another task definition.
    """

    action: str  # created | updated | unchanged
    service: dict[str, Any]
    deployment_id: str | None
    previous_task_definition: str | None
    changes: list[Change] = field(default_factory=list)
    sent: dict[str, Any] = field(default_factory=dict)
    # True when our CreateService/UpdateService started a new deployment (a desired-count change alone does not).
    started_deployment: bool = False


def primary_deployment(service: dict[str, Any]) -> dict[str, Any] | None:
    """The service's PRIMARY deployment."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return None


def _deployment_id(service: dict[str, Any]) -> str | None:
    deployment = primary_deployment(service)
    return str(deployment["id"]) if deployment and deployment.get("id") else None


def ensure_service(ecs: EcsGateway, cluster: str, name: str, spec: ServiceSpec, *, network_mode: str | None,
                   default_subnets: Callable[[], list[str]], launch_type: str | None = None,
                   force_new_deployment: bool = False, current: Any = _DESCRIBE) -> Step[ServiceResult]:
    """Create the service when missing or INACTIVE; update it only when something differs or when forced.

    A step (ci_ecs.act): a dry run's result has `sent` holding exactly what would be sent, and nothing is.
    A DRAINING service raises ServiceStateError: ECS is deleting it. `current`: the service as the caller has
    just described it (None: missing), so it is not described twice.
    """
    if current is _DESCRIBE:
        current = ecs.describe_service(cluster, name)
    current = with_revision(ecs, spec, current)
    if current is not None and current.get("status") == "DRAINING":
        raise ServiceStateError(f"service {name} in cluster {cluster} is DRAINING (being deleted); "
                                "wait until it is INACTIVE, then deploy again", cluster=cluster, service=name)
    if current is None or current.get("status") == "INACTIVE":
        params = create_params(spec, cluster=cluster, name=name, network_mode=network_mode,
                               default_subnets=default_subnets, launch_type=launch_type)
        changes = [Change("service", new="(create)")]
        yield would(ServiceResult("created", {"serviceName": name, **params}, None, None, changes, params), log,
                    "service %s: would create (desired count %s)", name, params["desiredCount"])
        created = ecs.create_service(params)
        log.info("service %s created (desired count %s)", name, created.get("desiredCount"))
        return ServiceResult("created", created, _deployment_id(created), None, changes, params,
                             started_deployment=True)
    changes, params = update_plan(spec, current, network_mode=network_mode, service_name=name)
    tag_changes: list[Change] = []
    add: dict[str, str] = {}
    remove: list[str] = []
    if spec.tags:
        # UpdateService takes no tags: TagResource/UntagResource change them (ECS API reference), and only the
        # keys the config names (what it leaves out is never changed).
        tag_changes, add, remove = tag_plan(spec.tags, ecs.list_tags(str(current.get("serviceArn"))))
    if not changes and not force_new_deployment and tag_changes:
        tagged = ServiceResult("updated", current, _deployment_id(current), None, tag_changes)
        tag_paths = ", ".join(c.path for c in tag_changes)
        yield would(tagged, log, "service %s: would change its tags (%s)", name, tag_paths)
        ecs.tag_service(str(current.get("serviceArn")), add, remove)
        log.info("service %s: tags changed (%s)", name, tag_paths)
        return tagged
    if not changes and not force_new_deployment:
        log.info("service %s unchanged (%s, desired count %s)", name, _short(current.get("taskDefinition")),
                 current.get("desiredCount"))
        return ServiceResult("unchanged", current, _deployment_id(current), None, [])
    blocked = [c for c in changes if c.path.split(".")[0].split("[")[0] in _CREATE_ONLY]
    if blocked:
        raise ServiceStateError(f"service {name}: {blocked[0].path} cannot change on an existing service "
                                f"({blocked[0]}); delete and recreate the service, or keep the old value",
                                cluster=cluster, service=name)
    if force_new_deployment:
        params["forceNewDeployment"] = True
    params.update({"cluster": cluster, "service": name})
    # Only a move to another task definition has something to roll back to.
    previous = current.get("taskDefinition") if "taskDefinition" in params else None
    what = ", ".join(c.path for c in changes) or "forced new deployment"
    yield would(ServiceResult("updated", current, None, previous, changes + tag_changes, params), log,
                "service %s: would update (%s)", name, what)
    updated = ecs.update_service(params)
    log.info("service %s updated (%s)", name, what)
    if tag_changes:
        ecs.tag_service(str(current.get("serviceArn")), add, remove)
        log.info("service %s: tags changed (%s)", name, ", ".join(c.path for c in tag_changes))
    started = _deployment_id(updated) != _deployment_id(current)
    return ServiceResult("updated", updated, _deployment_id(updated), previous, changes + tag_changes, params,
                         started_deployment=started)


# How many of a cluster's services a "not found" error names (ListServices' first page is enough for a typo).
_NAMED_SERVICES = 10


def refuse_missing_services(ecs: EcsGateway, cluster: str, names: list[str],
                            described: dict[str, dict[str, Any]] | None, *, create: bool) -> None:
    """ConfigError (exit 2) for a service that does not exist (or is INACTIVE) when this run may not create it.

    A service is created only when the config describes it (a `service:` section) or with `--create`: a
    drop-in deploy naming a service by flags alone (aws-actions' inputs) must not turn a typo into a new
    service across the default VPC. aws-actions/amazon-ecs-deploy-task-definition fails the same way: its
    UpdateService answers ServiceNotFoundException (ECS API reference, UpdateService errors). `described`:
    the services by name as DescribeServices just gave them (None: the cluster does not exist). Checked before
    anything is written.
    """
    if create:
        return
    missing = [n for n in names if described is None or (described.get(n) or {}).get("status") in (None, "INACTIVE")]
    if not missing:
        return
    how = ("ci-ecs creates a service only when the config has a service: section, or with --create "
           "(CI_ECS_CREATE=true); nothing was written")
    if described is None:
        raise ConfigError(f"service {missing[0]} not found: cluster {cluster} does not exist; {how}",
                          key="service.name")
    existing = sorted(arn.rsplit("/", 1)[-1] for arn in ecs.list_services(cluster))
    shown = ", ".join(existing[:_NAMED_SERVICES]) + (f", ... ({len(existing)} in all)"
                                                    if len(existing) > _NAMED_SERVICES else "")
    listed = f"its services: {shown}" if existing else "it has no services"
    raise ConfigError(f"service {missing[0]} not found in cluster {cluster} ({listed}); {how}", key="service.name")


def _short(arn: str | None) -> str:
    return (arn or "").rsplit("/", 1)[-1]
