"""The `ci-ecs` command: parse, build the config, call the library, print the result, map errors to exit codes.

Heavy imports (boto3, pydantic) happen inside the commands so `ci-ecs --help` starts fast.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ci_ecs import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CREDENTIALS, EXIT_TIMEOUT, EXIT_AWS_UNAVAILABLE = 0, 1, 2, 3, 4, 5
# A cancel exits 128 + the signal's number, as a shell reports a process the signal ended.
CANCEL_SIGNALS: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
OUTPUT_FORMATS = ("text", "json", "github", "gitlab")


def _env(name: str) -> str:
    return f"CI_ECS_{name}"


class _Lines(click.ParamType):
    """A repeatable option whose environment variable holds one value per line (render's multi-line format).

    click splits a multiple option's variable on whitespace; a value such as `GREETING=hello world` has spaces.
    """

    name = "KEY=VALUE"
    envvar_list_splitter = "\n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value


def _pairs(values: tuple[str, ...], what: str, option: str) -> dict[str, str]:
    """`("A=1", "B=x=y")` -> {"A": "1", "B": "x=y"}; blank lines and `#` comments are skipped."""
    from ci_ecs.errors import ConfigError

    out: dict[str, str] = {}
    for raw in values:
        line = raw.strip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            # Never echo the line: it may be a secret typed without its name.
            raise ConfigError(f"{what} must be NAME=VALUE (a line without '=' was given)", key=option)
        out[name.strip()] = value
    return out


def _images(values: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """`--image REF` (the deployed image) and `--image NAME=REF` (that container's image); an image
    reference never contains '=', so the two cannot be confused."""
    from ci_ecs.errors import ConfigError

    bare = [v.strip() for v in values if v.strip() and "=" not in v]
    if len(bare) > 1:
        raise ConfigError(f"give one image without a container name (got {len(bare)}); name the others "
                          "as CONTAINER=IMAGE", key="--image")
    named = {k: v.strip() for k, v in _pairs(tuple(v for v in values if "=" in v), "--image", "--image").items()}
    return (bare[0] if bare else None), named


def deploy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `deploy` and `plan` share; each also reads CI_ECS_<NAME> (flag > env > file > default)."""
    options = [
        click.option("-c", "--config", "config_path", envvar=_env("CONFIG"), default="ci-ecs.yml",
                     show_default=True, help="Config file (YAML)."),
        click.option("--cluster", envvar=_env("CLUSTER"), help="ECS cluster name."),
        click.option("--service", envvar=_env("SERVICE"), help="ECS service name."),
        click.option("--image", "images", envvar=_env("IMAGE"), multiple=True,
                     help="Image reference to deploy; CONTAINER=IMAGE for a named container (repeatable; "
                          "CI_ECS_IMAGE: one reference or lines of CONTAINER=IMAGE)."),
        click.option("--tag", envvar=[_env("IMAGE_TAG"), _env("TAG")],
                     help="Image tag in the config's ECR repository (CI_ECS_IMAGE_TAG)."),
        click.option("--desired-count", type=click.IntRange(min=0), envvar=_env("DESIRED_COUNT"),
                     help="Number of tasks to run."),
        click.option("--task-definition", envvar=[_env("TASK_DEFINITION"), _env("TASK_DEFINITION_FAMILY")],
                     help="Instead of the config's task: a native ECS task definition file (JSON/YAML), a family "
                          "in ECS (its latest ACTIVE revision with the image and --env applied), or "
                          "FAMILY:REVISION / an ARN (deployed as is)."),
        click.option("--container-name", "image_containers", envvar=_env("CONTAINER_NAME"), multiple=True,
                     help="Container(s) that get the deployed image (repeatable; commas or spaces separate names)."),
        click.option("--env", "environment", type=_Lines(), multiple=True,
                     envvar=[_env("ENV"), _env("ENVIRONMENT_VARIABLES")],
                     help="KEY=VALUE set on the image container(s), replacing the same name (repeatable; "
                          "CI_ECS_ENV: one per line)."),
        click.option("--keep-null-value-keys", is_flag=True, default=None, envvar=_env("KEEP_NULL_VALUE_KEYS"),
                     help="Keep null values in a task definition file (they are dropped by default)."),
        click.option("--wait/--no-wait", default=None, envvar=_env("WAIT"),
                     help="Wait for the deployment to complete (default: wait)."),
        click.option("--timeout", type=click.IntRange(min=1), envvar=_env("TIMEOUT"),
                     help="Seconds the run may take, from its start: the wait, every AWS call and its retries "
                          "(default 900; exit 4)."),
        click.option("--wait-until", type=click.Choice(("completed", "traffic-shifted")), envvar=_env("WAIT_UNTIL"),
                     help="Blue/green, canary, linear: wait until the deployment is SUCCESSFUL (default), or only "
                          "until production traffic has moved, leaving the bake to ECS."),
        click.option("--rollback/--no-rollback", default=None, envvar=_env("ROLLBACK"),
                     help="Roll back to the previous task definition when the deployment fails "
                          "(default: on, unless the service's circuit breaker rolls back)."),
        click.option("--force-new-deployment", is_flag=True, default=None, envvar=_env("FORCE_NEW_DEPLOYMENT"),
                     help="Start a new deployment even when nothing changed."),
        click.option("--create", is_flag=True, default=None, envvar=_env("CREATE"),
                     help="Create the service when it does not exist, even though the config has no service: "
                          "section (without either, a missing service is exit 2, as with aws-actions)."),
        click.option("--verify/--no-verify", "verify", default=None, envvar=_env("VERIFY"),
                     help="After the deployment completed, probe every task (or the load balancer) over HTTP "
                          "(the config's `verify`, else its defaults); --no-verify skips it."),
        click.option("--output", "output_format", type=click.Choice(OUTPUT_FORMATS), envvar=_env("OUTPUT"),
                     default="text", show_default=True, help="Result format on stdout."),
        click.option("--region", envvar=_env("REGION"), help="AWS region (else AWS_REGION, profile)."),
        click.option("--profile", envvar=_env("PROFILE"), help="AWS profile (else AWS_PROFILE)."),
        click.option("--endpoint-url", envvar=_env("ENDPOINT_URL"),
                     help="AWS endpoint, e.g. the sandbox's (else AWS_ENDPOINT_URL)."),
        click.option("--assume-role-arn", envvar=_env("ASSUME_ROLE_ARN"), help="IAM role to assume first."),
        click.option("--debug", is_flag=True, envvar=_env("DEBUG"), help="Show tracebacks and AWS calls."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _task_source(value: str | None) -> dict[str, Any] | None:
    """`--task-definition`: a file when one exists (or the value looks like a path), else a task definition
    in ECS (family, family:revision, ARN)."""
    from ci_ecs.config import is_task_definition_ref

    if not value:
        return None
    path = Path(value)
    if path.is_file() or not is_task_definition_ref(value):
        return {"file": str(path.resolve())}
    return {"definition": value}


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Flag/env values as dotted config keys (None = not given)."""
    image, images = _images(tuple(params.get("images") or ()))
    environment = _pairs(tuple(params.get("environment") or ()), "--env", "--env")
    return {
        # A task definition from the flags (file or ECS) replaces the config's whole task section.
        "task": _task_source(params.get("task_definition")),
        "cluster": params.get("cluster"),
        "service.name": params.get("service"),
        "image_uri": image,
        "image.tag": params.get("tag"),
        "service.desired_count": params.get("desired_count"),
        "task.image_containers": list(params["image_containers"]) if params.get("image_containers") else None,
        "task.images": images or None,
        "task.environment_overrides": environment or None,
        "task.keep_null_value_keys": params.get("keep_null_value_keys"),
        "deploy.wait": params.get("wait"),
        "deploy.timeout": params.get("timeout"),
        "deploy.wait_until": params.get("wait_until"),
        "deploy.rollback": params.get("rollback"),
        "deploy.force_new_deployment": params.get("force_new_deployment"),
        "verify_enabled": params.get("verify"),
        "create": params.get("create"),
        "region": params.get("region"),
        "profile": params.get("profile"),
        "endpoint_url": params.get("endpoint_url"),
        "assume_role_arn": params.get("assume_role_arn"),
    }


def _setup_logging(debug: bool) -> None:
    from ci_ecs.output import ProgressHandler
    from ci_ecs.redact import RedactingFilter, register_environment_secrets

    register_environment_secrets()
    handler = ProgressHandler()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("ci_ecs")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    if debug:
        # botocore's request log carries signed headers: it goes through the same redacting handler.
        boto = logging.getLogger("botocore.endpoint")
        boto.handlers[:] = [handler]
        boto.setLevel(logging.DEBUG)
        boto.propagate = False


class _Signals:
    """Whether a cancel may still raise where the main thread is (not once the result is being printed)."""

    raising = False


def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGINT: cancel every AWS call (ci_ecs.aws.cancel_calls: in flight, retried or to come, in every
    thread) and raise DeployCancelledError where the main thread is, so the run ends within 2 s with its result.
    A second signal changes nothing: the first one's ending is under way."""
    from ci_ecs.aws import cancel_calls, cancel_requested
    from ci_ecs.errors import DeployCancelledError

    if cancel_requested() is not None:
        return
    name = signal.Signals(signum).name
    message = f"cancelled ({name}); what was done so far stays done"
    code = CANCEL_SIGNALS.get(signum, 128 + signum)
    cancel_calls(code, message)
    if _Signals.raising:
        _Signals.raising = False
        raise DeployCancelledError(message, code)


def _report_error(exc: BaseException, output_format: str, debug: bool) -> int:
    """Print an error as one line (plus reasons for a failed deploy); return its exit code."""
    from ci_ecs.errors import (
        CiEcsError,
        DeployCancelledError,
        DeploymentFailedError,
        DeployTimeoutError,
        escape_control,
    )
    from ci_ecs.output import emit
    from ci_ecs.redact import redact

    if debug:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    if isinstance(exc, KeyboardInterrupt):
        click.echo("ci-ecs: cancelled (SIGINT); what was done so far stays done", err=True)
        return 130
    if not isinstance(exc, CiEcsError):
        message = redact(f"internal error: {type(exc).__name__}: {escape_control(str(exc))} "
                         "(run with --debug for details)")
        click.echo(f"error: {message}", err=True)
        if output_format != "text":
            emit({"error": message}, "json" if output_format == "json" else output_format)
        return EXIT_FAILED
    problems = getattr(exc, "problems", None)  # a PreflightError: every problem, one line each
    if problems and len(problems) > 1:
        for problem in problems:
            click.echo(redact(f"error: {problem.message}"), err=True)
    else:
        click.echo(redact(f"error: {exc.message}"), err=True)
    if isinstance(exc, DeploymentFailedError):
        tails = list(exc.log_tails)
        for reason in exc.stopped_reasons:
            click.echo(redact(f"  stopped: {escape_control(reason)}"), err=True)
            mine = [t for t in tails if f"task {t.task_id}:" in reason]
            tails = [t for t in tails if t not in mine]
            _print_tails(mine, "    ")
        if tails:  # tasks that did not stop (a failed verify)
            for task_id in dict.fromkeys(t.task_id for t in tails):
                click.echo(redact(f"  logs of task {escape_control(task_id)}:"), err=True)
                _print_tails([t for t in tails if t.task_id == task_id], "    ")
        for event in exc.events:
            click.echo(redact(f"  event: {escape_control(event)}"), err=True)
    # Machine-readable formats always get the result, with `error` set, whatever failed (a config error
    # included): a pipeline reads one JSON object or one set of outputs either way.
    result = exc.result
    if output_format != "text" or (isinstance(exc, (DeploymentFailedError, DeployTimeoutError, DeployCancelledError))
                                   and result):
        extra = {"problems": exc.as_json()} if hasattr(exc, "as_json") and problems else {}
        emit({**(result or {}), "error": exc.message, **extra}, output_format)
    return exc.exit_code


def _print_tails(tails: list[Any], indent: str) -> None:
    """Each container's last log lines, one escaped line each (a log line is the container's, not ours)."""
    from ci_ecs.errors import escape_control
    from ci_ecs.redact import redact

    for tail in tails:
        click.echo(redact(f"{indent}{escape_control(tail.heading())}"), err=True)
        for line in tail.lines:
            click.echo(redact(f"{indent}| {escape_control(line)}"), err=True)


@contextlib.contextmanager
def _command(output_format: str, debug: bool) -> Iterator[None]:
    """Progress logging, SIGTERM/SIGINT as a cancel, and the one place that maps every error to its exit code.

    A cancel decides the exit code (143/130) whatever the run did after it: an error it caused, or a result.
    """
    from ci_ecs.aws import cancel_requested, reset_cancel

    _setup_logging(debug)
    # When the process ends, the interpreter's last garbage collection walks every object boto and pydantic
    # made (~0.15 s); the command is done by then, so what exists is frozen instead (gc.freeze).
    import atexit
    import gc

    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    reset_cancel()
    previous = {signum: signal.signal(signum, _on_signal) for signum in CANCEL_SIGNALS}
    _Signals.raising = True
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        _Signals.raising = False
        cancelled = cancel_requested()
        if cancelled is not None and getattr(exc, "exit_code", None) != cancelled.exit_code:
            cancelled.result = getattr(exc, "result", None)  # e.g. a call the cancel cut short, reported as such
            exc = cancelled
        code = _report_error(exc, output_format, debug)
        _exit(code, cancelled=cancelled is not None)
    else:
        _Signals.raising = False
        cancelled = cancel_requested()
        if cancelled is not None:  # the run ended after the signal (its result is printed): still a cancel
            click.echo(f"error: {cancelled.message}", err=True)
            _exit(cancelled.exit_code, cancelled=True)
    finally:
        _Signals.raising = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit(code: int, *, cancelled: bool) -> None:
    """sys.exit(code); after a cancel, without waiting long for threads still busy (an image build in a pool
    thread): the interpreter would join them before exiting, and a cancel ends within 2 s."""
    if cancelled:
        import os
        import threading
        import time

        end = time.monotonic() + 0.5
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(max(0.0, end - time.monotonic()))
        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    sys.exit(code)


def _run_deploy(params: dict[str, Any], *, plan: bool) -> None:
    debug = bool(params.get("debug"))
    output_format = params.get("output_format") or "text"
    with _command(output_format, debug):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.aws import check_profile
            from ci_ecs.config import load_config
            from ci_ecs.deploy import deploy
            from ci_ecs.output import emit

            config_path = params["config_path"]
            # Given by -c or CI_ECS_CONFIG (whatever its spelling, even "ci-ecs.yml"), the file must exist.
            source = click.get_current_context().get_parameter_source("config_path")
            explicit = source not in (None, click.core.ParameterSource.DEFAULT)
            config = load_config(config_path, _overrides(params), require_file=explicit)
            check_profile(config.profile)  # before anything else reads the AWS config files
            base_dir = Path(config_path).resolve().parent
            result = deploy(config, base_dir=base_dir, dry_run=plan or bool(params.get("dry_run")))
            emit(result.as_json(), output_format, plan=plan)
        except CiEcsError as exc:
            if exc.result is None:  # failed before the deploy started (e.g. the config): an empty result
                from ci_ecs.deploy import DeployResult

                exc.result = DeployResult(cluster=params.get("cluster") or "", service=params.get("service") or "",
                                          dryRun=plan or bool(params.get("dry_run"))).as_json()
            raise


EXIT_CODES_HELP = """Exit codes:

\b
  0        deployed (or nothing to do)
  1        the deployment failed (rolled back or not)
  2        bad usage or configuration (a region that does not exist included); nothing written
  3        credentials or permission (AccessDenied, iam:PassRole)
  4        timed out (--timeout bounds the whole run, AWS calls and their retries included)
  5        AWS unreachable or failing after retries (endpoint, DNS/TLS, throttling, HTTP 5xx)
  130/143  cancelled (SIGINT/SIGTERM): within 2 s, an AWS call in flight included"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="ci-ecs")
def main() -> None:
    """Publish a Docker container to Amazon ECS from any CI system, safely re-runnable."""


@main.command(epilog=EXIT_CODES_HELP)
@deploy_options
@click.option("--dry-run", is_flag=True, default=None, envvar=_env("DRY_RUN"),
              help="Describe and diff only; write nothing to AWS.")
def deploy(**params: Any) -> None:
    """Deploy: ECR repository, image, cluster, task definition, service; wait; report the IPs."""
    _run_deploy(params, plan=False)


@main.command()
@deploy_options
def plan(**params: Any) -> None:
    """Show what deploy would change, as a readable diff; writes nothing (exit 0)."""
    _run_deploy(params, plan=True)


def register_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `register`: deploy's, less those about a service and its wait."""
    wanted = {"config_path", "image", "images", "tag", "task_definition", "image_containers", "environment",
              "keep_null_value_keys", "output_format", "region", "profile", "endpoint_url", "assume_role_arn",
              "debug"}
    probe = deploy_options(lambda **_: None)
    for param in reversed(getattr(probe, "__click_params__", [])):
        if param.name in wanted:
            func = _attach(func, param)
    return func


def _attach(func: Callable[..., Any], param: click.Parameter) -> Callable[..., Any]:
    # What click.option does: the command collects its parameters from the function's __click_params__.
    func.__dict__.setdefault("__click_params__", []).append(param)
    return func


@main.command()
@register_options
@click.option("--dry-run", is_flag=True, default=None, envvar=_env("DRY_RUN"),
              help="Describe and diff only; register nothing.")
def register(**params: Any) -> None:
    """Register the task definition only (no service), when it differs from the latest ACTIVE revision.

    For one-off and scheduled tasks; prints taskDefinitionArn. Safe to re-run: an unchanged definition
    registers nothing.
    """
    debug = bool(params.get("debug"))
    output_format = params.get("output_format") or "text"
    with _command(output_format, debug):
        from ci_ecs.errors import CiEcsError

        dry_run = bool(params.get("dry_run"))
        try:
            from ci_ecs.aws import check_profile
            from ci_ecs.config import load_config
            from ci_ecs.deploy import register_task_definitions
            from ci_ecs.output import emit

            config_path = params["config_path"]
            source = click.get_current_context().get_parameter_source("config_path")
            explicit = source not in (None, click.core.ParameterSource.DEFAULT)
            config = load_config(config_path, _overrides(params), require_file=explicit, purpose="register")
            check_profile(config.profile)
            result = register_task_definitions(config, base_dir=Path(config_path).resolve().parent,
                                               dry_run=dry_run)
            if output_format == "json":
                emit(result.as_json(), "json")
            else:
                from ci_ecs.output import write_dotenv, write_github

                for line in result.summary_lines():
                    click.echo(line)
                if output_format == "github":
                    write_github(result.as_json())
                elif output_format == "gitlab":
                    import os

                    write_dotenv(result.as_json(), os.environ.get("CI_ECS_DOTENV", "ci-ecs.env"))
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.deploy import RegisterResult

                exc.result = RegisterResult(dryRun=dry_run).as_json()
            raise


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=4566, show_default=True, help="AWS endpoint port.")
@click.option("--registry-port", type=int, default=0, help="Registry port (default: any free port).")
@click.option("--task-start-seconds", type=click.FloatRange(min=0), default=None,
              help="Seconds a task takes from PROVISIONING to RUNNING (CI_ECS_SANDBOX_TASK_START_SECONDS).")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), default=None,
              help="Fraction of calls answered with ThrottlingException (CI_ECS_SANDBOX_THROTTLE_RATE).")
@click.option("--fail-operations", default=None,
              help="Comma-separated operations answered with HTTP 503, e.g. ecs:RegisterTaskDefinition "
                   "(CI_ECS_SANDBOX_FAIL_OPERATIONS).")
@click.option("--deny-operations", default=None,
              help="Comma-separated operations answered with AccessDeniedException, as IAM answers a policy "
                   "without them (CI_ECS_SANDBOX_DENY_OPERATIONS).")
@click.option("--runtime", type=click.Choice(("simulated", "docker")), envvar="CI_ECS_SANDBOX_RUNTIME",
              default="simulated", show_default=True,
              help="simulated: tasks are state only; docker: tasks are real containers on the Docker engine "
                   "(DOCKER_HOST), public IPs are loopback addresses (CI_ECS_SANDBOX_RUNTIME).")
@click.option("--minute-seconds", type=click.FloatRange(min=0, min_open=True), envvar="CI_ECS_SANDBOX_MINUTE_SECONDS",
              default=None, help="Seconds a bake-time minute lasts (CI_ECS_SANDBOX_MINUTE_SECONDS; default 60).")
def sandbox(host: str, port: int, registry_port: int, task_start_seconds: float | None,
            throttle_rate: float | None, fail_operations: str | None, deny_operations: str | None,
            runtime: str, minute_seconds: float | None) -> None:
    """Run the local AWS stand-in (moto + an ECS scheduler + a registry) in the foreground."""
    try:
        from ci_ecs.sandbox import serve_forever
        from ci_ecs.sandbox.faults import Faults, parse_operations
        from ci_ecs.sandbox.registry import RegistryError
        from ci_ecs.sandbox.runtimes import RuntimeUnavailableError
    except ImportError as exc:
        click.echo(f"error: the sandbox needs the [sandbox] extra: pip install 'ci-ecs[sandbox]' ({exc})",
                   err=True)
        sys.exit(EXIT_USAGE)
    faults = Faults.from_env()
    changes: dict[str, Any] = {}
    if throttle_rate is not None:
        changes["throttle_rate"] = throttle_rate
    if fail_operations is not None:
        changes["error_5xx_operations"] = parse_operations(fail_operations)
    if deny_operations is not None:
        changes["denied_operations"] = parse_operations(deny_operations)
    if changes:
        import dataclasses

        faults = dataclasses.replace(faults, **changes)
    try:
        serve_forever(host=host, port=port, registry_port=registry_port, task_start_seconds=task_start_seconds,
                      faults=faults, echo=click.echo, runtime=runtime, minute_seconds=minute_seconds)
    except (RuntimeUnavailableError, RegistryError) as exc:  # no engine; the registry port taken
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:  # typically the port is taken
        click.echo(f"error: cannot serve on {host}:{port}: {exc.strerror or exc} (try --port)", err=True)
        sys.exit(EXIT_USAGE)


@main.command()
@click.option("-c", "--config", "config_path", envvar=_env("CONFIG"), default="ci-ecs.yml", show_default=True,
              help="Config file (YAML): its repository and image sections.")
@click.option("--tag", envvar=[_env("IMAGE_TAG"), _env("TAG")], help="Tag to push (CI_ECS_IMAGE_TAG).")
@click.option("--region", envvar=_env("REGION"), help="AWS region (else AWS_REGION, profile).")
@click.option("--profile", envvar=_env("PROFILE"), help="AWS profile (else AWS_PROFILE).")
@click.option("--endpoint-url", envvar=_env("ENDPOINT_URL"), help="AWS endpoint (else AWS_ENDPOINT_URL).")
@click.option("--assume-role-arn", envvar=_env("ASSUME_ROLE_ARN"), help="IAM role to assume first.")
@click.option("--dry-run", is_flag=True, default=None, envvar=_env("DRY_RUN"), help="Compare only; push nothing.")
@click.option("--output", "output_format", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="Result format on stdout.")
@click.option("--debug", is_flag=True, envvar=_env("DEBUG"), help="Show tracebacks and AWS calls.")
def push(**params: Any) -> None:
    """Put the image into ECR (build, push a local image, or copy from a registry), skipping what is there."""
    output_format = params.get("output_format") or "text"
    with _command(output_format, bool(params.get("debug"))):
        from ci_ecs.aws import ClientFactory, check_profile
        from ci_ecs.config import load_config
        from ci_ecs.deploy import aws_settings
        from ci_ecs.image import push_image
        from ci_ecs.output import emit

        config_path = params["config_path"]
        overrides = {key: params.get(name) for key, name in (("image.tag", "tag"), ("region", "region"),
                     ("profile", "profile"), ("endpoint_url", "endpoint_url"), ("assume_role_arn", "assume_role_arn"))}
        config = load_config(config_path, overrides, require_file=True, purpose="push")
        check_profile(config.profile)
        image = push_image(config, ClientFactory(aws_settings(config)), dry_run=bool(params.get("dry_run")),
                           base_dir=Path(config_path).resolve().parent)
        result = {"imageUri": image.uri, "imageDigest": image.digest, "imagePushed": image.pushed}
        if output_format == "json":
            emit(result, "json")
        else:
            click.echo(f"image: {image.uri} ({'pushed' if image.pushed else 'already in ECR'})")


@main.command("iam-policy")
@click.option("-c", "--config", "config_path", envvar=_env("CONFIG"), default="ci-ecs.yml", show_default=True,
              help="Config file (YAML).")
@click.option("--cluster", envvar=_env("CLUSTER"), help="ECS cluster name.")
@click.option("--service", envvar=_env("SERVICE"), help="ECS service name.")
@click.option("--region", envvar=_env("REGION"), help="Region in the ARNs (default: the config's, else *).")
@click.option("--account-id", default="*", show_default=True, help="Account id in the ARNs.")
def iam_policy_command(config_path: str, cluster: str | None, service: str | None, region: str | None,
                       account_id: str) -> None:
    """Print the least-privilege IAM policy (JSON) that `ci-ecs deploy` needs for this config."""
    with _command("text", False):
        import json

        from ci_ecs.config import load_config
        from ci_ecs.iam import iam_policy

        config = load_config(config_path, {"cluster": cluster, "service.name": service, "region": region},
                             require_file=True)
        policy = iam_policy(config, account_id=account_id, base_dir=Path(config_path).resolve().parent)
        click.echo(json.dumps(policy, indent=2))


@main.command()
@click.option("--output", "output_format", type=click.Choice(OUTPUT_FORMATS), default="text", show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def demo(output_format: str, debug: bool) -> None:
    """Start the sandbox in-process, deploy examples/hello end to end, print the public IPs, stop."""
    with _command(output_format, debug):
        from ci_ecs.demo import run_demo
        from ci_ecs.output import emit

        result = run_demo(echo=lambda line: click.echo(line, err=True))
        emit(result.as_json(), output_format)



# `ci-ecs jenkins setup|run` (extra `jenkins`): the library code is ci_ecs/jenkins/; these only parse and print.
def jenkins_connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--url/--user/--token (JENKINS_URL, JENKINS_USER, JENKINS_API_TOKEN), --output and --debug."""
    options = [
        click.option("--url", envvar="JENKINS_URL",
                     help="Jenkins URL, e.g. https://jenkins.example.com/ (JENKINS_URL)."),
        click.option("--user", envvar="JENKINS_USER", help="Jenkins user the API token belongs to (JENKINS_USER)."),
        click.option("--token", envvar="JENKINS_API_TOKEN", show_envvar=False,
                     help="Jenkins API token; prefer JENKINS_API_TOKEN (arguments are visible to other users)."),
        click.option("--output", "output_format", type=click.Choice(("text", "json")), default="text",
                     show_default=True, help="json: one JSON object on stdout (console and progress on stderr)."),
        click.option("--debug", is_flag=True, envvar=_env("DEBUG"), help="Show tracebacks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _jenkins_connection(url: str | None, user: str | None, token: str | None) -> Any:
    from ci_ecs.errors import ConfigError
    from ci_ecs.jenkins.connection import Connection
    from ci_ecs.redact import register_secret

    register_secret(token)
    if not url:
        raise ConfigError("the Jenkins URL is required (--url or JENKINS_URL)", key="--url")
    return Connection(url=url, user=user or None, token=token or None)


@main.group("jenkins")
def jenkins_group() -> None:
    """Put the deployToEcs library and a deploy job into Jenkins, run it, follow it (extra: jenkins)."""


@jenkins_group.command("setup")
@click.option("-c", "--config", "config_path", envvar=_env("CONFIG"), default="ci-ecs.yml", show_default=True,
              help="The ci-ecs config the job deploys with (embedded in the job's Jenkinsfile).")
@click.option("--job", required=True, help="Name of the Pipeline job to create or update.")
@click.option("--folder", help="Folder the job lives in (must exist), e.g. team/apps.")
@click.option("--library-repo", required=True, help="Git URL of the repository holding jenkins/vars/deployToEcs.")
@click.option("--library-version", default=f"v{__version__}", show_default=True,
              help="Branch, tag or commit of the library (its default version in Jenkins).")
@click.option("--credentials-id", help="Jenkins credentials id: AWS keys for the step, and the library's checkout.")
@click.option("--install", default=None,
              help="The step's `install` parameter (what to pip-install on the agent; '' = ci-ecs on its PATH).")
@click.option("--print", "print_only", is_flag=True,
              help="Print the generated Jenkinsfile and stop (no Jenkins needed).")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@jenkins_connection_options
def jenkins_setup(config_path: str, job: str, folder: str | None, library_repo: str, library_version: str,
                  credentials_id: str | None, install: str | None, print_only: bool, dry_run: bool, url: str | None,
                  user: str | None, token: str | None, output_format: str, debug: bool) -> None:
    """Make the global library `ci-ecs` point at the repository and version, and create or update a Pipeline
    job that deploys the config with deployToEcs (a TAG parameter picks the image tag). Safe to re-run."""
    with _command(output_format, debug):
        import json

        from ci_ecs.jenkins.setup import build_request, run_setup

        request = build_request(config_path=config_path, job=job, folder=folder, library_repo=library_repo,
                                library_version=library_version, credentials_id=credentials_id, install=install)
        if print_only:
            from ci_ecs.jenkins.jenkinsfile import render_jenkinsfile

            click.echo(render_jenkinsfile(request.pipeline), nl=False)
            return
        from ci_ecs.jenkins.connection import connect

        jenkins = connect(_jenkins_connection(url, user, token))
        result = run_setup(jenkins, request, dry_run=dry_run, echo=lambda line: click.echo(
            line, err=output_format == "json"))
        if output_format == "json":
            click.echo(json.dumps(result))


@jenkins_group.command("run")
@click.option("--job", required=True, help="Job to build (folder/name for a job in a folder).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Build parameter (repeatable).")
@click.option("--follow/--no-follow", default=True, show_default=True,
              help="Stream the console and wait for the result; --no-follow returns once the build started.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait (queue + build) before exiting 4; the build keeps running.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True, hidden=True)
@jenkins_connection_options
def jenkins_run(job: str, params: tuple[str, ...], follow: bool, timeout: float | None, poll_interval: float,
                url: str | None, user: str | None, token: str | None, output_format: str, debug: bool) -> None:
    """Trigger JOB, stream its console, and exit 0 for SUCCESS, 1 for FAILURE, UNSTABLE, NOT_BUILT or ABORTED
    in Jenkins, 4 on --timeout, 130/143 when cancelled (the build is aborted)."""
    with _command(output_format, debug):
        import json

        from ci_ecs.jenkins.connection import connect
        from ci_ecs.jenkins.run import parse_params, run_job

        build_params = parse_params(params)
        jenkins = connect(_jenkins_connection(url, user, token))
        console = sys.stderr if output_format == "json" else sys.stdout

        def write(text: str) -> None:
            console.write(text)
            console.flush()

        state = run_job(jenkins, job, build_params, follow=follow, timeout=timeout, write=write,
                        echo=lambda line: click.echo(f"ci-ecs: {line}", err=True), poll=poll_interval)
        if output_format == "json":
            click.echo(json.dumps(state.as_json()))
        else:
            click.echo(f"ci-ecs: build #{state.number} {state.result or 'started'}: {state.url}", err=True)

# --- the rest of a service's life (issue 16): run-task, rollback, status, deregister ----------------------------

def _deploy_options_named(*wanted: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Those of deploy's options (by parameter name) a command shares, with the same flags and variables."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        probe = deploy_options(lambda **_: None)
        for param in reversed(getattr(probe, "__click_params__", [])):
            if param.name in wanted:
                func = _attach(func, param)
        return func
    return decorate


_AWS_OPTIONS = ("config_path", "cluster", "service", "region", "profile", "endpoint_url", "assume_role_arn", "debug")

# run-task's result key -> GitHub output name (GitLab: CI_ECS_* of the same).
RUN_TASK_OUTPUTS = {"taskArn": "run-task-arn", "taskDefinitionArn": "task-definition-arn",
                    "taskDefinitionRegistered": "task-definition-registered", "lastStatus": "last-status",
                    "stoppedReason": "stopped-reason", "exitCode": "exit-code", "durationSeconds": "duration-seconds"}


def _load(params: dict[str, Any], overrides: dict[str, Any], *, purpose: str = "deploy") -> Any:
    """The config of a lifecycle command (flags > env > file), its AWS profile checked first."""
    from ci_ecs.aws import check_profile
    from ci_ecs.config import load_config

    config_path = params["config_path"]
    source = click.get_current_context().get_parameter_source("config_path")
    explicit = source not in (None, click.core.ParameterSource.DEFAULT)
    config = load_config(config_path, overrides, require_file=explicit, purpose=purpose)
    check_profile(config.profile)
    return config


def _emit_run_task(result: dict[str, Any], output_format: str) -> None:
    import json

    from ci_ecs.output import masked, write_dotenv, write_github

    if output_format == "json":
        click.echo(json.dumps(masked(result, escape=False), default=str))
        return
    from ci_ecs.run_task import RunTaskResult

    shown = masked(result)
    fields = {k: v for k, v in shown.items() if k in RunTaskResult.__dataclass_fields__}
    for line in RunTaskResult(**fields).summary_lines():
        click.echo(line)
    if output_format == "github":
        write_github(shown, names=RUN_TASK_OUTPUTS)
    elif output_format == "gitlab":
        import os

        write_dotenv(shown, os.environ.get("CI_ECS_DOTENV", "ci-ecs.env"), names=RUN_TASK_OUTPUTS)


@main.command("run-task")
@_deploy_options_named(*_AWS_OPTIONS, "images", "tag", "task_definition", "keep_null_value_keys", "output_format")
@click.option("--command", envvar=_env("COMMAND"),
              help="Command for the container, split like a shell would (e.g. 'python manage.py migrate').")
@click.option("--container-name", envvar=_env("CONTAINER_NAME"),
              help="Container the command and --env go to (default: the image container).")
@click.option("--env", "run_environment", type=_Lines(), multiple=True, envvar=_env("ENV"),
              help="KEY=VALUE for that container, for this run only (repeatable; CI_ECS_ENV: one per line).")
@click.option("--count", type=click.IntRange(1, 10), default=1, envvar=_env("COUNT"), show_default=True,
              help="Number of tasks to run.")
@click.option("--wait/--no-wait", default=None, envvar=_env("WAIT"),
              help="Follow the task to STOPPED and exit with its outcome (default: wait).")
@click.option("--timeout", type=click.IntRange(min=1), envvar=_env("TIMEOUT"),
              help="Seconds to wait for the task to stop (default: deploy.timeout, 900).")
def run_task_command(**params: Any) -> None:
    """Run the config's task once (a migration, a job): exit 0 only when every essential container exited 0.

    The task definition is registered only if it changed; the task runs with the service's network and
    launch type (run_task: in the config overrides them), startedBy ci-ecs. SIGTERM stops it (StopTask).
    """
    debug = bool(params.get("debug"))
    output_format = params.get("output_format") or "text"
    # The run-task result has its own outputs: the CI files are written here, not by the deploy's emit.
    with _command("json" if output_format == "json" else "text", debug):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.run_task import RunOptions, run_task

            overrides = {key: value for key, value in _overrides(params).items()
                         if key in ("task", "cluster", "service.name", "image_uri", "image.tag", "task.images",
                                    "task.keep_null_value_keys", "region", "profile", "endpoint_url",
                                    "assume_role_arn")}
            overrides["deploy.timeout"] = params.get("timeout")
            config = _load(params, overrides, purpose="register")
            options = RunOptions(command=params.get("command") or None, container_name=params.get("container_name"),
                                 environment=_pairs(tuple(params.get("run_environment") or ()), "--env", "--env"),
                                 count=int(params.get("count") or 1),
                                 log_lines=int(getattr(config.deploy, "log_lines", 20)))
            wait = params.get("wait")
            result = run_task(config, options, base_dir=Path(params["config_path"]).resolve().parent,
                              wait=True if wait is None else bool(wait))
            _emit_run_task(result.as_json(), output_format)
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.run_task import RunTaskResult

                exc.result = RunTaskResult(cluster=params.get("cluster") or "").as_json()
            if output_format != "json":
                _emit_run_task({**exc.result, "error": exc.message}, output_format)
                exc.result = None  # printed above; the error line follows on stderr
            raise


@main.command()
@_deploy_options_named(*_AWS_OPTIONS, "wait", "timeout", "verify", "output_format")
@click.option("--to", "to_revision", envvar=_env("ROLLBACK_TO"),
              help="The revision to go to: a number of the service's family, FAMILY:REVISION or an ARN "
                   "(default: the revision the service ran before the current one).")
def rollback(**params: Any) -> None:
    """Put the service back on the revision it ran before the current one (or --to), and follow it like deploy.

    "Before" comes from ECS's record of the service's deployments, not from revision numbers. Run twice, the
    second run changes nothing (the newest deployment already reverted the one before it). Verify checks that
    the tasks answer (path, status), not the config's expected body. Exit 2 when there is nothing to go back to.
    """
    debug = bool(params.get("debug"))
    output_format = params.get("output_format") or "text"
    with _command(output_format, debug):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.output import emit
            from ci_ecs.rollback import roll_back

            overrides = {"cluster": params.get("cluster"), "service.name": params.get("service"),
                         "deploy.wait": params.get("wait"), "deploy.timeout": params.get("timeout"),
                         "verify_enabled": params.get("verify"), "region": params.get("region"),
                         "profile": params.get("profile"), "endpoint_url": params.get("endpoint_url"),
                         "assume_role_arn": params.get("assume_role_arn")}
            # Only the cluster and the service are needed: the revisions come from ECS, not from an image.
            config = _load(params, overrides, purpose="service")
            result = roll_back(config, to=params.get("to_revision") or None)
            emit(result, output_format)
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.deploy import DeployResult

                exc.result = DeployResult(cluster=params.get("cluster") or "",
                                          service=params.get("service") or "").as_json()
            raise


def _simple_overrides(params: dict[str, Any]) -> dict[str, Any]:
    return {"cluster": params.get("cluster"), "service.name": params.get("service"), "region": params.get("region"),
            "profile": params.get("profile"), "endpoint_url": params.get("endpoint_url"),
            "assume_role_arn": params.get("assume_role_arn")}


@main.command()
@_deploy_options_named(*_AWS_OPTIONS)
@click.option("--output", "output_format", type=click.Choice(("text", "json")), envvar=_env("OUTPUT"),
              default="text", show_default=True, help="Result format on stdout.")
@click.option("--events", type=click.IntRange(0, 100), default=5, show_default=True, help="Newest events shown.")
def status(**params: Any) -> None:
    """The service's deployments, its tasks (public/private IPs, health) and its newest events."""
    output_format = params.get("output_format") or "text"
    with _command(output_format, bool(params.get("debug"))):
        from ci_ecs.status import service_status, status_text

        config = _load(params, _simple_overrides(params), purpose="service")
        result = service_status(config, events=int(params["events"]))
        if output_format == "json":
            from ci_ecs.output import emit

            emit(result, "json")
        else:
            from ci_ecs.output import masked

            click.echo(status_text(masked(result)))


@main.command()
@_deploy_options_named(*_AWS_OPTIONS)
@click.option("--keep", type=click.IntRange(min=1), required=True, envvar=_env("KEEP"),
              help="ACTIVE revisions of the family to keep, newest first (in-use ones are always kept).")
@click.option("--dry-run", is_flag=True, default=None, envvar=_env("DRY_RUN"),
              help="Print what would be deregistered; deregister nothing.")
@click.option("--output", "output_format", type=click.Choice(("text", "json")), envvar=_env("OUTPUT"),
              default="text", show_default=True, help="Result format on stdout.")
def deregister(**params: Any) -> None:
    """Deregister the family's ACTIVE revisions older than the newest --keep, never one a service in the
    cluster or a running task uses."""
    output_format = params.get("output_format") or "text"
    with _command(output_format, bool(params.get("debug"))):
        from ci_ecs.deregister import deregister_old

        config = _load(params, _simple_overrides(params), purpose="service")
        result = deregister_old(config, keep=int(params["keep"]), dry_run=bool(params.get("dry_run")),
                                base_dir=Path(params["config_path"]).resolve().parent)
        if output_format == "json":
            from ci_ecs.output import emit

            emit(result, "json")
        else:
            verb = "would deregister" if result["dryRun"] else "deregistered"
            for arn in result["deregistered"]:
                click.echo(f"{verb}: {arn.rsplit('/', 1)[-1]}")
            for arn in result["inUse"]:
                click.echo(f"kept (in use): {arn.rsplit('/', 1)[-1]}")
            click.echo(f"{result['family']}: {len(result['deregistered'])} {verb}, {len(result['kept'])} kept")



@main.command("continue")
@_deploy_options_named(*_AWS_OPTIONS)
@click.option("--rollback", "roll_back", is_flag=True, help="Roll the paused deployment back instead.")
@click.option("--output", "output_format", type=click.Choice(("text", "json")), envvar=_env("OUTPUT"),
              default="text", show_default=True, help="Result format on stdout.")
def continue_command(**params: Any) -> None:
    """Release the lifecycle hook the service's current deployment is paused at (ContinueServiceDeployment)."""
    output_format = params.get("output_format") or "text"
    with _command(output_format, bool(params.get("debug"))):
        from ci_ecs.continue_hook import continue_deployment

        config = _load(params, _simple_overrides(params), purpose="service")
        result = continue_deployment(config, rollback=bool(params.get("roll_back")))
        if output_format == "json":
            from ci_ecs.output import emit

            emit(result, "json")
        else:
            click.echo(f"{result['service']}: {result['action']} at {result['lifecycleStage']} "
                       f"({result['serviceDeploymentArn'].rsplit('/', 1)[-1]})")


if __name__ == "__main__":
    main()
