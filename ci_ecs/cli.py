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

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CREDENTIALS, EXIT_TIMEOUT = 0, 1, 2, 3, 4
OUTPUT_FORMATS = ("text", "json", "github", "gitlab")


def _env(name: str) -> str:
    return f"CI_ECS_{name}"


def deploy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `deploy` and `plan` share; each also reads CI_ECS_<NAME> (flag > env > file > default)."""
    options = [
        click.option("-c", "--config", "config_path", envvar=_env("CONFIG"), default="ci-ecs.yml",
                     show_default=True, help="Config file (YAML)."),
        click.option("--cluster", envvar=_env("CLUSTER"), help="ECS cluster name."),
        click.option("--service", envvar=_env("SERVICE"), help="ECS service name."),
        click.option("--image", envvar=_env("IMAGE"), help="Full image reference to deploy as is."),
        click.option("--tag", envvar=[_env("IMAGE_TAG"), _env("TAG")],
                     help="Image tag in the config's ECR repository (CI_ECS_IMAGE_TAG)."),
        click.option("--desired-count", type=click.IntRange(min=0), envvar=_env("DESIRED_COUNT"),
                     help="Number of tasks to run."),
        click.option("--task-definition", type=click.Path(dir_okay=False), envvar=_env("TASK_DEFINITION"),
                     help="A native ECS task definition file (JSON/YAML) to deploy instead of the config's task."),
        click.option("--container-name", "image_containers", envvar=_env("CONTAINER_NAME"), multiple=True,
                     help="Container(s) that get the deployed image (repeatable)."),
        click.option("--wait/--no-wait", default=None, envvar=_env("WAIT"),
                     help="Wait for the deployment to complete (default: wait)."),
        click.option("--timeout", type=click.IntRange(min=1), envvar=_env("TIMEOUT"),
                     help="Seconds to wait for the deployment (default 900)."),
        click.option("--rollback/--no-rollback", default=None, envvar=_env("ROLLBACK"),
                     help="Roll back to the previous task definition when the deployment fails "
                          "(default: on, unless the service's circuit breaker rolls back)."),
        click.option("--force-new-deployment", is_flag=True, default=None, envvar=_env("FORCE_NEW_DEPLOYMENT"),
                     help="Start a new deployment even when nothing changed."),
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


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Flag/env values as dotted config keys (None = not given)."""
    task_file = params.get("task_definition")
    return {
        # A task definition file from the flags replaces the config's whole task section.
        "task": {"file": str(Path(task_file).resolve())} if task_file else None,
        "cluster": params.get("cluster"),
        "service.name": params.get("service"),
        "image_uri": params.get("image"),
        "image.tag": params.get("tag"),
        "service.desired_count": params.get("desired_count"),
        "task.image_containers": list(params["image_containers"]) if params.get("image_containers") else None,
        "deploy.wait": params.get("wait"),
        "deploy.timeout": params.get("timeout"),
        "deploy.rollback": params.get("rollback"),
        "deploy.force_new_deployment": params.get("force_new_deployment"),
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


def _on_sigterm(signum: int, frame: Any) -> None:
    from ci_ecs.errors import DeployCancelledError

    raise DeployCancelledError("terminated (SIGTERM) while deploying; what was done so far stays done", 143)


def _report_error(exc: BaseException, output_format: str, debug: bool) -> int:
    """Print an error as one line (plus reasons for a failed deploy); return its exit code."""
    from ci_ecs.errors import CiEcsError, DeploymentFailedError, DeployTimeoutError, escape_control
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
    click.echo(redact(f"error: {exc.message}"), err=True)
    if isinstance(exc, DeploymentFailedError):
        for reason in exc.stopped_reasons:
            click.echo(redact(f"  stopped: {escape_control(reason)}"), err=True)
        for event in exc.events:
            click.echo(redact(f"  event: {escape_control(event)}"), err=True)
    # Machine-readable formats always get the result, with `error` set, whatever failed (a config error
    # included): a pipeline reads one JSON object or one set of outputs either way.
    result = exc.result
    if output_format != "text" or (isinstance(exc, (DeploymentFailedError, DeployTimeoutError)) and result):
        emit({**(result or {}), "error": exc.message}, output_format)
    return exc.exit_code


@contextlib.contextmanager
def _command(output_format: str, debug: bool) -> Iterator[None]:
    """Progress logging, SIGTERM as a cancel, and the one place that maps every error to its exit code."""
    _setup_logging(debug)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        sys.exit(_report_error(exc, output_format, debug))
    finally:
        signal.signal(signal.SIGTERM, previous)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ci-ecs")
def main() -> None:
    """Publish a Docker container to Amazon ECS from any CI system, safely re-runnable."""


@main.command()
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
def sandbox(host: str, port: int, registry_port: int, task_start_seconds: float | None,
            throttle_rate: float | None, fail_operations: str | None) -> None:
    """Run the local AWS stand-in (moto + an ECS scheduler + a registry) in the foreground."""
    try:
        from ci_ecs.sandbox import serve_forever
        from ci_ecs.sandbox.faults import Faults, parse_operations
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
    if changes:
        import dataclasses

        faults = dataclasses.replace(faults, **changes)
    try:
        serve_forever(host=host, port=port, registry_port=registry_port, task_start_seconds=task_start_seconds,
                      faults=faults, echo=click.echo)
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


if __name__ == "__main__":
    main()
