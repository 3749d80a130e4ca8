"""The sandbox: moto's server behind the sandbox middleware, the scheduler and the registry.

One sandbox per process: moto keeps its state in process-wide backends, which the sandbox
resets on start (do not run ``moto.mock_aws`` tests in a process while a Sandbox runs).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from moto.ecs import ecs_backends
from moto.moto_api._internal import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import context, elb, patches
from .context import DEFAULT_TASK_START_SECONDS, SandboxContext
from .ecr_public import EcrPublicRouter, EcrPublicService
from .faults import FaultInjector, Faults
from .middleware import Call, CallDetail, SandboxMiddleware
from .rate_limits import RateLimiter, profile_from_env
from .registry import RegistryClient, RegistryProcess, find_program
from .runtimes import TaskRuntime, create_runtime, runtime_name
from .scheduler import Scheduler
from .timing import clock_scale, timing_from_env, timing_of

log = logging.getLogger(__name__)

DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"  # noqa: S105 - moto accepts any credentials
_start_lock = threading.Lock()
_UNSET: Any = object()
VALIDATE_RESPONSES_ENV = "CI_ECS_SANDBOX_VALIDATE_RESPONSES"
VIOLATIONS_FILE_ENV = "CI_ECS_SANDBOX_VIOLATIONS_FILE"
MINUTE_SECONDS_ENV = "CI_ECS_SANDBOX_MINUTE_SECONDS"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs every request to stderr; the sandbox keeps its own request log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Sandbox:
    """A local ECS/ECR/EC2 endpoint any AWS client can use.

    Example::

        with Sandbox(task_start_seconds=0.2) as sb:
            ecs = boto3.client("ecs", endpoint_url=sb.endpoint_url, region_name="us-east-1")
            ...
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        registry_port: int = 0,
        task_start_seconds: float | None = None,
        region: str = "us-east-1",
        faults: Faults | None = None,
        start_registry: bool = True,
        validate_responses: bool | None = None,
        runtime: str | None = None,
        docker_host: str | None = None,
        minute_seconds: float | None = None,
        violations_file: str | None = None,
        rate_limits: str | None = None,
        timing: str | None = None,
    ) -> None:
        """``timing``: the timing profile (``timing.py``): "fast" (default: the CI_ECS_SANDBOX_TIMING environment
        variable, else fast; tasks start in ``task_start_seconds``, 1 s unless given) or "ecs" (Fargate-like
        durations in AWS seconds, times ``minute_seconds / 60``). A ``task_start_seconds`` given (or the faults')
        wins over the profile's, in real seconds.

        ``rate_limits``: "aws" applies AWS's documented request throttling (token buckets per action category,
        account and region: rate_limits.py); "none" (default: the CI_ECS_SANDBOX_RATE_LIMITS environment variable,
        else none) leaves every call unlimited.

        ``validate_responses`` (test mode; default: the CI_ECS_SANDBOX_VALIDATE_RESPONSES
        environment variable) checks every response against botocore's output shape for its
        operation; ``take_violations()`` returns what it found, and each is also appended to
        ``violations_file`` (default: the CI_ECS_SANDBOX_VIOLATIONS_FILE environment variable), one
        line each: how a sandbox in a child process reports to the tests.

        ``runtime`` is "simulated" (tasks are state only) or "docker" (tasks are real containers
        on the engine at ``docker_host``, else DOCKER_HOST or the default socket); default: the
        CI_ECS_SANDBOX_RUNTIME environment variable, else "simulated". A docker runtime without
        an engine makes ``start()`` raise ``RuntimeUnavailableError`` (one line)."""
        self.host = host
        self.port = port
        self.registry_port = registry_port
        self.region = region
        self.start_registry = start_registry
        if validate_responses is None:
            validate_responses = os.environ.get(VALIDATE_RESPONSES_ENV, "").lower() in ("1", "true", "yes")
        self.validate_responses = validate_responses
        self.violations_file = violations_file or os.environ.get(VIOLATIONS_FILE_ENV) or None
        self.runtime = runtime_name(runtime)
        # How long a bake-time / hook-timeout minute lasts (default: the environment, else 60 s).
        self.minute_seconds = float(minute_seconds if minute_seconds is not None
                                    else os.environ.get(MINUTE_SECONDS_ENV) or 60.0)
        self.docker_host = docker_host
        self.task_runtime: TaskRuntime | None = None
        faults = faults or Faults()
        if faults.task_start_seconds is not None:
            task_start_seconds = faults.task_start_seconds
        self.timing = timing_profile = timing_of(timing or timing_from_env(os.environ))
        scale = clock_scale(self.minute_seconds)
        started = timing_profile.start_seconds(scale, task_start_seconds)
        self._initial_faults = faults
        self._task_start_seconds = DEFAULT_TASK_START_SECONDS if started is None else started
        self._task_stop_seconds = timing_profile.stop_seconds(scale)
        self.injector = FaultInjector(faults)
        # On the sandbox's clock too: a scaled sandbox refills its buckets per scaled AWS second.
        self.rate_limiter = RateLimiter(rate_limits or profile_from_env(os.environ), scale=scale)
        self.registry_note = ""
        self._ctx: SandboxContext | None = None
        self._server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._scheduler: Scheduler | None = None
        self._registry_process: RegistryProcess | None = None
        self._middleware: SandboxMiddleware | None = None
        self._forwarder: elb.Forwarder | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Start the registry (when installed), the HTTP server and the scheduler."""
        with _start_lock:
            if context.ACTIVE is not None:
                raise RuntimeError("a ci-ecs sandbox is already running in this process (moto's state is global)")
            task_runtime = create_runtime(self.runtime, self.docker_host)
            task_runtime.open()  # first: a docker runtime without an engine fails before anything starts
            self.task_runtime = task_runtime
            try:
                registry = self._start_registry()
            except BaseException:
                task_runtime.close()
                self.task_runtime = None
                raise
            ctx = SandboxContext(
                region=self.region, task_runtime=task_runtime, task_start_seconds=self._task_start_seconds,
                registry=registry, minute_seconds=self.minute_seconds, task_stop_seconds=self._task_stop_seconds,
            )
            context.ACTIVE = ctx
            self._ctx = ctx
        try:
            moto_api_backend.reset()  # a fresh account: no leftovers from an earlier sandbox or mock
            patches.install()
            self._forwarder = elb.start(ctx)  # load balancers that forward (elb/)
            # moto has no ECR Public: the sandbox serves it in front of moto (ecr_public.py).
            app = EcrPublicRouter(DomainDispatcherApplication(create_backend_app),
                                  EcrPublicService(ctx.registry, lambda: self.endpoint_url))
            self._middleware = SandboxMiddleware(
                app, self.injector, ctx.lock, self.validate_responses, self.violations_file, self.rate_limiter
            )
            self._server = make_server(
                self.host, self.port, self._middleware, threaded=True, request_handler=_QuietHandler
            )
            self.port = int(self._server.server_address[1])
            self._server_thread = threading.Thread(
                target=self._server.serve_forever, name="ci-ecs-sandbox-http", daemon=True
            )
            self._server_thread.start()
            self._scheduler = Scheduler(ctx, interval=min(0.1, max(0.02, ctx.task_start_seconds / 5)))
            self._scheduler.start()
        except BaseException:
            self.stop()
            raise
        log.info("sandbox listening on %s", self.endpoint_url)
        return self

    def _start_registry(self) -> RegistryClient | None:
        if not self.start_registry:
            self.registry_note = "registry disabled: control plane only"
            return None
        program = find_program()
        if program is None:
            self.registry_note = "docker-registry is not installed: control plane only (no ECR data plane)"
            log.warning(self.registry_note)
            return None
        self._registry_process = RegistryProcess(program, host=self.host, port=self.registry_port)
        client = self._registry_process.start()
        self.registry_port = self._registry_process.port
        return client

    def stop(self) -> None:
        """Stop everything this sandbox started (safe to call twice)."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=5)
            self._server_thread = None
        elb.stop(self._forwarder)
        self._forwarder = None
        if self.task_runtime is not None:
            self.task_runtime.close()  # the containers and network it made
            self.task_runtime = None
        if self._registry_process is not None:
            self._registry_process.stop()
            self._registry_process = None
        with _start_lock:
            if self._ctx is not None and context.ACTIVE is self._ctx:
                patches.uninstall()
                context.ACTIVE = None
            self._ctx = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties
    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` to give AWS clients (AWS_ENDPOINT_URL)."""
        return f"http://{self.host}:{self.port}"

    @property
    def registry(self) -> str | None:
        """``127.0.0.1:PORT`` of the ECR data plane, or None when there is no registry."""
        ctx = self._ctx
        return ctx.registry.address if ctx is not None and ctx.registry is not None else None

    def load_balancer_endpoints(self) -> dict[str, dict[int, str]]:
        """{load balancer DNSName: {listener port: URL where it answers}}: the URL is
        ``http://DNSNAME:PORT`` unless the port could not be bound (then a free port, also logged)."""
        return self._forwarder.endpoints() if self._forwarder is not None else {}

    def restart_counts(self, task_arn: str) -> dict[str, int]:
        """{container name: restarts} of a task: how often each container was restarted in place under its
        ``restartPolicy`` (``restart_policy.py``). ECS reports this count as RestartCount in the task metadata
        endpoint and Container Insights, not in DescribeTasks; {} for a task the sandbox does not know."""
        ctx = self._ctx
        if ctx is None:
            return {}
        with ctx.lock:
            for regions in list(ecs_backends.values()):
                for backend in list(regions.values()):
                    for tasks in list(backend.tasks.values()):
                        task = tasks.get(task_arn)
                        if task is not None:
                            return {str(c.name): int(getattr(c, "sb_restart_count", 0)) for c in task.containers}
        return {}

    @property
    def request_log(self) -> list[Call]:
        """The AWS calls received (the newest 10,000), in order, as (service, operation) named tuples."""
        return list(self._middleware.request_log) if self._middleware else []

    @property
    def request_details(self) -> list[CallDetail]:
        """The same calls with region, HTTP status and the fault injected, if any."""
        return list(self._middleware.request_details) if self._middleware else []

    def clear_request_log(self) -> None:
        """Forget the calls logged so far."""
        if self._middleware is not None:
            self._middleware.clear_request_log()

    def take_violations(self) -> list[str]:
        """Responses that did not match botocore's model (test mode), and moto failures, since
        the last call; forgets them."""
        return self._middleware.take_violations() if self._middleware is not None else []

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self.injector.faults

    @property
    def task_start_seconds(self) -> float:
        """Seconds from PROVISIONING to RUNNING for tasks started from now on."""
        return self._ctx.task_start_seconds if self._ctx else self._task_start_seconds

    def set_faults(
        self,
        throttle_rate: float = _UNSET,
        error_5xx_operations: str | Iterable[str] = _UNSET,
        error_5xx_times: int | None = _UNSET,
        task_start_seconds: float = _UNSET,
        denied_operations: str | Iterable[str] = _UNSET,
    ) -> Faults:
        """Change fault injection while running; arguments left out keep their value.

        Counters restart: ``error_5xx_times=1`` fails the next matching call once.
        """
        changes: dict[str, Any] = {}
        if throttle_rate is not _UNSET:
            changes["throttle_rate"] = float(throttle_rate)
        if error_5xx_operations is not _UNSET:
            changes["error_5xx_operations"] = error_5xx_operations
        if error_5xx_times is not _UNSET:
            changes["error_5xx_times"] = error_5xx_times
        if denied_operations is not _UNSET:
            changes["denied_operations"] = denied_operations
        if task_start_seconds is not _UNSET:
            changes["task_start_seconds"] = float(task_start_seconds)
            self._task_start_seconds = float(task_start_seconds)
            if self._ctx is not None:
                self._ctx.task_start_seconds = float(task_start_seconds)
        faults = self.injector.faults.with_changes(**changes)
        self.injector.configure(faults)
        return faults

    def env(self) -> dict[str, str]:
        """Environment a child process needs to use the sandbox with any AWS SDK or CLI."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


def _echo(line: str) -> None:
    # Flushed at once: CI logs and parent processes read these lines through a pipe.
    print(line, flush=True)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 4566,
    registry_port: int = 0,
    task_start_seconds: float | None = None,
    faults: Faults | None = None,
    echo: Callable[[str], Any] = _echo,
    runtime: str | None = None,
    minute_seconds: float | None = None,
    rate_limits: str | None = None,
    timing: str | None = None,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM, then stop all it started.

    ``faults`` defaults to the CI_ECS_SANDBOX_* environment variables; ``task_start_seconds``
    (when given) wins over the faults' and the environment's value. ``runtime``, ``rate_limits``, ``timing``: see
    ``Sandbox``.
    """
    faults = faults if faults is not None else Faults.from_env()
    if task_start_seconds is not None:
        faults = faults.with_changes(task_start_seconds=task_start_seconds)
    stop = threading.Event()
    previous: Any = None
    in_main_thread = threading.current_thread() is threading.main_thread()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if in_main_thread:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with Sandbox(host=host, port=port, registry_port=registry_port, faults=faults, runtime=runtime,
                     minute_seconds=minute_seconds, rate_limits=rate_limits, timing=timing) as sb:
            echo(f"AWS_ENDPOINT_URL={sb.endpoint_url}")
            if sb.registry:
                echo(f"ECR registry: {sb.registry} (docker push {sb.registry}/REPOSITORY:TAG)")
            else:
                echo(sb.registry_note)
            if sb.runtime == "docker":
                details = ["docker runtime: tasks are containers; public IPs are loopback addresses"]
            else:
                details = [f"task start {sb.task_start_seconds:g}s"]
            if sb.timing.name != "fast":
                details.append(f"timing {sb.timing.name}, an AWS second lasts {clock_scale(sb.minute_seconds):g}s")
            if faults.throttle_rate:
                details.append(f"throttle rate {faults.throttle_rate:g}")
            if sb.rate_limiter.enabled:
                details.append(f"rate limits {sb.rate_limiter.profile}")
            if faults.error_5xx_operations:
                details.append("5xx on " + ",".join(faults.error_5xx_operations))
            try:
                # Inside the try: a Ctrl-C sent as soon as the ready line is read (a script, a test) is a stop.
                echo("sandbox ready (" + ", ".join(details) + "); Ctrl-C to stop")
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        echo("sandbox stopped")
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
