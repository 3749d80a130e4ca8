"""`ci-ecs sandbox` (the local AWS stand-in in the foreground) and `ci-ecs demo` (it, in-process, with a deploy
of examples/hello): the commands that need no AWS account."""

from __future__ import annotations

import sys
from typing import Any

import click

from ci_ecs.cli.options import OUTPUT_FORMATS, debug_option, output_option
from ci_ecs.cli.runner import EXIT_USAGE, command_scope


@click.command("sandbox")
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
@click.option("--rate-limits", type=click.Choice(("none", "aws")), envvar="CI_ECS_SANDBOX_RATE_LIMITS",
              default="none", show_default=True,
              help="aws: throttle as AWS documents it (ECS's and EC2's token buckets per action, account and "
                   "region); none: unlimited (CI_ECS_SANDBOX_RATE_LIMITS).")
@click.option("--timing", type=click.Choice(("fast", "ecs")), envvar="CI_ECS_SANDBOX_TIMING", default="fast",
              show_default=True,
              help="fast: tasks start in --task-start-seconds (1 s); ecs: Fargate-like task start (40 s) and stop "
                   "(5 s), in AWS seconds that last --minute-seconds/60 (CI_ECS_SANDBOX_TIMING).")
def sandbox(host: str, port: int, registry_port: int, task_start_seconds: float | None,
            throttle_rate: float | None, fail_operations: str | None, deny_operations: str | None,
            runtime: str, minute_seconds: float | None, rate_limits: str, timing: str) -> None:
    """Run the local AWS stand-in (moto + an ECS scheduler + a registry) in the foreground."""
    try:
        _serve(host, port, registry_port, task_start_seconds, throttle_rate, fail_operations, deny_operations,
               runtime, minute_seconds, rate_limits, timing)
    except KeyboardInterrupt:  # Ctrl-C before the sandbox was ready: what it had started is stopped
        click.echo("sandbox stopped before it was ready", err=True)
        sys.exit(130)


def _serve(host: str, port: int, registry_port: int, task_start_seconds: float | None,
           throttle_rate: float | None, fail_operations: str | None, deny_operations: str | None,
           runtime: str, minute_seconds: float | None, rate_limits: str = "none", timing: str = "fast") -> None:
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
                      faults=faults, echo=click.echo, runtime=runtime, minute_seconds=minute_seconds,
                      rate_limits=rate_limits, timing=timing)
    except (RuntimeUnavailableError, RegistryError) as exc:  # no engine; the registry port taken
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:  # typically the port is taken
        click.echo(f"error: cannot serve on {host}:{port}: {exc.strerror or exc} (try --port)", err=True)
        sys.exit(EXIT_USAGE)



@click.command("demo")
@output_option(OUTPUT_FORMATS, from_env=False, help=None)
@debug_option("Show tracebacks.", from_env=False)
def demo(output_format: str, debug: bool) -> None:
    """Start the sandbox in-process, deploy examples/hello end to end, print the public IPs, stop."""
    with command_scope(output_format, debug):
        from ci_ecs.demo import run_demo
        from ci_ecs.output import emit

        result = run_demo(echo=lambda line: click.echo(line, err=True))
        emit(result.as_json(), output_format)
