"""Starting and stopping a service's tasks the way the ECS service scheduler does: a task moto
created made ready to be driven from PROVISIONING, a deployment's task launched in the subnet
with the fewest of the service's tasks, stops asked of the task runtime.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.ecs.models import Container, EC2ContainerServiceBackend, Task

from . import capacity_providers, elb, network
from .context import SandboxContext
from .lifecycle import utcnow
from .service_state import MotoService, MotoTask, add_event, sb_state, service_tasks, short_id


def prepare_task(task: MotoTask, backend: EC2ContainerServiceBackend, ctx: SandboxContext) -> None:
    """Turn a task moto just created into one the scheduler drives from PROVISIONING.

    moto creates tasks already RUNNING and advances them on each DescribeTasks (its
    ManagedState); the sandbox empties the transition table and sets states itself.
    """
    task._transitions = []
    task.sb_service_uid = getattr(task, "sb_service_uid", None)
    task.last_status = "PROVISIONING"
    task.desired_status = "RUNNING"
    now = ctx.now()
    task.sb_created = now
    task.sb_start_seconds = ctx.task_start_seconds
    task.sb_ready = False
    task.sb_failed = False
    task.sb_deployment = getattr(task, "sb_deployment", None)
    task.created_at = utcnow()
    task.connectivity = None
    task.stop_code = None
    task.stopped_reason = None  # moto's "" would show as an empty stoppedReason
    task.health_status = "UNKNOWN"
    task.version = 1
    task_definition = backend.describe_task_definition(task.task_definition_arn)
    task.cpu = task_definition.cpu
    task.memory = task_definition.memory
    if task.launch_type == "FARGATE":
        task.capacity_provider_name = "FARGATE"
        task.platform_version = task.platform_version or "1.4.0"
        task.platform_family = "Linux"
    address = ctx.task_runtime.task_address(task, task_definition)
    network.configure_task_eni(task, getattr(task, "network_configuration", None), address)
    if task.attachments:
        subnet = next((d["value"] for d in task.attachments[0]["details"] if d["name"] == "subnetId"), None)
        if subnet:
            ec2 = network.ec2_backends[task._account_id][task.region_name]
            task.availability_zone = ec2.get_subnet(subnet).availability_zone
    _build_containers(task, task_definition, ctx)
    ctx.task_runtime.prepare(task, task_definition, ctx)


def _build_containers(task: MotoTask, task_definition: Any, ctx: SandboxContext) -> None:
    """One container per definition (moto makes one for the first only)."""
    containers = []
    overrides = {c.get("name"): c for c in (task.overrides or {}).get("containerOverrides", []) or []}
    for definition in task_definition.container_definitions:
        # moto's Container is "abstract" only for CloudFormation; moto builds it the same way.
        container: Any = Container(task_definition)  # type: ignore[abstract]
        container.name = definition.get("name")
        container.image = definition.get("image")
        # DescribeTasks gives a container's cpu and memory as strings, cpu "0" when unset (ECS API
        # reference, Container); moto 5.2.1 would send the task definition's integers.
        container.cpu = str(definition.get("cpu") or 0)
        container.memory = str(definition["memory"]) if definition.get("memory") is not None else None
        container.environment = definition.get("environment")
        container.command = (overrides.get(container.name) or {}).get("command") or definition.get("command")
        container.task_arn = task.task_arn
        container.container_arn = (
            f"arn:aws:ecs:{task.region_name}:{task._account_id}:container/{task.cluster_name}/{task.id}/{uuid.uuid4()}"
        )
        container.last_status = "PENDING"
        container.exitCode = None
        container.health_status = "UNKNOWN"
        container.sb_essential = bool(definition.get("essential", True))
        if task.attachments:
            ip = network.task_private_ip(task)
            container.network_interfaces = [{"attachmentId": task.attachments[0]["id"], "privateIpv4Address": ip}]
        containers.append(container)
    task.containers = containers


def request_stop(task: MotoTask, reason: str, stop_code: str, ctx: SandboxContext) -> None:
    """Ask a task to stop (the task runtime stops its containers); desiredStatus STOPPED now. A task
    registered in target groups drains first (``elb``: its containers stop after the delay)."""
    if elb.before_stop(task, reason, stop_code):
        return
    ctx.task_runtime.request_stop(task, reason, stop_code, ctx)


def advance_task(task: MotoTask, ctx: SandboxContext) -> str | None:
    """Move a task along its lifecycle (``TaskRuntime.advance``): "failed", "running" or None. A
    service's task behind a load balancer is registered there and is ready once healthy there (``elb``)."""
    return elb.after_advance(task, ctx.task_runtime.advance(task, ctx))


def launch_task(
    backend: EC2ContainerServiceBackend, service: MotoService, deployment: dict[str, Any], ctx: SandboxContext
) -> MotoTask:
    """Start one task of a deployment, the way the ECS service scheduler does."""
    cluster = backend._get_cluster(service.cluster_name)
    task_definition = backend.describe_task_definition(deployment["taskDefinition"])
    network_configuration = None
    if task_definition.network_mode == "awsvpc":
        network_configuration = network.with_default_security_groups(
            service._account_id, service.region_name, deployment.get("networkConfiguration") or {}
        )
        network_configuration = _spread(network_configuration, service_tasks(backend, service),
                                        service._account_id, service.region_name)
    # A capacity provider strategy naming a Managed Instances provider: its tasks run like Fargate ones, reported
    # as ECS reports a task on such a provider (Task.launchType MANAGED_INSTANCES, Task.capacityProviderName).
    strategy = getattr(service, "capacity_provider_strategy", None)  # set only when CreateService gave one
    managed = capacity_providers.strategy_provider(backend, strategy)
    launch_type = service.launch_type or (capacity_providers.MANAGED_INSTANCES if managed is not None else "")
    task: MotoTask = Task(
        cluster,
        task_definition,
        None,
        backend._calculate_task_resource_requirements(task_definition),
        backend=backend,
        group=f"service:{service.name}",
        launch_type=launch_type,
        started_by=deployment["id"],
        tags=list(service.tags) if service.propagate_tags == "SERVICE" else [],
        networking_configuration=network_configuration,
        platform_version=deployment.get("platformVersion"),
    )
    if managed is not None:
        task.capacity_provider_name = managed.name
    task.sb_service_uid = sb_state(service)["uid"]
    task.sb_deployment = deployment["id"]
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    prepare_task(task, backend, ctx)
    return task


def _spread(network_configuration: dict[str, Any], tasks: list[MotoTask], account_id: str,
            region: str) -> dict[str, Any]:
    """The configuration with the subnet for the next task first (moto places a task in the first subnet):
    one in the Availability Zone with the fewest live tasks of the service, then the subnet with the fewest;
    ties go to the earlier subnet. ECS spreads a service's Fargate tasks across Availability Zones (Developer
    Guide, "Balancing an Amazon ECS service across Availability Zones": tasks are placed evenly across AZs),
    so two subnets in one AZ share that AZ's share of the tasks."""
    awsvpc = network_configuration.get("awsvpcConfiguration") or {}
    subnets = list(awsvpc.get("subnets") or [])
    if len(subnets) < 2:
        return network_configuration
    zone_of = network.subnet_zones(account_id, region, subnets)
    load = dict.fromkeys(subnets, 0)
    for task in tasks:
        if task.last_status == "STOPPED" or task.desired_status != "RUNNING" or not task.attachments:
            continue
        for detail in task.attachments[0].get("details", []):
            if detail.get("name") == "subnetId" and detail.get("value") in load:
                load[detail["value"]] += 1
    zone_load: dict[str | None, int] = {}
    for subnet, count in load.items():
        zone_load[zone_of.get(subnet)] = zone_load.get(zone_of.get(subnet), 0) + count
    chosen = min(subnets, key=lambda subnet: (zone_load[zone_of.get(subnet)], load[subnet], subnets.index(subnet)))
    ordered = [chosen, *(subnet for subnet in subnets if subnet != chosen)]
    return {**network_configuration, "awsvpcConfiguration": {**awsvpc, "subnets": ordered}}


def stop_tasks(service: MotoService, tasks: list[MotoTask], deployment_id: str, ctx: SandboxContext) -> None:
    """Stop a deployment's tasks as the service scheduler does, with one "has stopped" event."""
    if not tasks:
        return
    for task in tasks:
        request_stop(
            task, f"Scaling activity initiated by (deployment {deployment_id})", "ServiceSchedulerInitiated", ctx
        )
    ids = " ".join(f"(task {short_id(t)})" for t in tasks)
    add_event(service, f"(service {service.name}) has stopped {len(tasks)} running tasks: {ids}.")
