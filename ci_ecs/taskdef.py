"""Task definitions: render (config or native file) -> normalise -> diff -> register only when different."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_ecs.act import Step, would
from ci_ecs.config import TaskConfig, cpu_units, memory_mib
from ci_ecs.diff import Change, diff_values, strip_empty
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import AwsUnavailableError, ConfigError
from ci_ecs.imageref import is_image_placeholder, parse_image_ref
from ci_ecs.redact import looks_secret, register_secret
from ci_ecs.task_files import base_definition, drop_nulls, read_only_fields, read_task_file

log = logging.getLogger(__name__)


def _container_from_config(container: Any, image: str | None, region: str | None, *, key: str = "task.containers"
                           ) -> dict[str, Any]:
    """One containerDefinitions entry from a concise config container (`key` its config key, for errors)."""
    definition: dict[str, Any] = {
        "name": container.name,
        "image": container.image or image,
        "essential": container.essential,
        "cpu": container.cpu,
        "memory": container.memory,
        "memoryReservation": container.memory_reservation,
        "portMappings": [strip_empty({"containerPort": p.container_port, "hostPort": p.host_port,
                                      "protocol": p.protocol, "name": p.name, "appProtocol": p.app_protocol})
                         for p in container.port_mappings],
        "environment": [{"name": k, "value": v} for k, v in container.environment.items()],
        "secrets": [{"name": k, "valueFrom": v} for k, v in container.secrets.items()],
        "command": container.command,
        "entryPoint": container.entry_point,
        "workingDirectory": container.working_dir,
        "user": container.user,
        "dockerLabels": container.docker_labels,
        "readonlyRootFilesystem": container.readonly_root_filesystem,
        "stopTimeout": container.stop_timeout,
        "versionConsistency": container.version_consistency,
    }
    # Only when set: a native `extra` field of the same name then keeps its place after the modelled ones.
    parts = {"restartPolicy": _restart_policy(container.restart_policy),
             "healthCheck": _health_check(container.health_check),
             "logConfiguration": _log_configuration(container.logs, region)}
    definition.update({name: part for name, part in parts.items() if part is not None})
    return _with_extra(definition, container.extra, key)


def _restart_policy(policy: Any) -> dict[str, Any] | None:
    """A container's restartPolicy (`restart_policy`), None when it has none."""
    if not policy:
        return None
    return {"enabled": policy.enabled, "ignoredExitCodes": policy.ignored_exit_codes,
            "restartAttemptPeriod": policy.restart_attempt_period}


def _health_check(check: Any) -> dict[str, Any] | None:
    """A container's healthCheck (`health_check`), None when it has none."""
    if not check:
        return None
    return {"command": check.command, "interval": check.interval, "timeout": check.timeout,
            "retries": check.retries, "startPeriod": check.start_period}


def _log_configuration(logs: Any, region: str | None) -> dict[str, Any] | None:
    """A container's awslogs logConfiguration (`logs`), None when it has none."""
    if not logs:
        return None
    options = {"awslogs-group": logs.group, "awslogs-stream-prefix": logs.stream_prefix}
    if logs.region or region:
        options["awslogs-region"] = str(logs.region or region)
    if logs.create_group:
        options["awslogs-create-group"] = "true"
    return {"logDriver": "awslogs", "options": options}


def _with_extra(definition: dict[str, Any], extra: dict[str, Any], key: str) -> dict[str, Any]:
    """`definition` (a rendered container) with `extra`, the native fields ci-ecs does not model.

    One it does model, and sets here (the image above all: the JSON result names the image the task runs),
    would silently win over the config's own key or the flags (issue 22): exit 2 naming it instead.
    """
    modelled = strip_empty(definition)
    clashes = sorted(name for name in extra if name in modelled or name in ("name", "image"))
    if clashes:
        raise ConfigError(f"{clashes[0]} is set by ci-ecs itself (the container's own key"
                          f"{' or --image' if clashes[0] == 'image' else ''}): remove it from extra",
                          key=f"{key}.extra.{clashes[0]}")
    return strip_empty({**definition, **extra})


def _image_containers(definitions: list[dict[str, Any]], wanted: list[str], image: str) -> list[str]:
    names = [str(c.get("name")) for c in definitions]
    if wanted:
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ConfigError(f"no container named {', '.join(unknown)} (containers: {', '.join(names)})",
                              key="task.image_containers")
        return wanted
    if len(definitions) == 1:
        return names
    repository = parse_image_ref(image).repository
    matching = []
    for container in definitions:
        current = str(container.get("image", ""))
        if is_image_placeholder(current):
            matching.append(str(container.get("name")))
            continue
        try:
            if parse_image_ref(current).repository == repository:
                matching.append(str(container.get("name")))
        except ValueError:
            continue
    if not matching:
        raise ConfigError("cannot tell which container gets the image: set task.image_containers "
                          f"(containers: {', '.join(names)})", key="task.image_containers")
    return matching


def _concise_targets(task: TaskConfig, image: str | None, wanted: list[str]) -> set[str]:
    """Containers that get the deployed image: the named ones, else those without an image of their own.

    When every container names its image, a deployed image (`--image`) goes where `_image_containers`
    finds it a home: the only container, or the ones with the same repository.
    """
    if image is None:
        return set()
    without_image = {c.name for c in task.containers if c.image is None}
    if without_image and not wanted:
        return without_image
    definitions = [{"name": c.name, "image": c.image} for c in task.containers]
    return set(_image_containers(definitions, wanted, image))


def _units(value: Any, parse: Any, what: str, key: str, source: str | None) -> Any:
    """`value` in ECS's units (cpu units, MiB), or a ConfigError naming `key`."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{what} {json.dumps(value)[:40]} is not a number", key=key, source=source)
    try:
        return parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}", key=key, source=source) from None


def to_ecs_units(definition: dict[str, Any], task: TaskConfig) -> dict[str, Any]:
    """`definition` with task cpu/memory as ECS's unit strings and container cpu/memory as integers.

    The documented spellings ("0.25 vCPU", "0.5GB", "1 GB") become what DescribeTaskDefinition
    returns ("256", "512", "1024"); container-level cpu/memory/memoryReservation, which the API
    types as integers, become integers ("512" -> 512). An unrendered template ("${CPU}") is a
    ConfigError naming the key.

    >>> from ci_ecs.config import TaskConfig
    >>> to_ecs_units({"cpu": "0.25 vCPU", "memory": "0.5GB", "containerDefinitions": [{"memory": "128"}]},
    ...              TaskConfig(family="f", containers=[{"name": "web", "image": "nginx"}]))
    {'cpu': '256', 'memory': '512', 'containerDefinitions': [{'memory': 128}]}
    """
    source = task.file if task.file else None
    for name, parse in (("cpu", cpu_units), ("memory", memory_mib)):
        if name in definition:
            from_config = getattr(task, name) is not None or not task.file
            key = f"task.{name}" if from_config else "task.file"
            definition[name] = str(_units(definition[name], parse, name, key,
                                          None if from_config else source))
    for index, container in enumerate(definition.get("containerDefinitions", [])):
        for name, parse in (("cpu", cpu_units), ("memory", memory_mib), ("memoryReservation", memory_mib)):
            if name in container and not (isinstance(container[name], int)
                                          and not isinstance(container[name], bool)):
                key = "task.file" if task.file else f"task.containers[{index}].extra"
                where = f"containerDefinitions[{container.get('name', index)}].{name}"
                container[name] = _units(container[name], parse, where, key, source)
    return definition


def _named_images(names: list[str], images: dict[str, str]) -> None:
    unknown = [name for name in images if name not in names]
    if unknown:
        raise ConfigError(f"no container named {', '.join(unknown)} for its image (containers: {', '.join(names)})",
                          key="task.images")


def _env_targets(names: list[str], wanted: list[str], imaged: list[str]) -> list[str]:
    """Containers that get `environment_overrides`: the named ones, else those given an image, else the only one."""
    if wanted:
        return wanted
    if imaged:
        return imaged
    if len(names) == 1:
        return names
    # Named by the flag the user typed (--env / CI_ECS_ENV): task.environment_overrides is no key of the file.
    raise ConfigError("the task has several containers and none is named for the variables: name it with "
                      f"--container-name (CI_ECS_CONTAINER_NAME) or task.image_containers (containers: "
                      f"{', '.join(names)})", key="--env")


def _apply_environment(container: dict[str, Any], overrides: dict[str, str]) -> None:
    """Set `overrides` in a container's environment: same names replaced in place, new ones appended."""
    environment = [dict(item) for item in container.get("environment") or [] if isinstance(item, dict)]
    names = {str(item.get("name")): index for index, item in enumerate(environment)}
    for name, value in overrides.items():
        if looks_secret(name, value):
            register_secret(value)  # masked in every log line and error message from now on
        if name in names:
            environment[names[name]]["value"] = value
        else:
            environment.append({"name": name, "value": value})
    container["environment"] = environment


def render(task: TaskConfig, image: str | None, *, base_dir: Path = Path("."), region: str | None = None,
           base: dict[str, Any] | None = None, images: dict[str, str] | None = None) -> dict[str, Any]:
    """The RegisterTaskDefinition input for `task`, with `image` in the containers that take it.

    `base` is the revision a `task.definition` family names (DescribeTaskDefinition's answer), used like
    a native file; `images` the per-container images to use instead of `task.images` (e.g. their tags
    resolved to digests). `task.environment_overrides` go into the image containers.

    >>> from ci_ecs.config import TaskConfig
    >>> render(TaskConfig(family="f", containers=[{"name": "web"}]), "nginx:1")["containerDefinitions"]
    [{'name': 'web', 'image': 'nginx:1', 'essential': True}]
    """
    named = dict(task.images if images is None else images)
    if base is not None:
        return _render_native(task, base_definition(base), image, named)
    if task.file:
        return _render_native(task, read_task_file(base_dir / task.file, keep_nulls=task.keep_null_value_keys),
                              image, named)
    return _render_concise(task, image, named, region)


def _render_native(task: TaskConfig, definition: dict[str, Any], image: str | None,
                   named: dict[str, str]) -> dict[str, Any]:
    """A native definition (a file, or the revision `task.definition` names) with the images, the environment
    overrides and the config's task-level values set."""
    wanted = list(task.image_containers)
    containers = definition["containerDefinitions"]
    names = [str(c.get("name")) for c in containers]
    _named_images(names, named)
    imaged = [n for n in _image_containers(containers, wanted, image) if n not in named] if image else []
    for container in containers:
        if container.get("name") in imaged:
            container["image"] = image
        if container.get("name") in named:
            container["image"] = named[str(container.get("name"))]
    if task.environment_overrides:
        targets = _env_targets(names, wanted, imaged + [n for n in names if n in named])
        for container in containers:
            if container.get("name") in targets:
                _apply_environment(container, task.environment_overrides)
    missing = [str(c.get("name")) for c in containers if is_image_placeholder(c.get("image"))]
    if missing:
        raise ConfigError(f"container {', '.join(missing)} has no image (give --image or image.tag)",
                          key="task.file")
    definition.update(strip_empty(_task_overlay(task)))
    if not definition.get("family"):
        raise ConfigError("the task definition file has no family (set task.family)", key="task.family")
    return to_ecs_units(definition, task)


def _task_overlay(task: TaskConfig) -> dict[str, Any]:
    """The task-level values the config sets over a native definition's."""
    return {"family": task.family, "cpu": task.cpu, "memory": task.memory, "networkMode": task.network_mode,
            "requiresCompatibilities": task.requires_compatibilities, "executionRoleArn": task.execution_role_arn,
            "taskRoleArn": task.task_role_arn}


def _render_concise(task: TaskConfig, image: str | None, named: dict[str, str],
                    region: str | None) -> dict[str, Any]:
    """The definition of a concise `task:` section: its containers, then the task level around them."""
    wanted = list(task.image_containers)
    names = [c.name for c in task.containers]
    _named_images(names, named)
    image_targets = _concise_targets(task.model_copy(update={"containers": [
        c.model_copy(update={"image": named.get(c.name, c.image)}) for c in task.containers]}), image, wanted)
    env_targets = (_env_targets(names, wanted, [n for n in names if n in image_targets or n in named])
                   if task.environment_overrides else [])
    containers = []
    for index, container in enumerate(task.containers):
        container_image = named.get(container.name) or (image if container.name in image_targets
                                                         else container.image)
        if container_image is None:
            raise ConfigError(f"container {container.name} has no image (give --image or image.tag)",
                              key="task.containers")
        rendered = _container_from_config(container.model_copy(update={"image": container_image}), None, region,
                                          key=f"task.containers[{index}]")
        if container.name in env_targets:
            _apply_environment(rendered, task.environment_overrides)
        containers.append(rendered)
    return to_ecs_units(strip_empty(_task_level(task, containers)), task)


def _task_level(task: TaskConfig, containers: list[dict[str, Any]]) -> dict[str, Any]:
    """The task-level members of a concise task's definition around its rendered `containers`; `volumes` go
    as the config has them (ECS's own shape)."""
    definition: dict[str, Any] = {
        "family": task.family,
        "taskRoleArn": task.task_role_arn,
        "executionRoleArn": task.execution_role_arn,
        "networkMode": task.network_mode,
        "containerDefinitions": containers,
        "volumes": task.volumes,
        "requiresCompatibilities": task.requires_compatibilities,
        "cpu": task.cpu,
        "memory": task.memory,
    }
    if task.runtime_platform:
        definition["runtimePlatform"] = {"cpuArchitecture": task.runtime_platform.cpu_architecture,
                                         "operatingSystemFamily": task.runtime_platform.operating_system_family}
    if task.ephemeral_storage_gib:
        definition["ephemeralStorage"] = {"sizeInGiB": task.ephemeral_storage_gib}
    return definition


def validate_registration(definition: dict[str, Any]) -> None:
    """Check `definition` against botocore's RegisterTaskDefinition input shape, before any call.

    The pre-flight's model check (ci_ecs.preflight.model): a typo in a native file ("unknown member") becomes
    a ConfigError (a PreflightError carrying every problem).
    """
    from ci_ecs.preflight.model import check_params  # botocore's model is loaded when a definition is checked
    from ci_ecs.preflight.problems import raise_problems

    raise_problems(check_params("RegisterTaskDefinition", definition, lambda path: ("task", None)))


# Values ECS fills in when a field is left out (DescribeTaskDefinition returns them): equal to unset.
# Container defaults: ContainerDefinition (essential true, cpu 0); HealthCheck (interval 30, timeout 5,
# retries 3, startPeriod 0); PortMapping (protocol tcp); versionConsistency "enabled" (API reference).
_CONTAINER_DEFAULTS: dict[str, Any] = {"essential": True, "cpu": 0, "versionConsistency": "enabled"}
_HEALTH_CHECK_DEFAULTS: dict[str, Any] = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}


def _without_defaults(value: Any) -> Any:
    """Drop what ECS treats as unset, at every depth: None, false, empty lists and maps.

    Every boolean in a task definition defaults to false except a container's `essential` (whose
    default, true, the caller drops), so an explicit false and an absent field are the same definition.
    """
    if isinstance(value, dict):
        out = {k: _without_defaults(v) for k, v in value.items()}
        return {k: v for k, v in out.items()
                if v is not None and (v is not False or k == "essential") and v != [] and v != {}}
    if isinstance(value, list):
        return [_without_defaults(v) for v in value]
    return value


def _normalise_container(container: dict[str, Any], network_mode: str) -> dict[str, Any]:
    out = copy.deepcopy(container)
    for key, default in _CONTAINER_DEFAULTS.items():
        # `type` too: False == 0 in Python, and an explicit cpu of false is not ECS's 0.
        if key in out and out[key] == default and type(out[key]) is type(default):
            del out[key]
    mappings = []
    for mapping in out.get("portMappings", []) or []:
        mapping = dict(mapping)
        if mapping.get("protocol") == "tcp":
            del mapping["protocol"]
        # awsvpc/host: hostPort is the containerPort; bridge: 0 asks for a dynamic port, as when unset.
        if mapping.get("hostPort") == (mapping.get("containerPort") if network_mode in ("awsvpc", "host") else 0):
            del mapping["hostPort"]
        mappings.append(mapping)
    out["portMappings"] = mappings
    check = out.get("healthCheck")
    if isinstance(check, dict):
        out["healthCheck"] = {k: v for k, v in check.items() if _HEALTH_CHECK_DEFAULTS.get(k, object()) != v}
    for key in ("environment", "secrets"):
        if out.get(key):
            out[key] = sorted(out[key], key=lambda item: str(item.get("name")))
    return out


def normalise(definition: dict[str, Any]) -> dict[str, Any]:
    """The comparable form of a task definition: only what RegisterTaskDefinition takes, ECS's defaults dropped.

    Works the same on a rendered definition and on what DescribeTaskDefinition returns (wrapped in
    `taskDefinition` or not), so equal definitions compare equal: read-only members (botocore's
    describe shape minus the register shape) and `tags` go, units are ECS's, and what ECS fills in
    (false, empty lists and maps, essential true, cpu 0, protocol tcp, health-check timings) is unset.

    >>> normalise({"family": "f", "cpu": "0.25 vCPU", "revision": 3, "enableFaultInjection": False,
    ...            "containerDefinitions": [{"name": "a", "essential": True, "cpu": 0, "mountPoints": []}]})
    {'family': 'f', 'cpu': '256', 'containerDefinitions': [{'name': 'a'}], 'networkMode': 'bridge'}
    """
    out = copy.deepcopy(definition)
    if isinstance(out.get("taskDefinition"), dict):
        out = out["taskDefinition"]
    out = drop_nulls(out)
    for name in read_only_fields():
        out.pop(name, None)
    out.pop("tags", None)  # tags are set on register but not a reason for a new revision
    network_mode = out.get("networkMode") or "bridge"
    out["networkMode"] = network_mode
    for name, parse in (("cpu", cpu_units), ("memory", memory_mib)):
        if out.get(name) is not None:
            # Left as written when it does not parse: validation reports it before a comparison matters.
            with contextlib.suppress(ValueError):
                out[name] = str(parse(str(out[name])))
    if out.get("requiresCompatibilities"):
        out["requiresCompatibilities"] = sorted(out["requiresCompatibilities"])
    out["containerDefinitions"] = [_normalise_container(c, network_mode) if isinstance(c, dict) else c
                                   for c in out.get("containerDefinitions", [])]
    return dict(_without_defaults(out))


def diff_task_definitions(current: dict[str, Any] | None, desired: dict[str, Any]) -> list[Change]:
    """What registering `desired` would change compared with `current` (None: no revision yet)."""
    if current is None:
        return [Change("taskDefinition", new=normalise(desired).get("family"))]
    return diff_values(normalise(current), normalise(desired))


@dataclass
class TaskDefinitionResult:
    """What ensure_task_definition found or did."""

    arn: str
    registered: bool
    family: str
    revision: int | None
    changes: list[Change] = field(default_factory=list)
    previous_arn: str | None = None


_FETCH: Any = object()
# RegisterTaskDefinition is not idempotent (each call is a new revision) and takes no client token (ECS API
# reference, RegisterTaskDefinition). When its answer is lost after the request was sent, ci_ecs.aws_guard keeps
# botocore from sending it again (NOT_RESENT_OPERATIONS) and _register looks for the revision it may have made
# before sending again, at most this many times in all.
_REGISTER_SENDS = 3


def _register(ecs: EcsGateway, params: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Register `params` once: after a lost answer, a revision newer than `current` with the same content is
    the one the lost call made (or an identical one someone registered since: either serves)."""
    family = str(params["family"])
    after = int((current or {}).get("revision") or 0)
    for send in range(1, _REGISTER_SENDS + 1):
        try:
            return ecs.register_task_definition(params)
        except AwsUnavailableError as exc:
            if not exc.maybe_done or send == _REGISTER_SENDS:
                raise
            found = ecs.latest_task_definition(family)
            if found is not None and int(found.get("revision") or 0) > after and \
                    not diff_task_definitions(found, params):
                log.warning("task definition %s: the answer to RegisterTaskDefinition was lost; revision %s, "
                            "registered since with the same content, is used (nothing registered twice)",
                            family, found.get("revision"))
                return found
            log.warning("task definition %s: the answer to RegisterTaskDefinition was lost and no revision was "
                        "registered since: sending it again", family)
    raise AssertionError("unreachable")  # the last send returns or raises


def ensure_task_definition(ecs: EcsGateway, desired: dict[str, Any], *, tags: dict[str, str] | None = None,
                           current: Any = _FETCH) -> Step[TaskDefinitionResult]:
    """Register `desired` only when it differs from the latest ACTIVE revision of its family (a step, ci_ecs.act).

    `current` is that revision when the caller has just described it (a `task.definition` family's base),
    so it is not described twice. Safe to call twice: the second call finds the revision the first
    registered and registers nothing.
    """
    family = str(desired["family"])
    if current is _FETCH:
        current = ecs.latest_task_definition(family)
    changes = diff_task_definitions(current, desired)
    previous_arn = current["taskDefinitionArn"] if current else None
    if current is not None and not changes:
        log.info("task definition %s:%s unchanged", family, current.get("revision"))
        return TaskDefinitionResult(current["taskDefinitionArn"], False, family, current.get("revision"),
                                    [], previous_arn)
    yield would(TaskDefinitionResult(f"{family}:(new)", True, family, None, changes, previous_arn), log,
                "task definition %s: would register a new revision (%d change(s))", family, len(changes))
    params = dict(desired)
    if tags:
        # The definition's own tags (a native file's) stay; `tags` adds the keys it lacks (a preview's own).
        own = list(params.get("tags") or [])
        have = {str(t.get("key")) for t in own}
        params["tags"] = own + [{"key": k, "value": v} for k, v in tags.items() if k not in have]
    registered = _register(ecs, params, current)
    log.info("task definition %s:%s registered (%s)", family, registered.get("revision"),
             "new family" if current is None else f"{len(changes)} change(s)")
    return TaskDefinitionResult(registered["taskDefinitionArn"], True, family, registered.get("revision"),
                                changes, previous_arn)
