"""The forwarding load balancers: addresses, listeners, target health, and ECS's registrations.

State lives on moto's ELBv2 models (load balancers, listeners, rules, target groups and their
``targets``); the forwarder keeps what moto has no place for: each load balancer's address, the
listeners' sockets, each target's health and draining deadline, and which task a target is.
Everything that reads or changes moto's models runs under the sandbox lock; health checks and
relayed requests run with it released.

Times from the target groups (health check interval and timeout, deregistration delay) are
scaled by the sandbox's clock: ``minute_seconds / 60`` (``--minute-seconds``), 1 by default.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import random
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.ecs import ecs_backends
from moto.elbv2.models import elbv2_backends

from .. import deployments, network
from ..context import SandboxContext
from ..lifecycle import mark_stopping
from . import routing
from .health import PASSED, Outcome, TargetState, http_check, is_loopback
from .proxy import Decision, ListenerServer, alb_error

log = logging.getLogger(__name__)

HTTP_PROTOCOLS = ("HTTP", "HTTPS")
STEP_SECONDS = 0.05  # how often the health loop looks for due checks, drains and stops
ELB_HEALTH_STOP_REASON = "Task failed ELB health checks in (target-group {arn})"  # ECS's stoppedReason


def _elbv2_backends() -> Iterator[Any]:
    for regions in list(elbv2_backends.values()):
        yield from list(regions.values())


def _ecs_backend(account: str, region: str) -> Any:
    return ecs_backends[account][region]


class Forwarder:
    """The load balancers of one sandbox (see the package docstring)."""

    def __init__(self, rt: SandboxContext) -> None:
        self.rt = rt
        self.addresses: dict[str, str] = {}  # load balancer ARN → its loopback address
        self.listeners: dict[str, ListenerServer] = {}  # listener ARN → its socket
        self.targets: dict[tuple[str, str, int], TargetState] = {}
        self._tasks: dict[str, Any] = {}  # task ARN → moto task registered in target groups
        self._task_keys: dict[str, list[tuple[str, str, int]]] = {}
        self._pending_stops: dict[str, tuple[Any, float, str, str]] = {}  # task ARN → (task, at, reason, code)
        self._round_robin: dict[str, Iterator[int]] = {}
        # 127.R.0.0/16 with R above the docker runtime's task range (16..250); the offset is random
        # so two sandboxes on one machine rarely try the same address (a bound port is skipped anyway).
        self._network = ipaddress.ip_network(f"127.{random.randint(251, 254)}.0.0/16")  # noqa: S311
        self._next = random.randint(2, 60000)  # noqa: S311
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ci-ecs-sandbox-elb-health")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the health loop."""
        self._thread = threading.Thread(target=self._run, name="ci-ecs-sandbox-elb", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close every listener and stop the health loop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for server in list(self.listeners.values()):
            server.close()
        self.listeners.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def scale(self) -> float:
        """Sandbox seconds per AWS second: the sandbox's one clock (``SandboxContext.clock_scale``)."""
        return self.rt.clock_scale

    # ------------------------------------------------------------------ addresses and listeners (lock held)
    def allocate(self, load_balancer_arn: str) -> str:
        """A loopback address of the load balancer's own, where ports 80 and 443 are free."""
        taken = set(self.addresses.values())
        size = self._network.num_addresses - 2
        for _ in range(size):
            self._next = self._next + 1 if self._next < size else 2
            address = str(self._network.network_address + self._next)
            if address not in taken and all(_port_free(address, port) for port in (80, 443)):
                self.addresses[load_balancer_arn] = address
                return address
        raise RuntimeError("no free loopback address for a load balancer")

    def sync_listeners(self) -> None:
        """Open a socket for each HTTP/HTTPS listener of an application load balancer, close those
        of listeners and load balancers that are gone, and move those whose port changed."""
        wanted: dict[str, tuple[str, str, str, str, int, str]] = {}
        for backend in _elbv2_backends():
            for balancer in list(backend.load_balancers.values()):
                address = self.addresses.get(balancer.arn)
                if address is None or getattr(balancer, "type", "application") != "application":
                    continue
                for listener in list(balancer.listeners.values()):
                    if (listener.protocol or "HTTP").upper() in HTTP_PROTOCOLS:
                        wanted[listener.arn] = (backend.account_id, backend.region_name, balancer.arn, address,
                                                int(listener.port), listener.protocol)
        for arn, server in list(self.listeners.items()):
            spec = wanted.get(arn)
            if spec is None or (spec[3], spec[4]) != (server.address, server.port):
                server.close()
                del self.listeners[arn]
        for arn, (account, region, balancer_arn, address, port, protocol) in wanted.items():
            if arn not in self.listeners:
                server = ListenerServer(self, arn, account, region, balancer_arn, address, port, protocol)
                self.listeners[arn] = server
                if server.mapped:
                    log.warning("sandbox: port %d of %s cannot be bound; the listener answers on %s", port,
                                address, server.url)
        for arn in [a for a in self.addresses if not any(a in b.load_balancers for b in _elbv2_backends())]:
            del self.addresses[arn]

    def endpoints(self) -> dict[str, dict[int, str]]:
        """{load balancer DNS name: {listener port: URL where it answers}}."""
        out: dict[str, dict[int, str]] = {}
        for server in self.listeners.values():
            out.setdefault(server.address, {})[server.port] = server.url
        return out

    # ------------------------------------------------------------------ routing (called by the listeners)
    def decide(self, server: ListenerServer, method: str, target: str, headers: dict[str, str],
               source_ip: str) -> Decision:
        """Route one request by the listener's rules (under the lock; no I/O)."""
        path, _, query = target.partition("?")
        raw_host = headers.get("host") or server.address
        host = raw_host if raw_host.startswith("[") else raw_host.rsplit(":", 1)[0]
        request = routing.Request(method, host, path or "/", query, headers, source_ip, server.port,
                                  server.protocol.lower())
        with self.rt.lock:
            listener = self._listener(server)
            if listener is None:
                return alb_error(503)
            rule = routing.choose_rule(list(listener.rules.values()), request)
            action = routing.first_action([a.data for a in rule.actions]) if rule is not None else None
            if action is None:
                return alb_error(503)
            if action["Type"] == "fixed-response":
                config = action.get("FixedResponseConfig") or {}
                return Decision(status=int(config.get("StatusCode") or 200),
                                body=str(config.get("MessageBody") or "").encode(),
                                content_type=str(config.get("ContentType") or "text/plain"))
            if action["Type"] == "redirect":
                status, location = routing.redirect_location(action.get("RedirectConfig") or {}, request)
                return Decision(status=status, headers={"Location": location})
            group = routing.pick_target_group(routing.forward_weights(action))
            return self._choose_target(group) if group else alb_error(503)

    def _listener(self, server: ListenerServer) -> Any:
        balancer = elbv2_backends[server.account][server.region].load_balancers.get(server.load_balancer_arn)
        return balancer.listeners.get(server.arn) if balancer is not None else None

    def _choose_target(self, group_arn: str) -> Decision:
        """Round robin over the group's healthy targets; over all of them when none is healthy but
        some are unhealthy (ALB "fails open"); 503 when it has no registered target in service."""
        states = [s for s in self.targets.values() if s.group_arn == group_arn and s.state != "draining"]
        chosen = [s for s in states if s.routable] or [s for s in states if s.state == "unhealthy"]
        if not chosen:
            return alb_error(503)
        counter = self._round_robin.setdefault(group_arn, itertools.count())
        state = chosen[next(counter) % len(chosen)]
        if state.address is None:
            # A simulated task (or an address the sandbox never connects to): nothing can answer.
            return alb_error(503)
        return Decision(address=state.address, port=state.connect_port or state.port)

    # ------------------------------------------------------------------ ECS's side (lock held)
    def after_advance(self, task: Any, outcome: str | None) -> str | None:
        """Called after each lifecycle step of a task: a service's task that is RUNNING is registered
        in its target groups; it counts as healthy (ready) only once every target passed the load
        balancer's health checks, and one that turns unhealthy there is stopped and replaced once the
        service's health check grace period is over.

        ECS developer guide, "Use load balancing to distribute Amazon ECS service traffic": ECS
        registers and deregisters a service's tasks with its target groups; deployment configuration
        (minimumHealthyPercent): with a load balancer the scheduler waits for the target group's
        health check to pass before counting a task as healthy; and a task failing the load
        balancer's health checks is stopped and replaced (healthCheckGracePeriodSeconds: "ignores
        unhealthy Elastic Load Balancing ... health checks after a task has first started").
        """
        if getattr(task, "sb_service_uid", None) is None or getattr(task, "sb_elb", None) is False:
            return outcome
        keys = self._task_keys.get(task.task_arn)
        if keys is None:
            if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
                return outcome
            service = self._service_of(task)
            keys = self._register(task, service) if service is not None else []
            if not keys:
                task.sb_elb = False
                return outcome
        if task.desired_status != "RUNNING":
            return outcome
        states = [self.targets[k] for k in keys if k in self.targets]
        unhealthy = next((s for s in states if s.state == "unhealthy"), None)
        if unhealthy is not None and self._grace_over(task):
            # The stop the service scheduler asks for (task_control.request_stop, which calls this forwarder's
            # before_stop): drained first, else stopped by the task runtime now. Done here, so that this package
            # does not import task_control, which imports it for its hooks.
            reason = ELB_HEALTH_STOP_REASON.format(arn=unhealthy.group_arn)
            if not self.before_stop(task, reason, "ServiceSchedulerInitiated"):
                self.rt.task_runtime.request_stop(task, reason, "ServiceSchedulerInitiated", self.rt)
            task.sb_failed = True
            return "failed"
        if all(s.state in ("healthy", "unused", "unavailable") for s in states):
            return outcome
        if task.sb_ready:  # the runtime says ready; the load balancer does not yet
            task.sb_ready = False
        return None if outcome == "running" else outcome

    def before_stop(self, task: Any, reason: str, stop_code: str) -> bool:
        """A task is asked to stop: deregister its targets (draining) and, as ECS does, keep its
        containers running until the deregistration delay is over (the task is DEACTIVATING
        meanwhile; ECS developer guide, "Optimize load balancer connection draining parameters":
        ECS waits for the target to leave draining before it sends the stop signal). True when the
        stop is deferred; the forwarder asks the task runtime to stop the task later."""
        if task.task_arn in self._pending_stops:
            return True
        keys = self._task_keys.get(task.task_arn)
        if not keys or task.last_status not in ("RUNNING", "DEACTIVATING"):
            return False
        delay = self._drain_task(task.task_arn)
        if delay <= 0:
            return False
        mark_stopping(task, reason, stop_code)
        self._pending_stops[task.task_arn] = (task, self.rt.now() + delay, reason, stop_code)
        return True

    def _service_of(self, task: Any) -> Any:
        backend = _ecs_backend(task._account_id, task.region_name)
        for service in list(backend.services.values()):
            if (getattr(service, "sb_state", None) or {}).get("uid") == task.sb_service_uid:
                return service
        return None

    def _grace_over(self, task: Any) -> bool:
        service = self._service_of(task)
        grace = int(getattr(service, "health_check_grace_period_seconds", None) or 0) if service else 0
        started = getattr(task, "sb_running_since", None)
        return not (grace and started is not None and self.rt.now() - started < grace)

    def _target_group_for(self, service: Any, task: Any, balancer: dict[str, Any]) -> str | None:
        primary = balancer.get("targetGroupArn")
        alternate = (balancer.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
        if not primary or not alternate:
            return primary
        # Blue/green, canary, linear: the new revision's tasks go to the group traffic is shifted
        # to (the deployment's "green"), the one the production rule does not favour.
        record = deployments.for_deployment(service, task.sb_deployment)
        for route in (getattr(record, "traffic", None) or []):
            if {route.get("blue"), route.get("green")} == {primary, alternate}:
                return str(route["green"])
        return primary

    def _register(self, task: Any, service: Any) -> list[tuple[str, str, int]]:
        elbv2 = elbv2_backends[task._account_id][task.region_name]
        address_of = getattr(self.rt.task_runtime, "address_of", None)
        address = address_of(task.task_arn) if address_of is not None else None
        keys = []
        for balancer in getattr(service, "load_balancers", None) or []:
            group_arn = self._target_group_for(service, task, balancer)
            group = elbv2.target_groups.get(group_arn) if group_arn else None
            if group is None:
                continue
            container_port = int(balancer.get("containerPort") or 0)
            port, target_id = container_port, None
            if task.attachments:  # awsvpc: the ENI's private IP and the container port (target type ip)
                target_id = network.task_private_ip(task)
            else:  # bridge/host: the host port ECS bound (target type instance)
                port = _host_port(task, balancer.get("containerName"), container_port) or container_port
                target_id = _container_instance_ec2_id(task)
            if not target_id or not port:
                continue
            try:
                elbv2.register_targets(group.arn, [{"Id": target_id, "Port": port}])
            except Exception as err:  # noqa: BLE001 - ECS reports it as a service event; the sandbox logs it
                log.warning("sandbox: cannot register %s:%s in %s: %s", target_id, port, group.arn, err)
                continue
            state = TargetState(group.arn, target_id, port, address=address,
                                connect_port=port if not task.attachments else container_port,
                                task_arn=task.task_arn)
            self.targets[state.key] = state
            keys.append(state.key)
        if keys:
            self._tasks[task.task_arn] = task
            self._task_keys[task.task_arn] = keys
        return keys

    # ------------------------------------------------------------------ deregistration (lock held)
    def drain(self, group_arn: str, target_id: str, port: int) -> float:
        """Start draining one registered target; the scaled deregistration delay (0: removed now)."""
        group = next((b.target_groups[group_arn] for b in _elbv2_backends() if group_arn in b.target_groups), None)
        if group is None:
            return 0.0
        delay = _int(group.attributes.get("deregistration_delay.timeout_seconds"), 300) * self.scale
        key = (group_arn, target_id, port)
        state = self.targets.get(key) or TargetState(group_arn, target_id, port)
        self.targets[key] = state
        if delay <= 0:
            self._remove(group, state)
            return 0.0
        if state.state != "draining":
            state.drain(self.rt.now() + delay)
        return max(0.0, (state.drain_until or 0) - self.rt.now())

    def _drain_task(self, task_arn: str) -> float:
        delays = [self.drain(*key) for key in self._task_keys.pop(task_arn, [])]
        self._tasks.pop(task_arn, None)
        return max(delays, default=0.0)

    def _remove(self, group: Any, state: TargetState) -> None:
        target = group.targets.pop(state.target_id, None)
        if target is not None:
            group.deregistered_targets[state.target_id] = target
        self.targets.pop(state.key, None)

    def forget(self, group_arn: str, target_id: str) -> None:
        """A target registered again (RegisterTargets): start over as a new registration."""
        for key in [k for k in self.targets if k[0] == group_arn and k[1] == target_id]:
            if self.targets[key].state == "draining":
                del self.targets[key]

    def health_of(self, group: Any, target_id: str, port: int) -> TargetState | None:
        """The forwarder's view of a registered target, for DescribeTargetHealth."""
        return self.targets.get((group.arn, target_id, int(port)))

    # ------------------------------------------------------------------ the health loop
    def _run(self) -> None:
        while not self._stop.wait(STEP_SECONDS):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep the load balancers alive whatever moto raises
                log.exception("sandbox: load balancer step failed")

    def step(self) -> None:
        """Drains that ended, deferred stops that are due, then the health checks that are due."""
        with self.rt.lock:
            jobs = self._collect(self.rt.now())
        if not jobs:
            return
        futures = [(state, thresholds, self._pool.submit(check)) for state, thresholds, check in jobs]
        results = []
        for state, thresholds, future in futures:
            try:
                results.append((state, thresholds, future.result()))
            except Exception as err:  # noqa: BLE001 - a check that blew up is a failed check
                results.append((state, thresholds, Outcome(False, "Elb.InternalError", str(err)[:200])))
        with self.rt.lock:
            for state, (healthy, unhealthy), outcome in results:
                if self.targets.get(state.key) is state:
                    state.record(outcome, healthy, unhealthy)

    def _collect(self, now: float) -> list[tuple[TargetState, tuple[int, int], Any]]:
        jobs: list[tuple[TargetState, tuple[int, int], Any]] = []
        for arn, (task, at, reason, code) in list(self._pending_stops.items()):
            if now >= at:
                del self._pending_stops[arn]
                self.rt.task_runtime.request_stop(task, reason, code, self.rt)
        for arn, task in list(self._tasks.items()):
            if task.desired_status != "RUNNING" or task.last_status == "STOPPED":
                self._drain_task(arn)  # stopped another way (an essential container exited)
        present: set[tuple[str, str, int]] = set()
        for backend in _elbv2_backends():
            for group in list(backend.target_groups.values()):
                for target in list(group.targets.values()):
                    key = (group.arn, str(target["Id"]), _int(target.get("Port"), 0))
                    present.add(key)
                    state = self.targets.get(key)
                    if state is None:
                        address = key[1] if is_loopback(key[1]) else None
                        state = self.targets[key] = TargetState(*key, address=address, connect_port=key[2])
                    job = self._due(group, state, now)
                    if job is not None:
                        jobs.append(job)
        for key, state in list(self.targets.items()):
            if key not in present:
                del self.targets[key]  # deregistered by moto (a deleted target group)
            elif state.state == "draining" and state.drain_until is not None and now >= state.drain_until:
                group = next((b.target_groups.get(key[0]) for b in _elbv2_backends() if key[0] in b.target_groups),
                             None)
                if group is not None:
                    self._remove(group, state)
        return jobs

    def _due(self, group: Any, state: TargetState, now: float) -> tuple[TargetState, tuple[int, int], Any] | None:
        if state.state == "draining":
            return None
        if not group.load_balancer_arns:
            state.state, state.reason, state.description = "unused", "Target.NotInUse", (
                "Target group is not configured to receive traffic from the load balancer")
            return None
        if state.state == "unused":
            state.state, state.reason, state.description = "initial", "Elb.RegistrationInProgress", None
        if not group.health_check_enabled:
            state.state, state.reason, state.description = "unavailable", "Target.HealthCheckDisabled", (
                "Health checks are disabled")
            return None
        if state.state == "unavailable":
            state.state, state.reason = "initial", "Elb.RegistrationInProgress"
        if now < state.next_check:
            return None
        state.next_check = now + _int(group.health_check_interval_seconds, 30) * self.scale
        thresholds = (_int(group.healthy_threshold_count, 5), _int(group.unhealthy_threshold_count, 2))
        if state.address is None:
            outcome = self._task_outcome(state)
            return state, thresholds, lambda: outcome
        port = state.connect_port or state.port
        if str(group.health_check_port or "traffic-port") != "traffic-port":
            port = _int(group.health_check_port, port)
        path = group.health_check_path or "/"
        timeout = max(0.05, _int(group.health_check_timeout_seconds, 5) * self.scale)
        matcher = str((group.matcher or {}).get("HttpCode") or "200")
        https = (group.health_check_protocol or "HTTP").upper() == "HTTPS"
        address = state.address
        return state, thresholds, lambda: http_check(address, port, path, timeout, matcher, https)

    def _task_outcome(self, state: TargetState) -> Outcome:
        """Targets the sandbox never connects to: a simulated task's health follows the task (RUNNING
        and not UNHEALTHY passes); any other address fails (never connected to)."""
        task = self._tasks.get(state.task_arn or "")
        if task is None:
            return Outcome(False, "Target.FailedHealthChecks", "Health checks failed (the sandbox connects only "
                                                               "to loopback addresses and the tasks it runs)")
        if task.last_status == "RUNNING" and getattr(task, "health_status", None) != "UNHEALTHY":
            return PASSED
        return Outcome(False, "Target.FailedHealthChecks", "Health checks failed")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except PermissionError:
            return True  # not root: the listener falls back to a free port and says so
        except OSError:
            return False
    return True


def _host_port(task: Any, container_name: str | None, container_port: int) -> int | None:
    for container in task.containers:
        if container_name and container.name != container_name:
            continue
        for binding in getattr(container, "network_bindings", None) or []:
            if int(binding.get("containerPort") or 0) == container_port and binding.get("hostPort"):
                return int(binding["hostPort"])
    return None


def _container_instance_ec2_id(task: Any) -> str | None:
    arn = getattr(task, "container_instance_arn", None)
    if not arn:
        return None
    with contextlib.suppress(Exception):
        backend = _ecs_backend(task._account_id, task.region_name)
        instance = backend.container_instances.get(task.cluster_name, {}).get(arn.rsplit("/", 1)[-1])
        return getattr(instance, "ec2_instance_id", None)
    return None
