"""Every change the sandbox makes to moto, in one place.

Written against moto 5.2 (the ``sandbox`` extra pins ``>=5.2.1,<5.3``). The moto internals
relied on, and why:

ECS (``moto.ecs.models`` / ``moto.ecs.responses``)
  - ``EC2ContainerServiceResponse.create_service``: moto drops deploymentConfiguration,
    placement and a few other parameters; the wrapper stores them on the Service and replaces
    moto's static deployment with a live one (``scheduler.initialise_service``).
  - ``EC2ContainerServiceResponse.register_task_definition``: ECS's rules moto lacks
    (``taskdef_rules``: Fargate, limits, container references; ``tag_rules``) refuse the request
    first; "0.25 vCPU" / "0.5GB" are stored as ECS
    converts them.
  - ``EC2ContainerServiceResponse.create_service`` / ``update_service``: ``service_rules`` refuse
    what ECS refuses (quota on tasks, placement, capacity providers, network, load balancers, tags).
  - ``EC2ContainerServiceResponse.update_service``: moto drops availabilityZoneRebalancing
    (UPDATE_SERVICE_EXTRAS); the wrapper stores it on the Service, as create_service does.
  - ``EC2ContainerServiceResponse.create_service`` / ``EC2ContainerServiceBackend.update_service``: moto drops
    serviceConnectConfiguration, volumeConfigurations, vpcLatticeConfigurations, gatewayConnectors and
    monitoring; they are stored on the Service (``sb_revision_members``) and echoed by its deployments and
    service revisions (``service_state.REVISION_MEMBERS``); a change starts a new deployment.
  - ``EC2ContainerServiceBackend.update_service``: moto never creates a deployment and sets
    runningCount = desiredCount; the wrapper keeps the deployments, resolves the task
    definition to an ARN and starts a new PRIMARY deployment when ECS would.
  - ``EC2ContainerServiceBackend.delete_service``: DRAINING (tasks stop), then INACTIVE; the service's
    service deployments are deleted with it.
  - ``EC2ContainerServiceBackend.create_service`` / ``run_task``: moto refuses launchType MANAGED_INSTANCES;
    it is handed FARGATE and the service or task gets MANAGED_INSTANCES back (they run like Fargate tasks).
  - ``EC2ContainerServiceResponse.create_capacity_provider``: moto answers HTTP 500 on ``managedInstancesProvider``
    (it reads autoScalingGroupProvider only); ``capacity_providers`` checks, stores and associates such a provider.
    ``put_cluster_capacity_providers`` keeps a cluster's Managed Instances providers (ECS associates them at
    creation). A service on a strategy naming one runs tasks like Fargate ones (``task_control.launch_task``);
    so does RunTask (moto before 5.2.5 does not pass its capacityProviderStrategy on: ``run_task``'s response
    handler hands it over).
  - ``EC2ContainerServiceBackend.list_tasks``: moto ignores serviceName and does not default
    desiredStatus to RUNNING.
  - ``EC2ContainerServiceBackend.run_task`` / ``stop_task``: tasks get the sandbox lifecycle;
    a missing securityGroups no longer raises (ECS uses the VPC's default group).
  - ``EC2ContainerServiceBackend._calculate_task_resource_requirements``: raised a TypeError
    (HTTP 500 on Fargate RunTask) when a container leaves memory to the task level.
  - ``Service._validate_network``: a missing securityGroups key raised a KeyError (HTTP 500).
  - ``EC2ContainerServiceResponse``: the service-deployment operations moto lacks
    (ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
    StopServiceDeployment, ContinueServiceDeployment) are added as methods
    (``deployments.RESPONSE_METHODS``), and the Express Mode operations (``express.RESPONSE_METHODS``:
    Create/Describe/Update/DeleteExpressGatewayService); CreateService/UpdateService refuse the strategy settings
    ECS refuses (``deployment_rules.validate``) and record a service deployment per new deployment.
  - Models: ``Service.deployments``/``events``/``task_definition``, ``backend.tasks``,
    ``Task`` (built with moto's constructor) and ``Container``, ``ManagedState._transitions``.
ECR (``moto.ecr.models`` / ``moto.ecr.responses``)
  - ``ECRBackend.create_repository``: repositoryUri names the sandbox registry.
  - ``describe_images``/``list_images``/``batch_get_image``/``put_image``/``batch_delete_image``:
    the repository is synced from the registry first (``ecr.sync_repository``); PutImage
    writes the manifest to the registry; an immutable-tag conflict says
    ImageTagAlreadyExistsException as AWS does.
  - ``ECRResponse.get_authorization_token``: proxyEndpoint is the registry, expiresAt in 12 h.
EC2: ENIs are created by moto's ``Task`` and adjusted in ``network.py`` (``backend.enis``).
  - ``NetworkInterface.__init__``: moto sets ``private_dns_name`` only in VPCs with DNS
    hostnames, and its ``Task`` reads it, so a task in any other VPC (one made by Terraform,
    say) failed to place with an AttributeError. ECS places tasks in any VPC.

ELBv2: the load balancers' patches (DNSName, listeners' sockets, draining, DescribeTargetHealth) are in
``elb/moto_patches.py`` with the internals they rely on, installed with the forwarder (``elb.start``).

The patches are installed when a Sandbox starts and removed when it stops. Request handlers
run under the sandbox lock (taken by the middleware), so they never race the scheduler; the
registry's HTTP calls are made with the lock released (``SandboxContext.outside_lock``).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.utils import generate_dns_from_ip
from moto.ecr.exceptions import ImageAlreadyExistsException
from moto.ecr.models import ECRBackend
from moto.ecr.responses import ECRResponse
from moto.ecs.exceptions import EcsClientException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.ecs.responses import EC2ContainerServiceResponse

from . import (
    capacity_providers,
    context,
    deployment_rules,
    ecr,
    express,
    network,
    scheduler,
    service_rules,
    service_state,
    task_control,
    taskdef_rules,
)
from . import deployments as service_deployments
from .registry import RegistryError
from .tag_rules import check_tags


class ServiceNotActiveException(ServiceException):
    """ECS's answer to UpdateService on a DRAINING or INACTIVE service."""

    code = "ServiceNotActiveException"
    message = "Service was not ACTIVE."


_ORIGINALS: dict[tuple[type, str], Any] = {}
_install_lock = threading.Lock()

# CreateService parameters moto ignores, and the attribute its serializer reads them from.
CREATE_SERVICE_EXTRAS = {
    "deploymentConfiguration": "deployment_configuration",
    "placementConstraints": "placement_constraints",
    "placementStrategy": "placement_strategy",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "enableExecuteCommand": "enable_execute_command",
    "capacityProviderStrategy": "capacity_provider_strategy",
    # CreateService/UpdateService availabilityZoneRebalancing, echoed by DescribeServices (Service shape).
    "availabilityZoneRebalancing": "availability_zone_rebalancing",
}
# UpdateService parameters moto ignores that are stored the same way (UpdateService leaves an unset one as it is).
UPDATE_SERVICE_EXTRAS = {"availabilityZoneRebalancing": "availability_zone_rebalancing"}


def _original(owner: type, name: str) -> Any:
    return _ORIGINALS.get((owner, name), getattr(owner, name))


def _wrap(owner: type, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__sandbox_patch__ = (owner, name)  # type: ignore[attr-defined]
        _PATCHES.append(func)
        return func

    return decorator


_PATCHES: list[Any] = []  # functions, and staticmethod objects for static moto methods


def _ctx() -> context.SandboxContext | None:
    return context.active()


# ------------------------------------------------------------------------------------- ECS


@_wrap(Service, "_validate_network")
def _validate_network(self: Service, nc: dict[str, Any]) -> dict[str, Any]:
    awsvpc = nc.get("awsvpcConfiguration") or {}
    if "securityGroups" not in awsvpc:
        _original(Service, "_validate_network")(self, {**nc, "awsvpcConfiguration": {**awsvpc, "securityGroups": []}})
        return nc
    result: dict[str, Any] = _original(Service, "_validate_network")(self, nc)
    return result


def _resource_requirements(task_definition: Any) -> dict[str, Any]:
    original = _original(EC2ContainerServiceBackend, "_calculate_task_resource_requirements")
    try:
        result: dict[str, Any] = original(task_definition)
    except TypeError:
        # Fargate containers may leave memory to the task level; moto adds None to an int.
        result = {
            "CPU": int(task_definition.cpu or 0),
            "MEMORY": int(task_definition.memory or 0),
            "PORTS": [],
            "PORTS_UDP": [],
        }
    return result


_resource_requirements.__sandbox_patch__ = (  # type: ignore[attr-defined]
    EC2ContainerServiceBackend,
    "_calculate_task_resource_requirements",
)
_PATCHES.append(staticmethod(_resource_requirements))


@_wrap(EC2ContainerServiceResponse, "create_service")
def _create_service_response(self: EC2ContainerServiceResponse) -> ActionResult:
    if _ctx() is not None:  # ECS refuses bad requests before creating anything
        service_rules.check_create(dict(self._get_params()), self.ecs_backend)
        controller = (self._get_param("deploymentController") or {}).get("type") or "ECS"
        configuration = self._get_param("deploymentConfiguration") or {}
        deployment_rules.validate(configuration, self._get_param("loadBalancers"), controller)
    result: ActionResult = _original(EC2ContainerServiceResponse, "create_service")(self)
    service: Any = result.result["service"]  # type: ignore[index]
    for param, attribute in CREATE_SERVICE_EXTRAS.items():
        value = self._get_param(param)
        if value is not None:
            setattr(service, attribute, value)
    if capacity_providers.strategy_provider(self.ecs_backend, self._get_param("capacityProviderStrategy")):
        # Service.launchType (ECS API reference): "this field is omitted if the service was created using a
        # capacity provider strategy" (moto fills in EC2). Its tasks say MANAGED_INSTANCES (task_control).
        service.launch_type = None
    # Stored before the first deployment, which carries them (service_state.REVISION_MEMBERS).
    service.sb_revision_members = {
        name: self._get_param(name) for name in service_state.REVISION_MEMBERS if self._get_param(name) is not None
    }
    if _ctx() is not None:
        scheduler.initialise_service(service)
        service_deployments.record_new_deployments(service)
    return result


@_wrap(EC2ContainerServiceResponse, "create_capacity_provider")
def _create_capacity_provider_response(self: EC2ContainerServiceResponse) -> ActionResult:
    params = dict(self._get_params())
    if _ctx() is None or params.get("managedInstancesProvider") is None:
        result: ActionResult = _original(EC2ContainerServiceResponse, "create_capacity_provider")(self)
        return result
    capacity_providers.check_create(params, self.ecs_backend)  # ECS refuses before creating anything
    return ActionResult({"capacityProvider": capacity_providers.create(params, self.ecs_backend)})


@_wrap(EC2ContainerServiceResponse, "put_cluster_capacity_providers")
def _put_cluster_capacity_providers_response(self: EC2ContainerServiceResponse) -> ActionResult:
    if _ctx() is None:
        result: ActionResult = _original(EC2ContainerServiceResponse, "put_cluster_capacity_providers")(self)
        return result
    cluster = self.ecs_backend.put_cluster_capacity_providers(
        self._get_param("cluster"),
        capacity_providers.kept_providers(self.ecs_backend, self._get_param("cluster"),
                                          self._get_param("capacityProviders")),
        self._get_param("defaultCapacityProviderStrategy"),
    )
    return ActionResult({"cluster": cluster})


@_wrap(EC2ContainerServiceResponse, "register_task_definition")
def _register_task_definition_response(self: EC2ContainerServiceResponse) -> ActionResult:
    ctx = _ctx()
    if ctx is not None:
        params = dict(self._get_params())
        refused = taskdef_rules.check_limits(params, len(self.body or b"")) or taskdef_rules.check(params, ctx.registry)
        if refused:
            raise EcsClientException(refused)  # before moto registers anything, as ECS does
        tags_refused = check_tags(params.get("tags"))
        if tags_refused:
            raise InvalidParameterException(tags_refused)
    result: ActionResult = _original(EC2ContainerServiceResponse, "register_task_definition")(self)
    if ctx is not None:
        # ECS stores "0.25 vCPU" / "0.5GB" converted to CPU units and MiB.
        task_definition: Any = result.result["taskDefinition"]  # type: ignore[index]
        if task_definition.cpu is not None and taskdef_rules.cpu_units(task_definition.cpu) is not None:
            task_definition.cpu = str(taskdef_rules.cpu_units(task_definition.cpu))
        if task_definition.memory is not None and taskdef_rules.memory_mib(task_definition.memory) is not None:
            task_definition.memory = str(taskdef_rules.memory_mib(task_definition.memory))
    return result


@_wrap(EC2ContainerServiceResponse, "update_service")
def _update_service_response(self: EC2ContainerServiceResponse) -> ActionResult:
    if _ctx() is not None:  # ECS refuses bad requests before changing anything
        service_rules.check_update(dict(self._get_params()), self.ecs_backend)
    result: ActionResult = _original(EC2ContainerServiceResponse, "update_service")(self)
    service: Any = result.result["service"]  # type: ignore[index]
    for param, attribute in UPDATE_SERVICE_EXTRAS.items():
        value = self._get_param(param)
        if value is not None:
            setattr(service, attribute, value)
    return result


@_wrap(EC2ContainerServiceBackend, "update_service")
def _update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Any:
    original = _original(EC2ContainerServiceBackend, "update_service")
    if _ctx() is None:
        return original(self, service_properties)
    props = dict(service_properties)
    name = str(props.get("service", "")).split("/")[-1]
    service: Any = self._get_service(props.get("cluster", "default"), name)
    if service.status != "ACTIVE":
        raise ServiceNotActiveException()
    before = {
        "task_definition": service.task_definition,
        "network_configuration": copy.deepcopy(service.network_configuration),
        "platform_version": service.platform_version,
        "deployment_configuration": dict(service_state.deployment_configuration(service)),
    }
    deployments = service.deployments
    task_definition = (
        self.describe_task_definition(props["task_definition"]).arn
        if props.get("task_definition")
        else before["task_definition"]
    )
    if props.get("network_configuration") is not None:
        service._validate_network(props["network_configuration"])  # fail before anything changes
    deployment_rules.validate(
        {**before["deployment_configuration"], **(props.get("deployment_configuration") or {})},
        props["load_balancers"] if props.get("load_balancers") is not None else service.load_balancers,
        service.deployment_controller.get("type", "ECS"),
    )
    result = original(self, dict(service_properties))
    revision_changed = _update_revision_members(service, props)
    # moto replaced runningCount and the deployment id; the scheduler owns those.
    service.deployments = deployments
    service.task_definition = task_definition
    if props.get("deployment_configuration") is not None:
        service.deployment_configuration = {**before["deployment_configuration"], **props["deployment_configuration"]}
    new_network = props.get("network_configuration")
    new_platform = props.get("platform_version")
    if (
        task_definition != before["task_definition"]
        or props.get("force_new_deployment")
        or (new_network is not None and new_network != before["network_configuration"])
        or (new_platform is not None and new_platform != before["platform_version"])
        or revision_changed
    ):
        service_state.start_deployment(service)
        service_deployments.record_new_deployments(service)
    service_state.refresh_counts(service, service_state.service_tasks(self, service))
    return result


def _update_revision_members(service: Any, props: dict[str, Any]) -> bool:
    """Store the REVISION_MEMBERS an UpdateService gives (one left out stays as it is); True when one
    changed. A change starts a new deployment: the ECS API reference says so of volumeConfigurations ("if
    this configuration differs from the existing one, it triggers a new deployment") and
    vpcLatticeConfigurations ("This parameter triggers a new service deployment"), and the other members
    belong to a service revision (ServiceRevision), which only a new deployment creates."""
    stored = dict(getattr(service, "sb_revision_members", None) or {})
    changed = False
    for name in service_state.REVISION_MEMBERS:
        value = props.get(camelcase_to_underscores(name))
        if value is not None and value != stored.get(name):
            stored[name] = value
            changed = True
    service.sb_revision_members = stored
    return changed


@_wrap(EC2ContainerServiceBackend, "delete_service")
def _delete_service(self: EC2ContainerServiceBackend, cluster_name: str, service_name: str, force: bool) -> Any:
    service: Any = _original(EC2ContainerServiceBackend, "delete_service")(self, cluster_name, service_name, force)
    if _ctx() is not None:
        # ECS drains first: DRAINING while its tasks stop, INACTIVE after (see scheduler).
        service.status = "DRAINING"
        service.desired_count = 0
        # "When you delete a service, Amazon ECS deletes the corresponding service deployments" (developer
        # guide, "View service history using Amazon ECS service deployments").
        service_deployments.forget(service)
    return service


@_wrap(EC2ContainerServiceBackend, "list_tasks")
def _list_tasks(
    self: EC2ContainerServiceBackend,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,  # noqa: N803 - moto's parameter name
) -> list[Any]:
    original = _original(EC2ContainerServiceBackend, "list_tasks")
    if _ctx() is None:
        return list(original(self, cluster_str, container_instance, family, started_by, service_name, desiredStatus))
    # ECS lists tasks whose desired status is RUNNING unless told otherwise.
    tasks = original(self, cluster_str, container_instance, family, started_by, None, desiredStatus or "RUNNING")
    if service_name:
        group = f"service:{service_name.split('/')[-1]}"
        tasks = [t for t in tasks if t.group == group]
    return list(tasks)


# run_task's signature grows between moto patch releases (5.2.5 added capacity_provider_strategy):
# pass everything through and touch only launch_type (7th positional, or by name), networking_configuration
# (8th positional, or by name) and a strategy naming a Managed Instances provider (11th, or by name).
_RUN_TASK_LAUNCH_TYPE_INDEX = 6
_RUN_TASK_NETWORK_INDEX = 7
_RUN_TASK_STRATEGY_INDEX = 10  # capacity_provider_strategy, 11th positional (moto 5.2.5; absent before)
# ECS's launch types (ECS API reference, LaunchType: EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES). moto refuses
# MANAGED_INSTANCES; Managed Instances tasks (awsvpc, on instances ECS manages) run on the sandbox like Fargate
# ones: moto is handed FARGATE and the service or task gets its launch type back.
MANAGED_INSTANCES = "MANAGED_INSTANCES"


_CREATE_SERVICE_LAUNCH_TYPE_INDEX = 8  # create_service's launch_type, 9th positional (how moto's response passes it)


@_wrap(EC2ContainerServiceBackend, "create_service")
def _create_service(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
    positional = list(args)
    managed = _take_managed_instances(positional, kwargs, _CREATE_SERVICE_LAUNCH_TYPE_INDEX)
    service = _original(EC2ContainerServiceBackend, "create_service")(self, *positional, **kwargs)
    if managed:
        service.launch_type = MANAGED_INSTANCES
    return service


@_wrap(EC2ContainerServiceResponse, "run_task")
def _run_task_response(self: EC2ContainerServiceResponse) -> Any:
    token = capacity_providers.REQUESTED_RUN_TASK_STRATEGY.set(self._get_param("capacityProviderStrategy"))
    try:
        return _original(EC2ContainerServiceResponse, "run_task")(self)
    finally:
        capacity_providers.REQUESTED_RUN_TASK_STRATEGY.reset(token)


@_wrap(EC2ContainerServiceBackend, "run_task")
def _run_task(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> list[Any]:
    ctx = _ctx()
    original = _original(EC2ContainerServiceBackend, "run_task")
    if ctx is None:
        return list(original(self, *args, **kwargs))
    positional = list(args)
    managed = _take_managed_instances(positional, kwargs, _RUN_TASK_LAUNCH_TYPE_INDEX)
    provider = capacity_providers.take_run_task_strategy(
        self, positional, kwargs, _RUN_TASK_LAUNCH_TYPE_INDEX, _RUN_TASK_STRATEGY_INDEX)
    if "networking_configuration" in kwargs:
        kwargs["networking_configuration"] = _with_security_groups(self, kwargs["networking_configuration"])
    elif len(positional) > _RUN_TASK_NETWORK_INDEX:
        positional[_RUN_TASK_NETWORK_INDEX] = _with_security_groups(self, positional[_RUN_TASK_NETWORK_INDEX])
    tasks = original(self, *positional, **kwargs)
    for task in tasks:
        if managed or provider is not None:
            task.launch_type = MANAGED_INSTANCES
        if provider is not None:
            task.capacity_provider_name = provider  # Task.capacityProviderName: the provider it runs on
        task_control.prepare_task(task, self, ctx)
    return list(tasks)


def _take_managed_instances(positional: list[Any], kwargs: dict[str, Any], index: int) -> bool:
    """Replace a MANAGED_INSTANCES launch_type (by name, or the ``index``-th positional) by FARGATE, in place;
    True if it was."""
    if kwargs.get("launch_type") == MANAGED_INSTANCES:
        kwargs["launch_type"] = "FARGATE"
        return True
    if len(positional) > index and positional[index] == MANAGED_INSTANCES:
        positional[index] = "FARGATE"
        return True
    return False


def _with_security_groups(backend: EC2ContainerServiceBackend, configuration: Any) -> Any:
    if not configuration:
        return configuration
    return network.with_default_security_groups(backend.account_id, backend.region_name, configuration)


@_wrap(EC2ContainerServiceBackend, "stop_task")
def _stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Any:
    ctx = _ctx()
    cluster = self._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    for arn, task in self.tasks.get(cluster.name, {}).items():
        if ctx is not None and arn.endswith(task_id) and getattr(task, "sb_created", None) is not None:
            task_control.request_stop(task, reason or "Task stopped by user", "UserInitiated", ctx)
            return task
    return _original(EC2ContainerServiceBackend, "stop_task")(self, cluster_str, task_str, reason)


# ------------------------------------------------------------------------------------- ECR


@_wrap(ECRBackend, "create_repository")
def _create_repository(self: ECRBackend, repository_name: str, *args: Any, **kwargs: Any) -> Any:
    repository = _original(ECRBackend, "create_repository")(self, repository_name, *args, **kwargs)
    ctx = _ctx()
    if ctx is not None and ctx.registry is not None:
        repository.uri = f"{ctx.registry.address}/{repository_name}"
    return repository


def _sync(backend: ECRBackend, repository_name: str | None) -> None:
    ctx = _ctx()
    if ctx is None or ctx.registry is None or not repository_name or repository_name not in backend.repositories:
        return
    with ctx.outside_lock():  # registry HTTP calls must not hold up the scheduler and other requests
        snapshot = ecr.fetch_repository(repository_name, ctx.registry)
    repository = backend.repositories.get(repository_name)  # re-read: it may have changed meanwhile
    if repository is not None:
        ecr.apply_snapshot(repository, snapshot)


def _repository_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    return kwargs.get("repository_name") or (args[0] if args else None)


def _synced_read(name: str) -> Callable[..., Any]:
    def wrapper(self: ECRBackend, *args: Any, **kwargs: Any) -> Any:
        _sync(self, _repository_arg(args, kwargs))
        return _original(ECRBackend, name)(self, *args, **kwargs)

    wrapper.__name__ = f"_{name}"
    return _wrap(ECRBackend, name)(wrapper)


for _name in ("describe_images", "list_images", "batch_get_image"):
    _synced_read(_name)


@_wrap(ECRBackend, "put_image")
def _put_image(
    self: ECRBackend,
    repository_name: str,
    image_manifest: str,
    image_tag: str,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> Any:
    _sync(self, repository_name)
    original = _original(ECRBackend, "put_image")
    try:
        image = original(self, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest)
    except ImageAlreadyExistsException:
        repository = self.repositories[repository_name]
        holders = [i for i in repository.images if image_tag in i.image_tags]
        if holders and holders[0].image_manifest != image_manifest:
            raise ecr.ImageTagAlreadyExistsException(repository_name, image_tag) from None
        raise
    ctx = _ctx()
    if ctx is None or ctx.registry is None:
        return image
    media_type = image_manifest_mediatype or json.loads(image_manifest).get("mediaType", "")
    try:
        with ctx.outside_lock():
            pushed = ctx.registry.put_manifest(
                repository_name, image_tag or image.get_image_digest(), image_manifest, media_type
            )
    except RegistryError as err:
        _sync(self, repository_name)  # forget what moto added: the registry refused it
        raise ecr.LayersNotFoundException(repository_name, str(err)) from None
    _sync(self, repository_name)
    for synced in self.repositories[repository_name].images:
        if synced.get_image_digest() == pushed:
            synced.image_tag = image_tag
            return synced
    return image


@_wrap(ECRBackend, "batch_delete_image")
def _batch_delete_image(self: ECRBackend, *args: Any, **kwargs: Any) -> Any:
    repository_name = _repository_arg(args, kwargs)
    _sync(self, repository_name)
    repository = self.repositories.get(repository_name or "")
    before = {i.get_image_digest() for i in repository.images} if repository else set()
    result = _original(ECRBackend, "batch_delete_image")(self, *args, **kwargs)
    ctx = _ctx()
    if ctx is not None and ctx.registry is not None and repository is not None and repository_name:
        after = {i.get_image_digest() for i in repository.images}
        with ctx.outside_lock():
            for gone in before - after:
                ctx.registry.delete_manifest(repository_name, gone)
        # distribution 2.8 cannot remove one tag of several: such a tag comes back on the next sync.
        _sync(self, repository_name)
    return result


@_wrap(ECRResponse, "get_authorization_token")
def _get_authorization_token(self: ECRResponse) -> ActionResult:
    registry_ids = self._get_param("registryIds") or [self.current_account]
    ctx = _ctx()
    registry = ctx.registry if ctx is not None else None
    return ActionResult({"authorizationData": ecr.authorization_data(registry_ids, self.region, registry)})


# ------------------------------------------------------------------------------- install


@_wrap(NetworkInterface, "__init__")
def _network_interface_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original(NetworkInterface, "__init__")(self, *args, **kwargs)
    if not hasattr(self, "private_dns_name"):
        self.private_dns_name = generate_dns_from_ip(self.private_ip_address)


def install() -> None:
    """Apply every patch (idempotent)."""
    with _install_lock:
        for func in _PATCHES:
            owner, name = getattr(getattr(func, "__func__", func), "__sandbox_patch__")  # noqa: B009
            if (owner, name) not in _ORIGINALS:
                _ORIGINALS[(owner, name)] = owner.__dict__[name]
                setattr(owner, name, func)
        for name, method in {**service_deployments.RESPONSE_METHODS, **express.RESPONSE_METHODS}.items():
            setattr(EC2ContainerServiceResponse, name, method)  # operations moto lacks


def uninstall() -> None:
    """Restore moto's own methods."""
    with _install_lock:
        for (owner, name), original in list(_ORIGINALS.items()):
            setattr(owner, name, original)
            del _ORIGINALS[(owner, name)]
        for name in {**service_deployments.RESPONSE_METHODS, **express.RESPONSE_METHODS}:
            if name in EC2ContainerServiceResponse.__dict__:
                delattr(EC2ContainerServiceResponse, name)
