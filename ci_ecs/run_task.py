"""`ci-ecs run-task`: a one-off task (a database migration, a batch job) from the deploy's config.

The task definition goes through deploy's step (registered only when it differs from the latest ACTIVE
revision); the task runs where the service's tasks run (its network configuration and launch type or
capacity provider strategy, with the config's `service:` and `run_task:` keys laid over them), and its
outcome is its essential containers' exit codes, as ECS reports them (Container.exitCode).
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ci_ecs.act import act
from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.cluster import ensure_cluster
from ci_ecs.config import Config, RunTaskSettings, ServiceConfig, ServiceEntry
from ci_ecs.deploy import Deployer
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import CiEcsError, ConfigError, DeployCancelledError, DeploymentFailedError, DeployTimeoutError
from ci_ecs.follow.loop import poll_interval
from ci_ecs.follow.state import describe_stop
from ci_ecs.logs import tail
from ci_ecs.network import default_subnets
from ci_ecs.preflight.rules import inferred_launch_type
from ci_ecs.task_files import read_task_file

log = logging.getLogger(__name__)

# RunTask's `startedBy`: how the tasks ci-ecs started are told from a service's (whose startedBy is a
# deployment id) in ListTasks(startedBy=...) and the console.
STARTED_BY = "ci-ecs"
# RunTask starts at most 10 tasks per call (API reference, RunTask count).
MAX_COUNT = 10
DEFAULT_LOG_LINES = 20


@dataclass(frozen=True)
class RunOptions:
    """What the command line asks of the task, besides the config."""

    command: str | None = None  # split like a shell would (shlex)
    container_name: str | None = None  # default: the image container
    environment: dict[str, str] = field(default_factory=dict)
    count: int = 1
    log_lines: int = DEFAULT_LOG_LINES


@dataclass
class RunTaskResult:
    """The outcome of `ci-ecs run-task`; `as_json()` is its `--output json` object."""

    cluster: str
    taskArn: str | None = None  # noqa: N815 - the JSON contract's names
    taskDefinitionArn: str | None = None  # noqa: N815
    taskDefinitionRegistered: bool = False  # noqa: N815
    containerName: str | None = None  # noqa: N815
    lastStatus: str | None = None  # noqa: N815
    stopCode: str | None = None  # noqa: N815
    stoppedReason: str | None = None  # noqa: N815
    # The command's container's exit code (None: it did not exit, or never started).
    exitCode: int | None = None  # noqa: N815
    containers: list[dict[str, Any]] = field(default_factory=list)
    durationSeconds: float = 0.0  # noqa: N815
    # With --count > 1: each task as above (taskArn, lastStatus, stopCode, stoppedReason, containers).
    tasks: list[dict[str, Any]] = field(default_factory=list)
    apiCalls: dict[str, int] = field(default_factory=dict)  # noqa: N815
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object `run-task --output json` prints."""
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """A few human lines for stdout."""
        state = "registered" if self.taskDefinitionRegistered else "unchanged"
        lines = [f"task definition: {str(self.taskDefinitionArn).rsplit('/', 1)[-1]} ({state})"] \
            if self.taskDefinitionArn else []
        for task in self.tasks:
            line = f"task {str(task.get('taskArn')).rsplit('/', 1)[-1]}: {task.get('lastStatus')}"
            codes = [f"{c['name']}={c['exitCode']}" for c in task.get("containers", [])
                     if c.get("exitCode") is not None]
            if codes:
                line += f" (exit codes {', '.join(codes)})"
            lines.append(line)
        lines.extend(f"warning: {warning}" for warning in self.warnings)
        return lines


# --- pure parts ------------------------------------------------------------------------------------

def split_command(command: str) -> list[str]:
    """`--command` as ECS's `command` list, split as a POSIX shell would split it (no expansion).

    >>> split_command("python manage.py migrate --database 'main db'")
    ['python', 'manage.py', 'migrate', '--database', 'main db']
    """
    try:
        return shlex.split(command)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise ConfigError(f"cannot split the command like a shell: {exc}", key="--command") from None


def _layer(params: dict[str, Any], vpc: dict[str, Any], settings: ServiceConfig | RunTaskSettings) -> None:
    """Lay the keys `settings` sets over RunTask's placement (a launch type replaces a strategy and back)."""
    if settings.launch_type:
        params["launchType"] = settings.launch_type
        params.pop("capacityProviderStrategy", None)
    if settings.capacity_provider_strategy:
        params["capacityProviderStrategy"] = [
            {"capacityProvider": c.capacity_provider, "weight": c.weight, "base": c.base}
            for c in settings.capacity_provider_strategy]
        params.pop("launchType", None)
    if settings.platform_version:
        params["platformVersion"] = settings.platform_version
    if settings.subnets:
        vpc["subnets"] = sorted(settings.subnets)
    if settings.security_groups:
        vpc["securityGroups"] = sorted(settings.security_groups)
    if settings.assign_public_ip is not None:
        vpc["assignPublicIp"] = "ENABLED" if settings.assign_public_ip else "DISABLED"


def placement(definition: dict[str, Any], current: dict[str, Any] | None, service: ServiceConfig,
              run_task: RunTaskSettings, default_subnets: Callable[[], list[str]]) -> dict[str, Any]:
    """RunTask's launch type / capacity provider strategy, platform version and network configuration.

    The service's own (as ECS describes it, when it exists), then the config's `service:` keys, then
    `run_task:`'s. An awsvpc task with no subnets from any of them gets the default VPC's, as a new
    service would; with neither a launch type nor a strategy, a FARGATE-only definition runs on FARGATE
    (RunTask would otherwise use the cluster's default capacity provider strategy, or EC2).

    >>> placement({"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"]}, None,
    ...           ServiceConfig(subnets=["subnet-1"]), RunTaskSettings(assign_public_ip=True), lambda: [])
    {'launchType': 'FARGATE', 'networkConfiguration': {'awsvpcConfiguration': {'subnets': ['subnet-1'], \
'assignPublicIp': 'ENABLED'}}}
    """
    params: dict[str, Any] = {}
    vpc: dict[str, Any] = {}
    if current:
        if current.get("capacityProviderStrategy"):
            params["capacityProviderStrategy"] = [dict(c) for c in current["capacityProviderStrategy"]]
        elif current.get("launchType"):
            params["launchType"] = current["launchType"]
        if current.get("platformVersion"):
            params["platformVersion"] = current["platformVersion"]
        vpc = dict(((current.get("networkConfiguration") or {}).get("awsvpcConfiguration")) or {})
    _layer(params, vpc, service)
    _layer(params, vpc, run_task)
    if "launchType" not in params and "capacityProviderStrategy" not in params:
        inferred = inferred_launch_type(definition, ServiceConfig())
        if inferred:
            params["launchType"] = inferred
    if params.get("launchType") not in (None, "FARGATE"):
        params.pop("platformVersion", None)  # RunTask: platformVersion is for Fargate tasks only
    if (definition.get("networkMode") or "bridge") == "awsvpc":
        if not vpc.get("subnets"):
            vpc["subnets"] = sorted(default_subnets())
        if not vpc["subnets"]:
            raise ConfigError("no subnets: the service has none, the config names none (run_task.subnets) and "
                              "the region has no default VPC subnets", key="run_task.subnets")
        params["networkConfiguration"] = {"awsvpcConfiguration": vpc}
    return params


def image_container(definition: dict[str, Any], image_containers: list[str], image_uri: str | None,
                    concise_imageless: list[str]) -> str:
    """The container `--command` goes to by default: the one that gets the deployed image.

    `task.image_containers` (--container-name of deploy) first, then the container whose image is the
    deployed image, then a concise container without an image of its own, then the first essential one.
    """
    names = [str(c["name"]) for c in definition.get("containerDefinitions", [])]
    for wanted in (*image_containers, *concise_imageless):
        if wanted in names:
            return wanted
    for container in definition.get("containerDefinitions", []):
        if image_uri and container.get("image") == image_uri:
            return str(container["name"])
    for container in definition.get("containerDefinitions", []):
        if container.get("essential", True):
            return str(container["name"])
    return names[0]


def overrides(container: str, command: list[str] | None, environment: dict[str, str]) -> dict[str, Any]:
    """RunTask's `overrides` for the one container the command goes to ({} when nothing is overridden)."""
    override: dict[str, Any] = {}
    if command:
        override["command"] = command
    if environment:
        override["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    return {"containerOverrides": [{"name": container, **override}]} if override else {}


def task_summary(task: dict[str, Any]) -> dict[str, Any]:
    """A task as the result shows it."""
    return {"taskArn": task.get("taskArn"), "lastStatus": task.get("lastStatus"), "stopCode": task.get("stopCode"),
            "stoppedReason": task.get("stoppedReason"),
            "containers": [{"name": c.get("name"), "exitCode": c.get("exitCode"), "reason": c.get("reason")}
                           for c in task.get("containers", [])]}


def failures(task: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """Why a STOPPED task failed: each essential container that exited non-zero (or never exited with a
    code: the task's stopped reason), [] when every essential container exited 0.

    >>> failures({"stoppedReason": "Essential container in task exited", "containers": [
    ...     {"name": "app", "exitCode": 3}]}, {"containerDefinitions": [{"name": "app"}]})
    ['container app exited with code 3']
    """
    essential = {str(c["name"]) for c in definition.get("containerDefinitions", []) if c.get("essential", True)}
    out = []
    for container in task.get("containers", []):
        name = str(container.get("name"))
        if name not in essential:
            continue
        code = container.get("exitCode")
        if code is None:
            why = container.get("reason") or task.get("stoppedReason") or task.get("stopCode") or "no exit code"
            out.append(f"container {name} did not run to an exit code: {why}")
        elif code != 0:
            out.append(f"container {name} exited with code {code}")
    return out


# --- the flow --------------------------------------------------------------------------------------

def _target(config: Config) -> ServiceEntry:
    targets = config.targets()
    if len(targets) != 1:
        names = ", ".join(str(t.service.name) for t in targets)
        raise ConfigError(f"the config has several services ({names}): name the one whose task to run with "
                          "--service", key="service.name")
    return targets[0]


def _known_containers(target: ServiceEntry, base_dir: Path) -> list[str] | None:
    """The container names the config gives without AWS (None: a task definition in ECS, read later)."""
    task = target.task
    if task.containers:
        return [c.name for c in task.containers]
    if task.file:
        return [str(c.get("name")) for c in read_task_file(base_dir / task.file).get("containerDefinitions", [])]
    return None


class TaskRunner:
    """Runs one `ci-ecs run-task` with one client factory (API calls counted together)."""

    def __init__(self, config: Config, factory: ClientFactory, options: RunOptions, *, base_dir: Path = Path("."),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.factory = factory
        self.options = options
        self.base_dir = base_dir
        self._sleep = sleep

    def run(self, *, wait: bool, timeout: float) -> RunTaskResult:
        """Register (if changed), run, and with `wait` follow the task(s) to STOPPED.

        Raises DeploymentFailedError (exit 1) when an essential container did not exit 0,
        DeployTimeoutError (exit 4) when the tasks did not stop within `timeout` (they keep running),
        and on a cancel (SIGTERM/SIGINT) stops the tasks it started before re-raising. Every CiEcsError
        raised carries `result`.
        """
        config, options = self.config, self.options
        started = time.time()
        result = RunTaskResult(cluster=config.cluster or "default")
        try:
            target = _target(config)
            command = split_command(options.command) if options.command else None
            known = _known_containers(target, self.base_dir)
            if options.container_name and known is not None and options.container_name not in known:
                raise ConfigError(f"no container named {options.container_name!r} in the task definition "
                                  f"({', '.join(known)})", key="--container-name")
            registered = Deployer(config, self.factory, base_dir=self.base_dir).register()
            result.taskDefinitionArn = registered.taskDefinitionArn
            result.taskDefinitionRegistered = registered.taskDefinitionRegistered
            result.warnings.extend(registered.warnings)
            ecs = EcsGateway(self.factory.client("ecs"))
            definition = ecs.describe_task_definition(str(registered.taskDefinitionArn))
            names = [str(c["name"]) for c in definition.get("containerDefinitions", [])]
            if options.container_name and options.container_name not in names:
                raise ConfigError(f"no container named {options.container_name!r} in "
                                  f"{str(result.taskDefinitionArn).rsplit('/', 1)[-1]} ({', '.join(names)})",
                                  key="--container-name")
            imageless = [c.name for c in target.task.containers if c.image is None]
            container = options.container_name or image_container(definition, target.task.image_containers,
                                                                  registered.imageUri, imageless)
            result.containerName = container
            current = ecs.describe_service(result.cluster, str(target.service.name)) \
                if target.service.name else None
            if current is not None and current.get("status") != "ACTIVE":
                current = None
            params = {
                "cluster": result.cluster, "taskDefinition": result.taskDefinitionArn, "count": options.count,
                "startedBy": STARTED_BY,
                **placement(definition, current, target.service, config.run_task,
                            lambda: default_subnets(self.factory.client("ec2"))),
            }
            override = overrides(container, command, options.environment)
            if override:
                params["overrides"] = override
            # A migration may run before the first deploy: the cluster is made as deploy would make it.
            act(ensure_cluster(ecs, result.cluster))
            tasks, refused = ecs.run_task(params)
            for failure in refused:
                result.warnings.append(f"RunTask could not start a task: {failure.get('reason')} "
                                       f"{failure.get('detail') or failure.get('arn') or ''}".strip())
            if not tasks:
                raise DeploymentFailedError("no task started: " + "; ".join(result.warnings or ["RunTask "
                                            "returned no task"]), stopped_reasons=list(result.warnings))
            self._record(result, tasks)
            log.info("started %s (%s)", ", ".join(str(t["taskArn"]).rsplit("/", 1)[-1] for t in tasks),
                     str(result.taskDefinitionArn).rsplit("/", 1)[-1])
            if wait:
                self._follow(ecs, result, definition, [str(t["taskArn"]) for t in tasks], timeout, started)
        except CiEcsError as exc:
            if exc.result is None or "taskArn" not in exc.result:  # none yet, or register's
                result.error = exc.message
                exc.result = self._finish(result, started)
            raise
        self._finish(result, started)
        return result

    def _follow(self, ecs: EcsGateway, result: RunTaskResult, definition: dict[str, Any], arns: list[str],
                timeout: float, started: float) -> None:
        """Poll until every task is STOPPED; a cancel stops them (StopTask) before it ends the run."""
        begin = time.monotonic()
        last = ""
        try:
            while True:
                tasks = ecs.describe_tasks(result.cluster, arns)
                self._record(result, tasks)
                states = ", ".join(f"{str(t.get('taskArn')).rsplit('/', 1)[-1]} {t.get('lastStatus')}"
                                   for t in tasks)
                if states != last:
                    log.info("task %s", states, extra={"live": True})
                    last = states
                if tasks and all(t.get("lastStatus") == "STOPPED" for t in tasks):
                    break
                elapsed = time.monotonic() - begin
                if elapsed >= timeout:
                    raise DeployTimeoutError(
                        f"task(s) not stopped after {int(timeout)} s ({states}); still running: stop with "
                        f"`aws ecs stop-task --cluster {result.cluster} --task ARN` if it should not finish")
                self._sleep(min(poll_interval(elapsed, self.config.deploy.max_poll_interval),
                                max(0.0, timeout - elapsed)))
        except (DeployCancelledError, KeyboardInterrupt) as exc:
            with self.factory.guard.cleanup():  # the one kind of call a cancel allows: undoing what it started
                self._stop(ecs, result, arns)
            if isinstance(exc, DeployCancelledError):
                raise DeployCancelledError(f"cancelled: stopped task(s) {', '.join(a.rsplit('/', 1)[-1] for a in arns)}"
                                           f" (StopTask)", exc.exit_code) from None
            raise
        self._show_logs(definition, tasks)
        problems = [f"task {str(t.get('taskArn')).rsplit('/', 1)[-1]}: {p}" for t in tasks
                    for p in failures(t, definition)]
        if problems:
            raise DeploymentFailedError("; ".join(problems), stopped_reasons=[describe_stop(t) for t in tasks],
                                        result=self._finish(result, started, error="; ".join(problems)))
        log.info("task(s) stopped: every essential container exited 0")

    def _stop(self, ecs: EcsGateway, result: RunTaskResult, arns: list[str]) -> None:
        for arn in arns:
            try:
                task = ecs.stop_task(result.cluster, arn, "ci-ecs run-task was cancelled")
                log.warning("cancelled: task %s stopping (StopTask)", arn.rsplit("/", 1)[-1])
                if len(arns) == 1:
                    self._record(result, [task])
            except CiEcsError as exc:
                log.error("cancelled, but the task was not stopped: %s", exc.message)

    def _show_logs(self, definition: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        if self.options.log_lines <= 0:
            return
        for task in tasks:
            lines = tail(lambda region: self.factory.client("logs", region=region), definition, task,
                         self.options.log_lines)
            for name, messages in lines.items():
                log.info("logs of %s (last %d lines):", name, len(messages))
                for message in messages:
                    log.info("  %s | %s", name, message)

    def _record(self, result: RunTaskResult, tasks: list[dict[str, Any]]) -> None:
        if not tasks:
            return
        result.tasks = [task_summary(t) for t in tasks]
        first = result.tasks[0]
        result.taskArn = first["taskArn"]
        result.lastStatus = first["lastStatus"]
        result.stopCode = first["stopCode"]
        result.stoppedReason = first["stoppedReason"]
        result.containers = first["containers"]
        result.exitCode = next((c["exitCode"] for c in result.containers if c["name"] == result.containerName), None)

    def _finish(self, result: RunTaskResult, started: float, *, error: str | None = None) -> dict[str, Any]:
        result.durationSeconds = round(time.time() - started, 3)
        result.apiCalls = self.factory.counter.by_service()
        if error:
            result.error = error
        return result.as_json()


def run_task(config: Config, options: RunOptions, *, factory: ClientFactory | None = None,
             base_dir: Path = Path("."), wait: bool = True, timeout: float | None = None) -> RunTaskResult:
    """Run the config's task once (registering its definition only if it changed) and, with `wait`, return
    when it stopped; raises DeploymentFailedError unless every essential container exited 0.

    >>> config = load_config("ci-ecs.yml", purpose="register")  # doctest: +SKIP
    >>> run_task(config, RunOptions(command="migrate")).exitCode  # doctest: +SKIP
    0
    """
    runner = TaskRunner(config, factory or ClientFactory(aws_settings(config)), options, base_dir=base_dir)
    return runner.run(wait=wait, timeout=timeout if timeout is not None else config.deploy.timeout)
