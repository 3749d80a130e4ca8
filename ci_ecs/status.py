"""`ci-ecs status`: what a service runs and where: deployments, tasks with their addresses and health, events.

Read-only. The JSON uses deploy's names where they overlap (taskDefinitionArn, publicIps, privateIps,
loadBalancerDns, serviceUrl), so a pipeline reads either the same way.
"""

from __future__ import annotations

from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.config import Config
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import ConfigError
from ci_ecs.express import ExpressGateway, cluster_of, endpoint
from ci_ecs.express import service_url as express_url
from ci_ecs.network import load_balancer_dns, service_port, task_addresses
from ci_ecs.output import service_url


def _stamp(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def deployments(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The service's deployments as status shows them (ECS's fields, PRIMARY first)."""
    return [{"id": d.get("id"), "status": d.get("status"), "taskDefinitionArn": d.get("taskDefinition"),
             "rolloutState": d.get("rolloutState"), "desiredCount": d.get("desiredCount"),
             "runningCount": d.get("runningCount"), "pendingCount": d.get("pendingCount"),
             "failedTasks": d.get("failedTasks"), "createdAt": _stamp(d.get("createdAt"))}
            for d in sorted(service.get("deployments", []), key=lambda d: d.get("status") != "PRIMARY")]


def service_status(config: Config, *, factory: ClientFactory | None = None, events: int = 5) -> dict[str, Any]:
    """The status of the config's service. ConfigError (exit 2) when there is no such service.

    >>> service_status(load_config("ci-ecs.yml"))["publicIps"]  # doctest: +SKIP
    ['203.0.113.10']
    """
    factory = factory or ClientFactory(aws_settings(config))
    if config.express is not None:  # an Express service: its ECS service, and the URL ECS reports
        cluster, name = cluster_of(config.express, config.cluster), config.express.service_name
    else:
        targets = config.targets()
        if len(targets) != 1 or not targets[0].service.name:
            raise ConfigError("name the one service to show (service.name, or --service with a services list)",
                              key="service.name")
        cluster, name = config.cluster or "default", str(targets[0].service.name)
    ecs = EcsGateway(factory.client("ecs"))
    service = ecs.describe_service(cluster, name)
    if service is None:
        raise ConfigError(f"service {name} not found in cluster {cluster}", key="service.name")
    arns = ecs.list_tasks(cluster, service=name, desired_status="RUNNING")
    described = ecs.describe_tasks(cluster, arns) if arns else []
    ec2 = factory.client("ec2")
    tasks = []
    for task in sorted(described, key=lambda t: str(t.get("startedAt") or t.get("createdAt") or "")):
        # One DescribeNetworkInterfaces per running task: status is for people, services have few tasks.
        addresses = task_addresses(ec2, [task]) if task.get("lastStatus") == "RUNNING" else None
        tasks.append({"taskArn": task.get("taskArn"), "taskDefinitionArn": task.get("taskDefinitionArn"),
                      "lastStatus": task.get("lastStatus"), "desiredStatus": task.get("desiredStatus"),
                      "healthStatus": task.get("healthStatus"), "deploymentId": task.get("startedBy"),
                      "availabilityZone": task.get("availabilityZone"), "startedAt": _stamp(task.get("startedAt")),
                      "publicIp": next(iter(addresses.public_ips), None) if addresses else None,
                      "privateIp": next(iter(addresses.private_ips), None) if addresses else None})
    elbv2 = factory.client("elbv2") if any(lb.get("targetGroupArn") for lb in service.get("loadBalancers", [])) \
        else None
    dns = load_balancer_dns(elbv2, service) if elbv2 is not None else None
    public = sorted({t["publicIp"] for t in tasks if t["publicIp"]})
    private = sorted({t["privateIp"] for t in tasks if t["privateIp"]})
    port = None
    if service.get("taskDefinition") and public and not dns:
        port = service_port(ecs.describe_task_definition(str(service["taskDefinition"])))
    url = service_url({"loadBalancerDns": dns, "publicIps": public, "servicePort": port}) or None
    if config.express is not None:
        described_express = ExpressGateway(factory.client("ecs")).describe(str(service.get("serviceArn")))
        url = express_url(endpoint(described_express or {}), config.verify.scheme if config.verify else "https")
    return {
        "cluster": cluster, "service": name, "serviceArn": service.get("serviceArn"), "status": service.get("status"),
        "taskDefinitionArn": service.get("taskDefinition"), "desiredCount": service.get("desiredCount"),
        "runningCount": service.get("runningCount"), "pendingCount": service.get("pendingCount"),
        "publicIps": public, "privateIps": private, "loadBalancerDns": dns,
        "serviceUrl": url,
        "deployments": deployments(service), "tasks": tasks,
        "events": [{"createdAt": _stamp(e.get("createdAt")), "message": e.get("message")}
                   for e in service.get("events", [])[:events]],
    }


def status_text(result: dict[str, Any]) -> str:
    """The status as lines for people."""
    lines = [f"service {result['service']} in {result['cluster']}: {result['status']}, "
             f"{result['runningCount']}/{result['desiredCount']} running, "
             f"{str(result['taskDefinitionArn']).rsplit('/', 1)[-1]}"]
    if result.get("serviceUrl"):
        lines.append(f"url: {result['serviceUrl']}")
    lines.append("deployments:")
    for d in result["deployments"]:
        lines.append(f"  {d['id']} {d['status']} {str(d['taskDefinitionArn']).rsplit('/', 1)[-1]} "
                     f"{d['rolloutState'] or ''} {d['runningCount']}/{d['desiredCount']} running, "
                     f"{d['pendingCount']} pending, {d['failedTasks'] or 0} failed".rstrip())
    lines.append("tasks:" if result["tasks"] else "tasks: none running")
    for t in result["tasks"]:
        lines.append(f"  {str(t['taskArn']).rsplit('/', 1)[-1]} {t['lastStatus']} health {t['healthStatus']} "
                     f"public {t['publicIp'] or '-'} private {t['privateIp'] or '-'} "
                     f"({str(t['taskDefinitionArn']).rsplit('/', 1)[-1]})")
    if result["events"]:
        lines.append("events:")
        lines.extend(f"  {e['createdAt']} {e['message']}" for e in result["events"])
    return "\n".join(lines)
