"""One docker-runtime task: its containers' specs and states, and the thread that runs them
(secrets → awslogs group → images → containers in dependsOn order → watch → stop → remove).

The thread never holds the sandbox lock while it talks to the engine; it takes the lock only
to read moto's Secrets Manager / SSM / CloudWatch Logs models. ``DockerRuntime.advance`` copies
what it saw (``phase``, ``failure``, ``states``) into moto's task under the lock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docker.errors import APIError, NotFound

from .. import lifecycle, logs, restart_policy, secrets
from ..context import SandboxContext

if TYPE_CHECKING:
    from .docker import DockerRuntime

log = logging.getLogger(__name__)

# ECS's defaults (ContainerDefinition.stopTimeout, HealthCheck) when the definition has none.
DEFAULT_STOP_TIMEOUT = 30
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
POLL_SECONDS = 0.25
MAX_LOG_LINES = 10_000  # kept per container for ``logs()``; CloudWatch Logs gets every line


@dataclass
class ContainerSpec:
    """What the runtime needs of one container definition (a copy: moto's models stay under the lock)."""

    name: str
    image: str
    essential: bool
    command: list[str] | None
    entrypoint: list[str] | None
    environment: dict[str, str]
    secrets: list[dict[str, Any]]
    depends_on: list[dict[str, Any]]
    health_check: dict[str, Any] | None
    ports: list[tuple[int, int | None, str]]  # (containerPort, hostPort or None for dynamic, protocol)
    working_dir: str | None
    user: str | None
    cpu: int
    memory: int | None
    memory_reservation: int | None
    stop_timeout: int
    start_timeout: float | None
    init: bool
    labels: dict[str, str]
    log_target: logs.LogTarget | None
    restart_policy: dict[str, Any] | None = None  # enabled restartPolicy (``restart_policy.policy_of``)


@dataclass
class ContainerState:
    """What the engine last said about a container."""

    status: str = "PENDING"  # PENDING, RUNNING, STOPPED (ECS's container lastStatus)
    exit_code: int | None = None
    reason: str | None = None
    health: str = "UNKNOWN"
    runtime_id: str | None = None
    bindings: list[dict[str, Any]] = field(default_factory=list)
    started: bool = False
    started_at: float = 0.0  # when the container last started (its first start or its last restart)
    restarts: int = 0  # restarts in place under its restartPolicy (ECS's RestartCount)


def int_or_none(value: Any) -> int | None:
    """An int from a task definition field (numbers may come as strings), or None."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def container_spec(definition: dict[str, Any], task_definition: Any, overrides: dict[str, Any],
                   account_id: str, region: str) -> ContainerSpec:
    """A ContainerSpec from a container definition, its RunTask override and the task definition."""
    fixed_ports = task_definition.network_mode in ("awsvpc", "host", None, "")
    ports: list[tuple[int, int | None, str]] = []
    for mapping in definition.get("portMappings") or []:
        container_port = int_or_none(mapping.get("containerPort"))
        if container_port is None:
            continue
        host_port = int_or_none(mapping.get("hostPort"))
        # awsvpc/host: the host port is the container port; bridge: hostPort, or dynamic when 0/unset.
        chosen = container_port if fixed_ports else (host_port or None)
        ports.append((container_port, chosen, str(mapping.get("protocol") or "tcp")))
    environment = {str(e.get("name")): str(e.get("value", "")) for e in definition.get("environment") or []}
    for item in overrides.get("environment") or []:
        environment[str(item.get("name"))] = str(item.get("value", ""))
    linux = definition.get("linuxParameters") or {}
    labels = {str(k): str(v) for k, v in (definition.get("dockerLabels") or {}).items()}
    return ContainerSpec(
        name=str(definition.get("name")),
        image=str(definition.get("image") or ""),
        essential=bool(definition.get("essential", True)),
        command=overrides.get("command") or definition.get("command"),
        entrypoint=definition.get("entryPoint"),
        environment=environment,
        secrets=list(definition.get("secrets") or []),
        depends_on=list(definition.get("dependsOn") or []),
        health_check=definition.get("healthCheck") or None,
        ports=ports,
        working_dir=definition.get("workingDirectory"),
        user=definition.get("user"),
        cpu=int_or_none(definition.get("cpu")) or 0,
        memory=int_or_none(definition.get("memory")) or int_or_none(task_definition.memory),
        memory_reservation=int_or_none(definition.get("memoryReservation")),
        stop_timeout=int_or_none(definition.get("stopTimeout")) or DEFAULT_STOP_TIMEOUT,
        start_timeout=float(definition["startTimeout"]) if definition.get("startTimeout") else None,
        init=bool(linux.get("initProcessEnabled")),
        labels=labels,
        log_target=logs.target_for(definition, account_id, region),
        restart_policy=restart_policy.policy_of(definition),
    )


def engine_healthcheck(check: dict[str, Any]) -> dict[str, Any]:
    """ECS's healthCheck as the engine's (seconds → nanoseconds, ECS's defaults filled in).

    >>> engine_healthcheck({"command": ["CMD", "true"], "interval": 5})["interval"]
    5000000000
    """
    values = {key: check.get(key, default) for key, default in HEALTH_DEFAULTS.items()}
    return {
        "test": list(check.get("command") or ["NONE"]),
        "interval": int(values["interval"] * 1_000_000_000),
        "timeout": int(values["timeout"] * 1_000_000_000),
        "retries": int(values["retries"]),
        "start_period": int(values["startPeriod"] * 1_000_000_000),
    }


def task_health(specs: list[ContainerSpec], states: dict[str, ContainerState]) -> str:
    """ECS's task healthStatus (lifecycle.task_health) from its essential containers with health checks."""
    return lifecycle.task_health([states[s.name].health for s in specs if s.essential and s.health_check])


class TaskRun:
    """One task's containers, driven by a thread of its own."""

    def __init__(self, engine: DockerRuntime, task_arn: str, task_id: str, cluster: str, account_id: str,
                 region: str, specs: list[ContainerSpec], address: str | None, task_cpu: int | None,
                 ctx: SandboxContext) -> None:
        self.engine = engine
        self.task_arn = task_arn
        self.task_id = task_id
        self.cluster = cluster
        self.account_id = account_id
        self.region = region
        self.specs = specs
        self.address = address
        self.task_cpu = task_cpu
        self.ctx = ctx
        self.phase = "PROVISIONING"  # → PENDING → RUNNING → STOPPED
        self.failure: tuple[str, str] | None = None  # (stoppedReason, stopCode) of the task's own failure
        self.states = {spec.name: ContainerState() for spec in specs}
        self.ids: dict[str, str] = {}
        self.followers: dict[str, logs.LogFollower] = {}
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ci-ecs-sandbox-task-{task_id}", daemon=True)

    @property
    def has_health_checks(self) -> bool:
        """True when an essential container has a health check (readiness then means HEALTHY)."""
        return any(s.essential and s.health_check for s in self.specs)

    def start(self) -> None:
        """Start the task's thread."""
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the task's thread to finish."""
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the task's thread
    def _fail(self, reason: str, stop_code: str) -> None:
        if self.failure is None and not self.stop.is_set():
            self.failure = (reason, stop_code)

    def _run(self) -> None:
        try:
            self._start_and_watch()
        except Exception as err:  # noqa: BLE001 - any engine surprise stops the task, not the sandbox
            log.warning("sandbox task %s: %s", self.task_id, err, exc_info=True)
            self._fail(f"CannotStartContainerError: {explain(err)}", "TaskFailedToStart")
        finally:
            try:
                self._stop_containers()
            finally:
                self.phase = "STOPPED"

    def _start_and_watch(self) -> None:
        self.phase = "PENDING"
        environments = self._environments()
        if environments is None:
            return
        for spec in self.specs:
            if spec.log_target is not None:
                problem = logs.check_group(spec.log_target, self.ctx)
                if problem:
                    self._fail(problem, "TaskFailedToStart")
                    return
        images: dict[str, str] = {}
        for spec in self.specs:
            if spec.image not in images:
                reference, problem = self.engine.ensure_image(spec.image, self.account_id)
                if problem:
                    self._fail(f"CannotPullContainerError: {problem}", "TaskFailedToStart")
                    for state in self.states.values():
                        state.reason = f"CannotPullContainerError: {problem}"
                    return
                images[spec.image] = reference
            if self.stop.is_set():
                return
        for spec in self.specs:
            try:
                image, environment = images[spec.image], environments[spec.name]
                self.ids[spec.name] = self.engine.create_container(self, spec, image, environment)
            except APIError as err:
                self._fail(f"CannotCreateContainerError: {explain(err)}", "TaskFailedToStart")
                return
            self.states[spec.name].runtime_id = self.ids[spec.name]
        self._watch()

    def _environments(self) -> dict[str, dict[str, str]] | None:
        environments: dict[str, dict[str, str]] = {}
        with self.ctx.lock:  # moto's Secrets Manager / SSM models
            for spec in self.specs:
                try:
                    values = secrets.resolve(spec.secrets, self.account_id, self.region)
                except secrets.SecretError as err:
                    self._fail(str(err), "TaskFailedToStart")
                    return None
                environments[spec.name] = {**spec.environment, **values}
        return environments

    def _watch(self) -> None:
        waiting_since = self.engine.now()
        while not self.stop.is_set():
            self._refresh()
            for spec in self.specs:
                state = self.states[spec.name]
                if state.started:
                    continue
                verdict = self._dependencies(spec)
                if verdict == "wait":
                    if spec.start_timeout and self.engine.now() - waiting_since > spec.start_timeout:
                        self._fail(f"CannotStartContainerError: container {spec.name} dependencies were not met "
                                   f"within its startTimeout", "TaskFailedToStart")
                        return
                    continue
                if verdict != "ready":
                    self._fail(verdict, "TaskFailedToStart")
                    return
                try:
                    self.engine.start_container(self, spec)
                except APIError as err:
                    self._fail(f"CannotStartContainerError: {explain(err)}", "TaskFailedToStart")
                    return
                state.started = True
                state.status = "RUNNING"
                state.started_at = self.engine.now()
            if self.phase == "PENDING" and all(s.started for s in self.states.values()):
                self.phase = "RUNNING"
            self._restart_exited()
            for spec in self.specs:
                state = self.states[spec.name]
                if spec.essential and state.started and state.status == "STOPPED":
                    self._fail("Essential container in task exited", "EssentialContainerExited")
                    return
            self.stop.wait(POLL_SECONDS)

    def _restart_exited(self) -> None:
        """Restart in place the containers that exited and that their restartPolicy restarts
        (``restart_policy.should_restart``): the same container started again, the task carries on."""
        for spec in self.specs:
            state = self.states[spec.name]
            if not state.started or state.status != "STOPPED" or self.stop.is_set():
                continue
            now = self.engine.now()
            if not restart_policy.should_restart(spec.restart_policy, state.exit_code, now - state.started_at,
                                                 self.ctx.minute_seconds):
                continue
            try:
                self.engine.start_container(self, spec)
            except APIError as err:
                log.warning("sandbox task %s: restarting container %s: %s", self.task_id, spec.name, explain(err))
                continue
            log.info("sandbox task %s: container %s exited with %s and was restarted (restart %d)",
                     self.task_id, spec.name, state.exit_code, state.restarts + 1)
            state.status, state.started_at, state.restarts = "RUNNING", now, state.restarts + 1
            state.exit_code = None

    def _dependencies(self, spec: ContainerSpec) -> str:
        """"ready", "wait", or the stopped reason when a condition can never be met."""
        for dependency in spec.depends_on:
            name = str(dependency.get("containerName"))
            condition = str(dependency.get("condition") or "START").upper()
            state = self.states.get(name)
            if state is None:
                return f"CannotStartContainerError: container {spec.name} depends on unknown container {name}"
            if not state.started:
                return "wait"
            exited = state.status == "STOPPED"
            if condition == "START":
                continue
            if condition == "COMPLETE" and not exited:
                return "wait"
            if condition == "SUCCESS":
                if not exited:
                    return "wait"
                if state.exit_code != 0:
                    return (f"CannotStartContainerError: dependency {name} of container {spec.name} "
                            f"exited with code {state.exit_code} (condition SUCCESS)")
            if condition == "HEALTHY":
                if state.health == "UNHEALTHY" or exited:
                    return (f"CannotStartContainerError: dependency {name} of container {spec.name} "
                            "did not become HEALTHY")
                if state.health != "HEALTHY":
                    return "wait"
        return "ready"

    def _refresh(self) -> None:
        for spec in self.specs:
            state = self.states[spec.name]
            container_id = self.ids.get(spec.name)
            if not state.started or container_id is None or state.status == "STOPPED":
                continue
            try:
                info = self.engine.client.api.inspect_container(container_id)
            except NotFound:
                state.status, state.reason = "STOPPED", "container removed from the engine"
                continue
            engine_state = info.get("State") or {}
            health = ((engine_state.get("Health") or {}).get("Status") or "").lower()
            if spec.health_check:
                state.health = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}.get(health, "UNKNOWN")
            state.bindings = _bindings(info, self.address)
            if engine_state.get("Status") in ("exited", "dead"):
                state.status = "STOPPED"
                state.exit_code = int(engine_state.get("ExitCode", 0))
                if engine_state.get("OOMKilled"):
                    state.reason = "OutOfMemoryError: Container killed due to memory usage"

    def _stop_containers(self) -> None:
        """Stop what runs (SIGTERM, SIGKILL after each container's stopTimeout), read the exit
        codes and the last log lines, remove the containers."""
        running = [s for s in self.specs if self.states[s.name].started and self.states[s.name].status != "STOPPED"]
        stoppers = [
            threading.Thread(target=self.engine.stop_container, args=(self.ids[s.name], s.stop_timeout), daemon=True)
            for s in running
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._refresh()
        for follower in self.followers.values():
            follower.join(5)
        for container_id in self.ids.values():
            self.engine.remove_container(container_id)


def _bindings(info: dict[str, Any], address: str | None) -> list[dict[str, Any]]:
    ports = ((info.get("NetworkSettings") or {}).get("Ports")) or {}
    bindings = []
    for key, published in ports.items():
        port, _, protocol = key.partition("/")
        for item in published or []:
            bindings.append({
                "bindIP": item.get("HostIp") or address or "",
                "containerPort": int(port),
                "hostPort": int(item.get("HostPort") or 0),
                "protocol": protocol or "tcp",
            })
    return bindings


def explain(err: BaseException) -> str:
    """The engine's error message on one line."""
    text = getattr(err, "explanation", None) or str(err)
    return " ".join(str(text).split())

