"""Where the service answers: running tasks' public and private IPs, and the load balancer's DNS name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.aws_failures import aws_errors
from ci_ecs.batching import Coalescer
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import CiEcsError
from ci_ecs.phases import DRAINING, ROLLOUT, Phases


@dataclass
class Addresses:
    """The addresses of a service's running tasks."""

    public_ips: list[str] = field(default_factory=list)
    private_ips: list[str] = field(default_factory=list)
    load_balancer_dns: str | None = None
    # The RUNNING tasks described on the way (DescribeTasks output), for callers that need more of them.
    tasks: list[dict[str, Any]] = field(default_factory=list)
    # Each running task's own (public IP, private IP), by task ARN (either may be None): what `verify` probes.
    by_task: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def newest_start(self, started_by: str) -> float | None:
        """The latest `startedAt` (epoch seconds) of the running tasks that `started_by` started."""
        stamps = [task["startedAt"].timestamp() for task in self.tasks
                  if task.get("startedBy") == started_by and hasattr(task.get("startedAt"), "timestamp")]
        return max(stamps) if stamps else None


def service_port(definition: dict[str, Any]) -> int | None:
    """The port the service answers on: the first port mapping's host port (or container port)."""
    for container in definition.get("containerDefinitions", []):
        for mapping in container.get("portMappings", []):
            port = mapping.get("hostPort") or mapping.get("containerPort")
            if port:
                return int(port)
    return None


def _eni_ids(task: dict[str, Any]) -> list[str]:
    ids = []
    for attachment in task.get("attachments", []):
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details", []):
            if detail.get("name") == "networkInterfaceId" and detail.get("value"):
                ids.append(str(detail["value"]))
    return ids


def _attachment_private_ips(task: dict[str, Any]) -> list[str]:
    ips = []
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                ips.append(str(detail["value"]))
    return ips


def default_subnets(ec2: Any) -> list[str]:
    """The default VPC's default subnets (used when an awsvpc service names none)."""
    with aws_errors("describe default subnets"):
        pages = ec2.get_paginator("describe_subnets").paginate(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}])
        return sorted(s["SubnetId"] for page in pages for s in page.get("Subnets", []))


# DescribeNetworkInterfaces by ID is not paginated (MaxResults and NetworkInterfaceIds exclude each other, EC2 API
# Reference, DescribeNetworkInterfaces); the reference names no most IDs a call: 100 keeps each answer small.
_INTERFACES_BATCH = 100

Interfaces = Callable[[list[str]], dict[str, dict[str, Any]]]


def describe_interfaces(ec2: Any, eni_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The network interfaces by ID (DescribeNetworkInterfaces, `_INTERFACES_BATCH` IDs a call)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(eni_ids), _INTERFACES_BATCH):
        with aws_errors("describe network interfaces of the tasks"):
            pages = ec2.get_paginator("describe_network_interfaces").paginate(
                NetworkInterfaceIds=eni_ids[start:start + _INTERFACES_BATCH])
            found.update((i["NetworkInterfaceId"], i) for page in pages for i in page.get("NetworkInterfaces", []))
    return found


def batched_interfaces(ec2: Callable[[], Any]) -> Interfaces:
    """`describe_interfaces` shared by threads: the ENIs they ask for at once go out in one call (a `services:`
    deploy's services look their addresses up at the same poll instant)."""
    return Coalescer(lambda ids: describe_interfaces(ec2(), ids)).get


def task_addresses(ec2: Any, tasks: list[dict[str, Any]], interfaces: Interfaces | None = None) -> Addresses:
    """Public and private IPs of RUNNING tasks: task ENI -> DescribeNetworkInterfaces -> Association.PublicIp.

    `interfaces`: how the ENIs are described (default `describe_interfaces` on `ec2`; a `services:` deploy shares
    one batched call among its services, ci_ecs.batching.Coalescer).
    """
    running = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
    addresses = Addresses()
    eni_ids = [eni for task in running for eni in _eni_ids(task)]
    if eni_ids:
        by_id = (interfaces or (lambda ids: describe_interfaces(ec2, ids)))(eni_ids)
        for eni in eni_ids:
            interface = by_id.get(eni, {})
            public = interface.get("Association", {}).get("PublicIp")
            if public:
                addresses.public_ips.append(public)
            if interface.get("PrivateIpAddress"):
                addresses.private_ips.append(interface["PrivateIpAddress"])
        for task in running:
            for eni in _eni_ids(task)[:1]:
                interface = by_id.get(eni, {})
                private = interface.get("PrivateIpAddress") or next(iter(_attachment_private_ips(task)), None)
                addresses.by_task[str(task.get("taskArn"))] = (
                    interface.get("Association", {}).get("PublicIp") or None, private)
    for task in running:
        if not _eni_ids(task):  # bridge/host mode: the task's own private address, when ECS reports one
            own = list(_attachment_private_ips(task))
            for container in task.get("containers", []):
                for interface in container.get("networkInterfaces", []):
                    if interface.get("privateIpv4Address"):
                        own.append(interface["privateIpv4Address"])
            addresses.private_ips.extend(own)
            addresses.by_task[str(task.get("taskArn"))] = (None, own[0] if own else None)
    addresses.public_ips = sorted(set(addresses.public_ips))
    addresses.private_ips = sorted(set(addresses.private_ips))
    return addresses


def load_balancer_dns(elbv2: Any, service: dict[str, Any]) -> str | None:
    """The DNS name of the first load balancer behind the service's target groups, if any."""
    target_groups = [lb["targetGroupArn"] for lb in service.get("loadBalancers", []) if lb.get("targetGroupArn")]
    if not target_groups:
        return None
    with aws_errors("describe the service's target groups"):
        groups = elbv2.describe_target_groups(TargetGroupArns=target_groups[:1])["TargetGroups"]
        arns = [arn for group in groups for arn in group.get("LoadBalancerArns", [])]
        if not arns:
            return None
        balancers = elbv2.describe_load_balancers(LoadBalancerArns=arns[:1])["LoadBalancers"]
    return str(balancers[0]["DNSName"]) if balancers else None


def service_addresses(ecs: EcsGateway, ec2: Any, elbv2: Any, cluster: str, service: dict[str, Any],
                      interfaces: Interfaces | None = None) -> Addresses:
    """The addresses of the service's running tasks and its load balancer (`interfaces`: see `task_addresses`)."""
    name = str(service.get("serviceName"))
    arns = ecs.list_tasks(cluster, service=name, desired_status="RUNNING")
    tasks = ecs.describe_tasks(cluster, arns) if arns else []
    addresses = task_addresses(ec2, tasks, interfaces)
    addresses.tasks = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
    addresses.load_balancer_dns = load_balancer_dns(elbv2, service)
    return addresses


def attribute_draining(recorder: Phases | None, elbv2: Any, service: dict[str, Any]) -> None:
    """Say what a rolling deploy's draining waited on: the deregistration delay of the service's target groups.

    ELB keeps a deregistering target draining for the target group's `deregistration_delay.timeout_seconds`
    (0-3600, default 300; ELBv2 API reference, TargetGroupAttribute) before ECS can stop the task, so that is
    usually where a slow rolling deploy's time goes. One DescribeTargetGroupAttributes per target group, only
    when the rollout had a draining stage; a refused read is said in the phase, never a failure.
    """
    groups = [str(lb["targetGroupArn"]) for lb in service.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    draining = recorder.find(ROLLOUT, stage=DRAINING) if recorder is not None else []
    if not draining or elbv2 is None or not groups:
        return
    delays: dict[str, int] = {}
    try:
        for arn in dict.fromkeys(groups):
            with aws_errors(f"describe target group attributes of {arn}"):
                attributes = elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            value = next((a.get("Value") for a in attributes if a.get("Key") == "deregistration_delay.timeout_seconds"),
                         None)
            delays[arn.split("/")[-2] if arn.count("/") >= 2 else arn] = int(value) if value is not None else 300
    except CiEcsError as exc:
        words = f"old tasks deregistering from their target groups (deregistration delay not read: {exc.message})"
    else:
        words = "old tasks deregistering: " + ", ".join(f"target group {name} deregistration delay {delay} s"
                                                       for name, delay in delays.items())
    for phase in draining:
        phase.waited_on = words
        if delays:
            phase.detail["deregistrationDelaySeconds"] = max(delays.values())
