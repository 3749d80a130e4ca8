"""ECS Express Mode: the gateway over Create/Describe/UpdateExpressGatewayService, and the pure functions that
turn an `express:` config into those requests and compare it with what ECS has.

What an Express service is and does (ECS API reference, CreateExpressGatewayService; developer guide
"Resources created by Amazon ECS Express Mode services"): ECS makes the service, its task definition, an
ALB with a listener rule and target groups, security groups, a log group and scaling, and reports the URL
as `activeConfigurations[].ingressPaths[].endpoint`. Updates are canary deployments of the underlying ECS
service, followed like any other deployment (its `currentDeployment` is a service deployment ARN).
"""

from __future__ import annotations

import copy
from typing import Any

from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.config.express import ExpressConfig
from ci_ecs.diff import Change
from ci_ecs.errors import ConfigError

# DescribeExpressGatewayService's answers for a service that is not there (modelled errors).
_MISSING = ("ResourceNotFoundException", "ServiceNotFoundException")
# Members of the configuration ECS reports that UpdateExpressGatewayService takes.
UPDATE_MEMBERS = ("executionRoleArn", "taskRoleArn", "cpu", "memory", "healthCheckPath", "primaryContainer",
                  "scalingTarget", "networkConfiguration")


class ExpressGateway:
    """The Express Mode calls ci-ecs makes (injected ECS client), each wrapped so an error says what was done."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def describe(self, service_arn: str) -> dict[str, Any] | None:
        """The Express service, or None when it does not exist or is INACTIVE."""
        with aws_errors(f"describe express service {service_arn.rsplit('/', 1)[-1]}"):
            try:
                service = dict(self.client.describe_express_gateway_service(serviceArn=service_arn)["service"])
            except Exception as exc:
                if error_code(exc) in _MISSING:
                    return None
                raise
        return None if (service.get("status") or {}).get("statusCode") == "INACTIVE" else service

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateExpressGatewayService."""
        with aws_errors(f"create express service {request.get('serviceName')}"):
            return dict(self.client.create_express_gateway_service(**request)["service"])

    def update(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateExpressGatewayService with exactly the members in `request`."""
        with aws_errors(f"update express service {request['serviceArn'].rsplit('/', 1)[-1]}"):
            return dict(self.client.update_express_gateway_service(**request)["service"])

    def delete(self, service_arn: str) -> dict[str, Any]:
        """DeleteExpressGatewayService: ECS removes the service and what it made for it (load balancer, target
        groups, security groups, scaling); the service goes DRAINING, then INACTIVE."""
        with aws_errors(f"delete express service {service_arn.rsplit('/', 1)[-1]}"):
            return dict(self.client.delete_express_gateway_service(serviceArn=service_arn)["service"])


def cluster_of(express: ExpressConfig, cluster: str | None) -> str:
    """The cluster: `express.cluster`, else the config's (`cluster:` / --cluster), else ECS's "default"."""
    return express.cluster or cluster or "default"


def container_request(express: ExpressConfig, image: str) -> dict[str, Any]:
    """ExpressGatewayContainer with what the config gives; `image` is the deployed image (`--image`, the
    repository's, else `primary_container.image`)."""
    container = express.primary_container
    out: dict[str, Any] = {"image": image}
    if container.container_port is not None:
        out["containerPort"] = container.container_port
    if container.command is not None:
        out["command"] = list(container.command)
    if container.environment:
        out["environment"] = [{"name": k, "value": v} for k, v in sorted(container.environment.items())]
    if container.secrets:
        out["secrets"] = [{"name": k, "valueFrom": v} for k, v in sorted(container.secrets.items())]
    if container.aws_logs_configuration is not None:
        logs = container.aws_logs_configuration
        out["awsLogsConfiguration"] = {"logGroup": logs.log_group, "logStreamPrefix": logs.log_stream_prefix}
    if container.repository_credentials:
        out["repositoryCredentials"] = {"credentialsParameter": container.repository_credentials}
    return out


def _given(express: ExpressConfig, image: str) -> dict[str, Any]:
    """The configuration members the config sets (camelCase), as ECS reports them."""
    out: dict[str, Any] = {"executionRoleArn": express.execution_role_arn,
                           "primaryContainer": container_request(express, image)}
    for member, value in (("taskRoleArn", express.task_role_arn), ("cpu", express.cpu), ("memory", express.memory),
                          ("healthCheckPath", express.health_check_path)):
        if value is not None:
            out[member] = value
    if express.scaling_target is not None:
        scaling = express.scaling_target
        out["scalingTarget"] = {k: v for k, v in (
            ("minTaskCount", scaling.min_task_count), ("maxTaskCount", scaling.max_task_count),
            ("autoScalingMetric", scaling.auto_scaling_metric),
            ("autoScalingTargetValue", scaling.auto_scaling_target_value)) if v is not None}
    if express.network_configuration is not None:
        network = express.network_configuration
        out["networkConfiguration"] = {k: list(v) for k, v in (
            ("subnets", network.subnets), ("securityGroups", network.security_groups)) if v is not None}
    return out


def create_request(express: ExpressConfig, cluster: str, image: str) -> dict[str, Any]:
    """CreateExpressGatewayService's input for the config; what it leaves out is ECS's default."""
    request = {"serviceName": express.service_name, "cluster": cluster,
               "infrastructureRoleArn": express.infrastructure_role_arn, **_given(express, image)}
    if express.tags:
        request["tags"] = [{"key": k, "value": v} for k, v in sorted(express.tags.items())]
    return request


def current_configuration(service: dict[str, Any]) -> dict[str, Any]:
    """The newest of the service's active configurations (two are active while a canary runs)."""
    configurations: list[dict[str, Any]] = list(service.get("activeConfigurations") or [])
    if not configurations:
        return {}

    def created(configuration: dict[str, Any]) -> str:
        return str(configuration.get("createdAt") or "")

    newest: dict[str, Any] = max(configurations, key=created)
    return dict(newest)


def _normalised(member: str, value: Any) -> Any:
    if member == "primaryContainer" and isinstance(value, dict):
        container: dict[str, Any] = dict(value)
        for key in ("environment", "secrets"):
            if container.get(key) is not None:
                container[key] = sorted(container[key], key=lambda e: str(e.get("name")))
        return container
    return value


def update_request(express: ExpressConfig, service: dict[str, Any], image: str
                   ) -> tuple[dict[str, Any], list[Change]]:
    """UpdateExpressGatewayService's input: only the members whose value differs from what ECS has, each merged
    over ECS's value (what the config leaves out of a structure stays as it is); ({}, []) when nothing differs.

    Raises ConfigError for a different infrastructure role: ECS cannot change it on an existing service.
    """
    current = current_configuration(service)
    if express.infrastructure_role_arn != service.get("infrastructureRoleArn"):
        raise ConfigError(f"express.infrastructure_role_arn: service {express.service_name} was created with "
                          f"{service.get('infrastructureRoleArn')}; ECS cannot change the infrastructure role of "
                          "an existing Express service", key="express.infrastructure_role_arn")
    request: dict[str, Any] = {}
    changes: list[Change] = []
    for member, value in _given(express, image).items():
        have = copy.deepcopy(current.get(member))
        want = {**have, **value} if isinstance(value, dict) and isinstance(have, dict) else value
        if _normalised(member, want) != _normalised(member, have):
            request[member] = want
            changes.append(Change(member, old=have, new=want))
    if request:
        request["serviceArn"] = service["serviceArn"]
    return request, changes


def endpoint(service: dict[str, Any]) -> str | None:
    """The URL ECS reports for the service: its PUBLIC ingress path's endpoint (else the first one)."""
    paths = current_configuration(service).get("ingressPaths") or []
    chosen = next((p for p in paths if p.get("accessType") == "PUBLIC"), paths[0] if paths else None)
    return str(chosen["endpoint"]) if chosen and chosen.get("endpoint") else None


def service_url(endpoint_value: str | None, scheme: str = "https") -> str | None:
    """An endpoint as a URL: as is when it has a scheme, else `scheme://ENDPOINT/`."""
    if not endpoint_value:
        return None
    if "://" in endpoint_value:
        return endpoint_value
    return f"{scheme}://{endpoint_value}/"
