"""The docker task runtime: a task is its containers, run by a local Docker engine.

- Engine: ``DOCKER_HOST`` (or the Sandbox's ``docker_host``), else the default socket; without
  one the sandbox does not start (``RuntimeUnavailableError``, one line).
- Network: one bridge network per sandbox, created on start and removed on stop. Everything
  the sandbox creates carries the label ``ci-ecs.sandbox`` plus its instance, host and pid, so a
  new sandbox removes what a killed one (a dead pid on this host) left behind.
- Addresses: each task gets a loopback address of its own (127.R.x.y, R picked per sandbox) where
  the engine publishes its port mappings (``-p ADDRESS:HOSTPORT:PORT``, docker-proxy); that
  address is the task ENI's public IP when assignPublicIp is ENABLED, so anything reading the
  public IP the ECS way can connect to it. bridge/host tasks publish hostPort there too (a
  dynamic one when hostPort is 0) and report it in ``networkBindings``.
- A task runs in a thread of its own (``TaskRun``), never under the sandbox lock: secrets, the
  awslogs group, image pulls, container start in dependsOn order, health and exit codes, stop
  with stopTimeout. The scheduler reads what the thread saw in ``advance`` (under the lock).

Limits: containers of one task do not share a network namespace (no ``localhost`` between
them); ECS's metadata endpoint and task IAM credentials are not provided.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import random
import re
import socket
import time
import uuid
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import kwargs_from_env

from .. import ecr, logs
from ..context import SandboxContext
from ..lifecycle import finish_stop, mark_stopping, utcnow
from .base import RuntimeUnavailableError, TaskRuntime
from .docker_task import (
    MAX_LOG_LINES,
    ContainerSpec,
    TaskRun,
    container_spec,
    engine_healthcheck,
    explain,
    int_or_none,
    task_health,
)

log = logging.getLogger(__name__)

LABEL = "ci-ecs.sandbox"  # on everything the runtime creates (value "1")
LABEL_INSTANCE = "ci-ecs.sandbox.instance"
LABEL_HOST = "ci-ecs.sandbox.host"
LABEL_PID = "ci-ecs.sandbox.pid"
LABEL_TASK = "ci-ecs.sandbox.task"

MotoTask = Any


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DockerRuntime(TaskRuntime):
    """Tasks as containers on a local Docker engine (see the module docstring)."""

    name = "docker"

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        self.instance = uuid.uuid4().hex[:12]
        self.network_name = f"ci-ecs-sandbox-{self.instance}"
        self.client: Any = None
        self._log_client: Any = None
        self._runs: dict[str, TaskRun] = {}
        self._addresses: dict[str, str] = {}  # task ARN → loopback address
        # 127.R.0.0/16, R per sandbox: two sandboxes on one machine rarely share addresses, and a
        # port already bound on an address is detected before it is handed out.
        self._network = ipaddress.ip_network(f"127.{random.randint(16, 250)}.0.0/16")  # noqa: S311
        self._next = 2
        self._registry: Any = None

    # ------------------------------------------------------------------ lifecycle
    def _labels(self) -> dict[str, str]:
        return {
            LABEL: "1",
            LABEL_INSTANCE: self.instance,
            LABEL_HOST: socket.gethostname(),
            LABEL_PID: str(os.getpid()),
        }

    def open(self) -> None:
        """Connect to the engine, remove a killed sandbox's leftovers, create the network."""
        where = self.base_url or os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
        # The same settings as docker.from_env (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
        settings: dict[str, Any] = {"base_url": self.base_url} if self.base_url else kwargs_from_env()
        try:
            self.client = docker.DockerClient(**settings, timeout=120, max_pool_size=64)
            self.client.ping()
            # Log streams stay open for as long as a container runs: no read timeout for them.
            self._log_client = docker.APIClient(**settings, timeout=None, max_pool_size=64)
        except (DockerException, OSError) as err:
            raise RuntimeUnavailableError(
                f"sandbox --runtime docker needs a Docker engine: none at {where} ({explain(err)}); "
                "start one or set DOCKER_HOST"
            ) from None
        self.remove_leftovers()
        self.client.networks.create(self.network_name, driver="bridge", labels=self._labels())

    def remove_leftovers(self) -> list[str]:
        """Remove containers and networks of sandboxes that are gone (their pid is dead on this
        host); returns their names. Live sandboxes' and other hosts' are left alone."""
        host = socket.gethostname()
        removed = []

        def orphan(labels: dict[str, str]) -> bool:
            if labels.get(LABEL_INSTANCE) == self.instance or labels.get(LABEL_HOST) != host:
                return False
            pid = int_or_none(labels.get(LABEL_PID))
            return pid is not None and not _pid_alive(pid)

        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            if orphan(container.labels or {}):
                with contextlib.suppress(NotFound, APIError):
                    container.remove(force=True)
                    removed.append(container.name)
        for network in self.client.networks.list(filters={"label": LABEL}):
            if orphan(network.attrs.get("Labels") or {}):
                with contextlib.suppress(NotFound, APIError):
                    network.remove()
                    removed.append(network.name)
        if removed:
            log.info("sandbox: removed what a stopped sandbox left: %s", ", ".join(removed))
        return removed

    def close(self) -> None:
        """Stop every task's containers (quickly: the sandbox is going away), remove them and the network."""
        if self.client is None:
            return
        runs = list(self._runs.values())
        for run in runs:
            run.stop.set()
            for spec in run.specs:
                spec.stop_timeout = min(spec.stop_timeout, 2)
        for run in runs:
            run.join(30)
        mine = {"label": f"{LABEL_INSTANCE}={self.instance}"}
        with contextlib.suppress(DockerException):
            for container in self.client.containers.list(all=True, filters=mine):
                with contextlib.suppress(NotFound, APIError):
                    container.remove(force=True)
        with contextlib.suppress(DockerException):
            for network in self.client.networks.list(filters=mine):
                with contextlib.suppress(NotFound, APIError):
                    network.remove()
        self._runs.clear()
        with contextlib.suppress(Exception):
            self._log_client.close()
            self.client.close()
        self.client = None

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    # ------------------------------------------------------------------ engine calls (task threads)
    def ensure_image(self, image: str, account_id: str) -> tuple[str, str | None]:
        """(reference the engine runs, None) or (image, the engine's pull error).

        Images in the sandbox's ECR (its registry, or this account's ECR host name) are always
        pulled from the registry, as Fargate pulls; others run as local images when the engine
        has them, else are pulled.
        """
        registry = self._registry
        ref = ecr.parse_image(image)
        reference = image
        if registry is not None and ecr.is_sandbox_ecr_image(ref, registry, account_id):
            separator = "@" if ref.reference.startswith("sha256:") else ":"
            reference = f"{registry.address}/{ref.repository}{separator}{ref.reference}"
        else:
            try:
                self.client.images.get(image)
                return image, None
            except ImageNotFound:
                pass
            except APIError as err:
                return image, explain(err)
        try:
            self.client.images.pull(reference)
        except (APIError, DockerException) as err:
            return image, explain(err)
        return reference, None

    def create_container(self, run: TaskRun, spec: ContainerSpec, image: str, environment: dict[str, str]) -> str:
        """Create one container of a task (not started); returns its id."""
        labels = {
            **spec.labels,
            **self._labels(),
            LABEL_TASK: run.task_arn,
            # The labels the ECS agent puts on task containers.
            "com.amazonaws.ecs.task-arn": run.task_arn,
            "com.amazonaws.ecs.container-name": spec.name,
            "com.amazonaws.ecs.cluster": run.cluster,
        }
        ports: dict[str, Any] = {}
        for container_port, host_port, protocol in spec.ports:
            ports[f"{container_port}/{protocol}"] = (run.address or "127.0.0.1", host_port)
        kwargs: dict[str, Any] = {
            "name": re.sub(r"[^a-zA-Z0-9_.-]", "-", f"ecs-{run.task_id}-{spec.name}")[:200],
            "command": spec.command,
            "entrypoint": spec.entrypoint,
            "environment": environment,
            "working_dir": spec.working_dir,
            "user": spec.user,
            "labels": labels,
            "network": self.network_name,
            "ports": ports or None,
            "detach": True,
        }
        if spec.health_check:
            kwargs["healthcheck"] = engine_healthcheck(spec.health_check)
        if spec.init:
            kwargs["init"] = True
        if spec.cpu:
            kwargs["cpu_shares"] = max(2, spec.cpu)  # container cpu units are a relative weight on Linux
        if run.task_cpu:
            kwargs["nano_cpus"] = int(run.task_cpu / 1024 * 1_000_000_000)  # the task's vCPUs as a hard limit
        if spec.memory:
            kwargs["mem_limit"] = f"{spec.memory}m"
        if spec.memory_reservation:
            kwargs["mem_reservation"] = f"{spec.memory_reservation}m"
        container = self.client.containers.create(image, **{k: v for k, v in kwargs.items() if v is not None})
        return str(container.id)

    def start_container(self, run: TaskRun, spec: ContainerSpec) -> None:
        """Start a created container and follow its output (awslogs, ``logs()``)."""
        container_id = run.ids[spec.name]
        stream = spec.log_target.stream(spec.name, run.task_id, container_id) if spec.log_target else ""
        if spec.log_target is not None:
            logs.create_stream(spec.log_target, stream, run.ctx)
        self.client.api.start(container_id)
        chunks = self._log_client.logs(container_id, stream=True, follow=True, timestamps=True)
        follower = logs.LogFollower(chunks, spec.log_target, stream, run.ctx, max_lines=MAX_LOG_LINES)
        run.followers[spec.name] = follower
        follower.start()

    def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM (the image's stop signal), SIGKILL after ``timeout`` seconds."""
        with contextlib.suppress(NotFound, APIError):
            self.client.api.stop(container_id, timeout=timeout)

    def remove_container(self, container_id: str) -> None:
        """Remove a stopped container (its output is in CloudWatch Logs and ``logs()``)."""
        with contextlib.suppress(NotFound, APIError):
            self.client.api.remove_container(container_id, force=True)

    # ------------------------------------------------------------------ the seam (under the lock)
    def task_address(self, task: MotoTask, task_definition: Any) -> str | None:
        """A loopback address of the task's own where its fixed host ports are free."""
        fixed = []
        for definition in task_definition.container_definitions:
            for mapping in definition.get("portMappings") or []:
                port = int_or_none(mapping.get("containerPort"))
                if task_definition.network_mode not in ("awsvpc", "host", None, ""):
                    port = int_or_none(mapping.get("hostPort")) or None
                if port:
                    fixed.append(port)
        in_use = set(self._addresses.values())
        size = self._network.num_addresses - 2
        for _ in range(size):
            offset = self._next
            self._next = self._next + 1 if self._next < size else 2
            address = str(self._network.network_address + offset)
            if address not in in_use and all(_port_free(address, port) for port in fixed):
                self._addresses[task.task_arn] = address
                return address
        return None

    def address_of(self, task_arn: str) -> str | None:
        """The task's loopback address (its ports are published there)."""
        return self._addresses.get(task_arn)

    def prepare(self, task: MotoTask, task_definition: Any, ctx: SandboxContext) -> None:
        """Start the task's thread (it pulls and starts the containers)."""
        self._registry = ctx.registry
        overrides = {c.get("name"): c for c in ((task.overrides or {}).get("containerOverrides") or [])}
        specs = [
            container_spec(d, task_definition, overrides.get(d.get("name")) or {}, task._account_id, task.region_name)
            for d in task_definition.container_definitions
        ]
        run = TaskRun(self, task.task_arn, task.id, task.cluster_name, task._account_id, task.region_name, specs,
                      self._addresses.get(task.task_arn), int_or_none(task_definition.cpu), ctx)
        self._runs[task.task_arn] = run
        run.start()

    def request_stop(self, task: MotoTask, reason: str, stop_code: str, ctx: SandboxContext) -> None:
        """desiredStatus STOPPED now; the task's thread stops its containers."""
        mark_stopping(task, reason, stop_code)
        run = self._runs.get(task.task_arn)
        if run is not None:
            run.stop.set()
        elif task.last_status != "STOPPED":
            finish_stop(task, exit_code=None)

    def advance(self, task: MotoTask, ctx: SandboxContext) -> str | None:
        """Copy what the task's thread saw into moto's task (see ``TaskRuntime.advance``)."""
        run = self._runs.get(task.task_arn)
        if task.last_status == "STOPPED" or run is None:
            return None
        outcome: str | None = None
        if run.phase != "PROVISIONING" and task.last_status == "PROVISIONING":
            task.last_status = "PENDING"
            task.pull_started_at = utcnow()
        self._copy_containers(task, run)
        if run.failure is not None and not task.sb_failed and task.desired_status == "RUNNING":
            reason, stop_code = run.failure
            mark_stopping(task, reason, stop_code)
            task.sb_failed = True
            outcome = "failed"
        elif run.phase == "RUNNING" and task.last_status == "PENDING" and task.desired_status == "RUNNING":
            task.last_status = "RUNNING"
            task.pull_stopped_at = utcnow()
            task.started_at = utcnow()
            task.connectivity = "CONNECTED"
            task.connectivity_at = task.started_at
            task.sb_running_since = ctx.now()  # the health check grace period counts from here
        # An UNHEALTHY service task is stopped by the scheduler once the service's health check
        # grace period is over (scheduler._stop_if_unhealthy); a RunTask task carries on.
        if (task.last_status == "RUNNING" and task.desired_status == "RUNNING" and not task.sb_ready
                and (not run.has_health_checks or task.health_status == "HEALTHY")):
            task.sb_ready = True
            outcome = "running"
        if run.phase == "STOPPED":
            self._copy_containers(task, run)
            finish_stop(task, exit_code=None)
            self._runs.pop(task.task_arn, None)
            self._addresses.pop(task.task_arn, None)
        return outcome

    def _copy_containers(self, task: MotoTask, run: TaskRun) -> None:
        bridge = not task.attachments  # awsvpc tasks report their ENI, others their host ports
        for container in task.containers:
            state = run.states.get(container.name)
            if state is None:
                continue
            container.last_status = state.status
            container.exitCode = state.exit_code
            if state.reason:
                container.reason = state.reason
            container.health_status = state.health
            container.sb_restart_count = state.restarts
            if state.runtime_id:
                container.runtime_id = state.runtime_id
            if bridge and state.bindings:
                container.network_bindings = state.bindings
        task.health_status = task_health(run.specs, run.states)

    def logs(self, task_arn: str, container_name: str) -> list[str]:
        """The lines a running task's container wrote (stopped tasks' are in CloudWatch Logs)."""
        run = self._runs.get(task_arn)
        follower = run.followers.get(container_name) if run else None
        return list(follower.lines) if follower else []


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except PermissionError:
            return True  # a privileged port: the engine's proxy (root) can still bind it
        except OSError:
            return False
    return True
