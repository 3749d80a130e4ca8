"""ECS Express Mode in the sandbox: CreateExpressGatewayService, DescribeExpressGatewayService,
UpdateExpressGatewayService and DeleteExpressGatewayService (moto has none of them).

What ECS creates for an Express service (developer guide, "Resources created by Amazon ECS Express
Mode services"), made here as real resources in moto's models, so every other API sees them:
  - the ``default`` cluster when none is named and it does not exist yet, with the Fargate capacity
    providers; a named cluster must exist (ClusterNotFoundException);
  - a task definition (family = the service name) with the primary container, awslogs logging and
    awsvpc networking; a new revision when an update changes the container, the size or the roles;
  - a Fargate service with canary deployments ("Updating an Amazon ECS Express Mode service",
    Deployment behavior: 5% of traffic to the new tasks, 3 minutes' bake time, then 100%, then 3
    minutes before the old tasks stop), followed by the sandbox's canary strategy and its service
    deployments (``currentDeployment`` is the service deployment's ARN);
  - an Application Load Balancer on the forwarding load balancer (``elb/``) with a listener, a
    host-header rule and two target groups (production and alternate, as a canary needs);
  - a security group for the load balancer, a log group and an Application Auto Scaling scalable
    target (``ecs:service:DesiredCount``, scalingTarget's minimum and maximum).
The endpoint (``ingressPaths[].endpoint``, PUBLIC) is the load balancer's DNS name, which in the
sandbox is a loopback address that answers: the listener is HTTP on port 80 (AWS's is HTTPS with
an ACM certificate, which a local stand-in cannot have). The rule matches that host name.

Defaults when the request leaves a member out: cluster ``default`` (developer guide, Cluster
defaults); cpu "1024", memory "2048", containerPort 80, healthCheckPath "/" (the defaults the
providers built on the API document, e.g. the Terraform/Pulumi ExpressGatewayService: "cpu ...
Defaults to 1024", "containerPort ... Defaults to 80", "healthCheckPath ... Defaults to /");
scaling minTaskCount 1, maxTaskCount 20, AVERAGE_CPU 60 are the sandbox's choice where no
documented value was at hand (see the sandbox manual). The request's validation is
``express_rules`` (the Express members) and ``taskdef_rules`` (the task definition ECS registers).

Express records live on the moto Service (``sb_express``), under the sandbox lock.
"""

from __future__ import annotations

import contextlib
import copy
import re
import uuid
from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import ClusterNotFoundException, EcsClientException, ServiceNotFoundException
from moto.elbv2.models import elbv2_backends
from moto.logs.models import logs_backends

from . import context, deployment_rules, express_rules, scheduler, service_rules, service_state, taskdef_rules
from . import deployments as service_deployments
from .lifecycle import utcnow

CONTAINER_NAME = "main"
DEFAULTS = {"cpu": "1024", "memory": "2048", "healthCheckPath": "/"}
DEFAULT_PORT = 80
DEFAULT_SCALING = {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU",
                   "autoScalingTargetValue": 60}
# "Updating an Amazon ECS Express Mode service", Deployment behavior: canary, 5% of traffic, 3 minutes' bake
# time, then 100% and 3 minutes before the old tasks stop.
CANARY = {"strategy": "CANARY", "bakeTimeInMinutes": 3,
          "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 3}}
# Members of a configuration that make a new task definition revision when they change.
TASK_MEMBERS = ("primaryContainer", "cpu", "memory", "executionRoleArn", "taskRoleArn")
UPDATABLE = (*TASK_MEMBERS, "healthCheckPath", "networkConfiguration", "scalingTarget")


class ServiceNotActiveException(ServiceException):
    """ECS's answer to Update/DeleteExpressGatewayService on a service that is not ACTIVE."""

    code = "ServiceNotActiveException"
    message = "Service was not ACTIVE."


class ResourceNotFoundException(ServiceException):
    """DescribeExpressGatewayService's answer for a service ARN it does not know (modelled error)."""

    code = "ResourceNotFoundException"


def _backends(response: Any) -> tuple[Any, str, str]:
    backend = response.ecs_backend
    return backend, backend.account_id, backend.region_name


# ------------------------------------------------------------------------------ configuration


def _configuration(params: dict[str, Any], cluster: str, name: str, region: str) -> dict[str, Any]:
    """The full configuration of a create request, ECS's defaults filled in."""
    container = copy.deepcopy(params["primaryContainer"])
    container.setdefault("containerPort", DEFAULT_PORT)
    container.setdefault("awsLogsConfiguration", {"logGroup": f"/aws/ecs/{cluster}/{name}", "logStreamPrefix": "ecs"})
    out: dict[str, Any] = {
        "executionRoleArn": params["executionRoleArn"],
        "cpu": str(params.get("cpu") or DEFAULTS["cpu"]),
        "memory": str(params.get("memory") or DEFAULTS["memory"]),
        "healthCheckPath": params.get("healthCheckPath") or DEFAULTS["healthCheckPath"],
        "primaryContainer": container,
        "scalingTarget": {**DEFAULT_SCALING, **(params.get("scalingTarget") or {})},
        "networkConfiguration": copy.deepcopy(params.get("networkConfiguration") or {}),
    }
    if params.get("taskRoleArn"):
        out["taskRoleArn"] = params["taskRoleArn"]
    return out


def _container_definition(config: dict[str, Any], region: str) -> dict[str, Any]:
    container = config["primaryContainer"]
    logs = container["awsLogsConfiguration"]
    definition: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": container["image"],
        "essential": True,
        "portMappings": [{"containerPort": int(container["containerPort"]), "protocol": "tcp"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": logs["logGroup"], "awslogs-region": region,
            "awslogs-stream-prefix": logs["logStreamPrefix"]}},
    }
    for member in ("command", "environment", "secrets", "repositoryCredentials"):
        if container.get(member):
            definition[member] = copy.deepcopy(container[member])
    return definition


def _task_definition_request(name: str, config: dict[str, Any], region: str) -> dict[str, Any]:
    request = {
        "family": name,
        "containerDefinitions": [_container_definition(config, region)],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": config["cpu"],
        "memory": config["memory"],
        "executionRoleArn": config["executionRoleArn"],
    }
    if config.get("taskRoleArn"):
        request["taskRoleArn"] = config["taskRoleArn"]
    return request


def _check_task_definition(request: dict[str, Any]) -> None:
    ctx = context.active()
    refused = taskdef_rules.check_limits(request) or taskdef_rules.check(request, getattr(ctx, "registry", None))
    if refused:
        raise EcsClientException(refused)


def _register(backend: Any, request: dict[str, Any]) -> str:
    definition = backend.register_task_definition(
        family=request["family"], container_definitions=request["containerDefinitions"],
        network_mode=request["networkMode"], requires_compatibilities=request["requiresCompatibilities"],
        cpu=request["cpu"], memory=request["memory"], execution_role_arn=request["executionRoleArn"],
        task_role_arn=request.get("taskRoleArn"))
    return str(definition.arn)


# ------------------------------------------------------------------------------ resources


def _cluster_name(backend: Any, reference: str | None) -> str:
    """The cluster's name; ClusterNotFoundException for a named cluster that does not exist."""
    name = str(reference or "default").split("/")[-1]
    cluster = backend.clusters.get(name)
    if (cluster is None or cluster.status != "ACTIVE") and name != "default":
        raise ClusterNotFoundException()
    return name


def _ensure_default(backend: Any, name: str) -> None:
    cluster = backend.clusters.get(name)
    if cluster is None or cluster.status != "ACTIVE":
        # "The ECS default cluster (if it does not already exist) with Fargate capacity providers".
        backend.create_cluster(name, capacity_providers=["FARGATE", "FARGATE_SPOT"])


def _subnets(account: str, region: str, config: dict[str, Any]) -> list[str]:
    given = list((config.get("networkConfiguration") or {}).get("subnets") or [])
    if given:
        return given
    ec2 = ec2_backends[account][region]
    return [s.id for s in ec2.describe_subnets(filters={"default-for-az": ["true"]})][:3]


def _generated_name(image: str) -> str:
    base = re.sub(r"[^A-Za-z0-9-]", "-", image.split("@")[0].split(":")[0].split("/")[-1]) or "service"
    return f"{base[:40]}-{uuid.uuid4().hex[:6]}"


def _load_balancer(account: str, region: str, name: str, config: dict[str, Any], subnets: list[str],
                   vpc: str) -> dict[str, Any]:
    """The ALB, its security group, listener, two target groups and the host-header rule."""
    ec2 = ec2_backends[account][region]
    elbv2 = elbv2_backends[account][region]
    suffix = uuid.uuid4().hex[:10]
    group = ec2.create_security_group(f"ecs-express-{name}-{suffix}", f"ECS Express service {name}", vpc_id=vpc)
    balancer = elbv2.create_load_balancer(f"ecs-express-{suffix}", [group.id], subnets,
                                          loadbalancer_type="application")
    port = int(config["primaryContainer"]["containerPort"])
    groups = [
        elbv2.create_target_group(
            f"ecs-express-{suffix}-{side}", vpc_id=vpc, protocol="HTTP", port=port, target_type="ip",
            healthcheck_path=config["healthCheckPath"], healthcheck_protocol="HTTP", matcher={"HttpCode": "200"})
        for side in ("a", "b")
    ]
    listener = elbv2.create_listener(
        balancer.arn, "HTTP", "80", "", None,
        [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                                            "MessageBody": "Not Found"}}])
    rule = elbv2.create_rule(
        listener.arn, [{"Field": "host-header", "HostHeaderConfig": {"Values": [balancer.dns_name]}}], 1,
        [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": groups[0].arn, "Weight": 100}, {"TargetGroupArn": groups[1].arn, "Weight": 0}]}}])
    return {"loadBalancerArn": balancer.arn, "dnsName": balancer.dns_name, "listenerArn": listener.arn,
            "ruleArn": rule.arn, "targetGroupArns": [g.arn for g in groups], "securityGroupId": group.id}


def _scalable_target(account: str, region: str, cluster: str, name: str, scaling: dict[str, Any], role: str) -> None:
    applicationautoscaling_backends[account][region].register_scalable_target(
        "ecs", f"service/{cluster}/{name}", "ecs:service:DesiredCount",
        int(scaling["minTaskCount"]), int(scaling["maxTaskCount"]), role,
        {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,  # type: ignore[arg-type]
         "ScheduledScalingSuspended": False})


def _log_group(account: str, region: str, name: str) -> None:
    logs = logs_backends[account][region]
    if name not in logs.groups:
        logs.create_log_group(name, {})


# ------------------------------------------------------------------------------ records


def _record(service: Any) -> dict[str, Any] | None:
    return getattr(service, "sb_express", None)


def _revision_of(service: Any) -> str | None:
    records = service_deployments.records(service)
    return records[0].target.arn if records else None


def _ingress(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"accessType": "PUBLIC", "endpoint": record["resources"]["dnsName"]}]


def _public_configuration(record: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in config.items() if k not in ("createdAt",) and v not in (None, {})}
    out["ingressPaths"] = _ingress(record)
    out["createdAt"] = config["createdAt"]
    return out


def _active_configurations(service: Any, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The configuration the newest service deployment rolls out and, while it is in progress, the one it
    replaces (both serve traffic during a canary); after a rollback, the one it went back to."""
    configurations = record["configurations"]
    records = service_deployments.records(service)
    newest = records[0] if records else None
    if newest is None or newest.status == "SUCCESSFUL" or len(configurations) == 1:
        return configurations[:1]
    if newest.status.startswith("ROLLBACK"):
        return configurations[1:2]
    return configurations[:2]


def _public(service: Any) -> dict[str, Any]:
    record = _record(service) or {}
    return {
        "cluster": f"arn:aws:ecs:{service.region_name}:{service._account_id}:cluster/{service.cluster_name}",
        "serviceName": service.name,
        "serviceArn": service.arn,
        "infrastructureRoleArn": record["infrastructureRoleArn"],
        "status": {"statusCode": service.status},
        "currentDeployment": getattr(service, "current_service_deployment", None) or "",
        "activeConfigurations": [_public_configuration(record, c) for c in _active_configurations(service, record)],
        "tags": copy.deepcopy(record.get("tags") or []),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
    }


def _find(backend: Any, arn: str, missing: type[ServiceException] | None = None) -> Any:
    """The Express service of an ARN (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME)."""
    parts = str(arn).split(":", 5)[-1].split("/")
    if len(parts) != 3 or parts[0] != "service":
        raise express_rules.InvalidParameterException("serviceArn must be the ARN of an Express service.")
    cluster = backend.clusters.get(parts[1])
    if cluster is None:
        raise ClusterNotFoundException()
    service = backend.services.get(f"{parts[1]}:{parts[2]}")
    if service is None or _record(service) is None:
        raise (missing or ServiceNotFoundException)()
    return service


# ------------------------------------------------------------------------------ operations


def _create(self: Any) -> Any:
    backend, account, region = _backends(self)
    params = dict(self._get_params())
    express_rules.check_create(params)
    cluster = _cluster_name(backend, params.get("cluster"))
    name = str(params.get("serviceName") or _generated_name(str(params["primaryContainer"].get("image", ""))))
    existing = backend.services.get(f"{cluster}:{name}")
    if existing is not None and existing.status != "INACTIVE":
        # CreateService (API reference): a service of that name already in the cluster.
        raise express_rules.InvalidParameterException("Creation of service was not idempotent.")
    config = _configuration(params, cluster, name, region)
    request = _task_definition_request(name, config, region)
    _check_task_definition(request)
    subnets = _subnets(account, region, config)
    given_groups = list(config["networkConfiguration"].get("securityGroups") or [])
    network = {"awsvpcConfiguration": {"subnets": subnets, "assignPublicIp": "ENABLED", "securityGroups": given_groups}}
    service_rules.check_network(network, backend)
    vpc = ec2_backends[account][region].get_subnet(subnets[0]).vpc_id
    # Everything is checked: from here on ECS creates.
    _ensure_default(backend, cluster)
    task_definition = _register(backend, request)
    _log_group(account, region, config["primaryContainer"]["awsLogsConfiguration"]["logGroup"])
    resources = _load_balancer(account, region, name, config, subnets, vpc)
    if not network["awsvpcConfiguration"]["securityGroups"]:
        network["awsvpcConfiguration"]["securityGroups"] = [resources["securityGroupId"]]
    balancers = [{"targetGroupArn": resources["targetGroupArns"][0], "containerName": CONTAINER_NAME,
                  "containerPort": int(config["primaryContainer"]["containerPort"]),
                  "advancedConfiguration": {"alternateTargetGroupArn": resources["targetGroupArns"][1],
                                            "productionListenerRule": resources["ruleArn"],
                                            "roleArn": params["infrastructureRoleArn"]}}]
    deployment_rules.validate(CANARY, balancers, "ECS")
    service = backend.create_service(
        cluster, name, int(config["scalingTarget"]["minTaskCount"]), task_definition_str=task_definition,
        load_balancers=balancers, tags=params.get("tags"), deployment_controller={"type": "ECS"},
        launch_type="FARGATE", network_configuration=network, propagate_tags="SERVICE")
    service.deployment_configuration = copy.deepcopy(CANARY)
    service.health_check_grace_period_seconds = 0
    scheduler.initialise_service(service)
    service_deployments.record_new_deployments(service)
    _scalable_target(account, region, cluster, name, config["scalingTarget"], params["infrastructureRoleArn"])
    now = utcnow()
    config["networkConfiguration"] = {"subnets": subnets,
                                      "securityGroups": list(network["awsvpcConfiguration"]["securityGroups"])}
    config["serviceRevisionArn"] = _revision_of(service)
    config["createdAt"] = now
    service.sb_express = {"infrastructureRoleArn": params["infrastructureRoleArn"], "configurations": [config],
                          "resources": resources, "tags": params.get("tags") or [], "createdAt": now,
                          "updatedAt": now, "taskDefinition": task_definition}
    return ActionResult({"service": _public(service)})


def _describe(self: Any) -> Any:
    backend, _, _ = _backends(self)
    service = _find(backend, str(self._get_param("serviceArn")), ResourceNotFoundException)
    return ActionResult({"service": _public(service)})


def _merged(previous: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The configuration an update asks for: what the request leaves out stays as it is."""
    config = {k: copy.deepcopy(v) for k, v in previous.items() if k not in ("serviceRevisionArn", "createdAt")}
    for member in UPDATABLE:
        if params.get(member) is not None:
            config[member] = copy.deepcopy(params[member])
    container = config["primaryContainer"]
    container.setdefault("containerPort", previous["primaryContainer"]["containerPort"])
    container.setdefault("awsLogsConfiguration", previous["primaryContainer"]["awsLogsConfiguration"])
    config["scalingTarget"] = {**previous["scalingTarget"], **(params.get("scalingTarget") or {})}
    return config


def _update(self: Any) -> Any:
    backend, account, region = _backends(self)
    params = dict(self._get_params())
    service = _find(backend, str(params.get("serviceArn")))
    if service.status != "ACTIVE":
        raise ServiceNotActiveException()
    express_rules.check_update(params)
    record = _record(service) or {}
    previous = record["configurations"][0]
    config = _merged(previous, params)
    changed_task = any(config.get(m) != previous.get(m) for m in TASK_MEMBERS)
    request = _task_definition_request(service.name, config, region)
    if changed_task:
        _check_task_definition(request)
    network = None
    if config["networkConfiguration"] != previous["networkConfiguration"]:
        subnets = _subnets(account, region, config) or previous["networkConfiguration"]["subnets"]
        groups = config["networkConfiguration"].get("securityGroups") or [record["resources"]["securityGroupId"]]
        network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": list(groups),
                                           "assignPublicIp": "ENABLED"}}
        service_rules.check_network(network, backend)
        config["networkConfiguration"] = {"subnets": subnets, "securityGroups": list(groups)}
    if config == {k: v for k, v in previous.items() if k not in ("serviceRevisionArn", "createdAt")}:
        return ActionResult({"service": _updated(service, previous)})  # nothing differs: no new deployment
    props: dict[str, Any] = {"cluster": service.cluster_name, "service": service.name}
    if changed_task:
        record["taskDefinition"] = props["task_definition"] = _register(backend, request)
    if network is not None:
        props["network_configuration"] = network
    if config["healthCheckPath"] != previous["healthCheckPath"]:
        for arn in record["resources"]["targetGroupArns"]:
            elbv2_backends[account][region].modify_target_group(arn, health_check_path=config["healthCheckPath"])
    scaling = config["scalingTarget"]
    if scaling != previous["scalingTarget"]:
        _scalable_target(account, region, service.cluster_name, service.name, scaling, record["infrastructureRoleArn"])
        desired = min(max(service.desired_count, int(scaling["minTaskCount"])), int(scaling["maxTaskCount"]))
        if desired != service.desired_count:
            props["desired_count"] = desired
    before = getattr(service, "current_service_deployment", None)
    backend.update_service(props)
    if getattr(service, "current_service_deployment", None) == before and (changed_task or network is not None):
        service_state.start_deployment(service)
        service_deployments.record_new_deployments(service)
    now = utcnow()
    config["serviceRevisionArn"] = _revision_of(service)
    config["createdAt"] = now
    record["configurations"].insert(0, config)
    del record["configurations"][5:]
    record["updatedAt"] = now
    return ActionResult({"service": _updated(service, config)})


def _updated(service: Any, config: dict[str, Any]) -> dict[str, Any]:
    record = _record(service) or {}
    return {
        "serviceArn": service.arn,
        "cluster": f"arn:aws:ecs:{service.region_name}:{service._account_id}:cluster/{service.cluster_name}",
        "serviceName": service.name,
        "status": {"statusCode": service.status},
        "targetConfiguration": _public_configuration(record, config),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
    }


def _delete(self: Any) -> Any:
    backend, account, region = _backends(self)
    service = _find(backend, str(self._get_param("serviceArn")))
    if service.status != "ACTIVE":
        raise ServiceNotActiveException()
    record = _record(service) or {}
    backend.delete_service(service.cluster_name, service.name, True)  # DRAINING, then INACTIVE (scheduler)
    resources = record["resources"]
    with contextlib.suppress(Exception):  # deregistered meanwhile by someone else: nothing to remove
        applicationautoscaling_backends[account][region].deregister_scalable_target(
            "ecs", f"service/{service.cluster_name}/{service.name}", "ecs:service:DesiredCount")
    # The load balancer stops answering now (its listeners go with it), then its target groups (the forwarder
    # drains nothing from a group that is gone: the tasks stop at once) and its security group.
    elbv2 = elbv2_backends[account][region]
    elbv2.delete_load_balancer(resources["loadBalancerArn"])
    for arn in resources["targetGroupArns"]:
        with contextlib.suppress(Exception):  # deleted by hand meanwhile
            elbv2.delete_target_group(arn)
    with contextlib.suppress(Exception):  # still in use by a task's interface: AWS would wait for it as well
        ec2_backends[account][region].delete_security_group(group_id=resources["securityGroupId"])
    record["updatedAt"] = utcnow()
    return ActionResult({"service": _public(service)})


RESPONSE_METHODS = {
    "create_express_gateway_service": _create,
    "describe_express_gateway_service": _describe,
    "update_express_gateway_service": _update,
    "delete_express_gateway_service": _delete,
}
