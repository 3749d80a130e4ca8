"""Every option a command shares, defined once: its flags, its `CI_ECS_*` variable and its default.

Commands take them by name (`deploy_options_named`) or as a factory (`config_option()`, ...) where a command's
help says something of its own; click reads each option's variable (flag > env > file > default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

OUTPUT_FORMATS = ("text", "json", "github", "gitlab")


def env(name: str) -> str:
    """The variable an option reads: `CI_ECS_<NAME>`."""
    return f"CI_ECS_{name}"


class Lines(click.ParamType):
    """A repeatable option whose environment variable holds one value per line (render's multi-line format).

    click splits a multiple option's variable on whitespace; a value such as `GREETING=hello world` has spaces.
    """

    name = "KEY=VALUE"
    envvar_list_splitter = "\n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value


def stack(*decorators: Decorator) -> Decorator:
    """The decorators applied so that the first one's option comes first in --help."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return decorate


# --- the options several commands take ---------------------------------------------------------------------

def config_option(help: str = "Config file (YAML).") -> Decorator:
    """-c/--config (CI_ECS_CONFIG, default ci-ecs.yml)."""
    return click.option("-c", "--config", "config_path", envvar=env("CONFIG"), default="ci-ecs.yml",
                        show_default=True, help=help)


def cluster_option() -> Decorator:
    """--cluster (CI_ECS_CLUSTER)."""
    return click.option("--cluster", envvar=env("CLUSTER"), help="ECS cluster name.")


def service_option() -> Decorator:
    """--service (CI_ECS_SERVICE)."""
    return click.option("--service", envvar=env("SERVICE"), help="ECS service name.")


def tag_option(help: str = "Image tag in the config's ECR repository (CI_ECS_IMAGE_TAG).") -> Decorator:
    """--tag (CI_ECS_IMAGE_TAG, else CI_ECS_TAG)."""
    return click.option("--tag", envvar=[env("IMAGE_TAG"), env("TAG")], help=help)


def region_option(help: str = "AWS region (else AWS_REGION, profile).") -> Decorator:
    """--region (CI_ECS_REGION)."""
    return click.option("--region", envvar=env("REGION"), help=help)


def profile_option() -> Decorator:
    """--profile (CI_ECS_PROFILE)."""
    return click.option("--profile", envvar=env("PROFILE"), help="AWS profile (else AWS_PROFILE).")


def endpoint_url_option(help: str = "AWS endpoint, e.g. the sandbox's (else AWS_ENDPOINT_URL).",
                        ) -> Decorator:
    """--endpoint-url (CI_ECS_ENDPOINT_URL)."""
    return click.option("--endpoint-url", envvar=env("ENDPOINT_URL"), help=help)


def assume_role_option() -> Decorator:
    """--assume-role-arn (CI_ECS_ASSUME_ROLE_ARN)."""
    return click.option("--assume-role-arn", envvar=env("ASSUME_ROLE_ARN"), help="IAM role to assume first.")


def debug_option(help: str = "Show tracebacks and AWS calls.", *, from_env: bool = True) -> Decorator:
    """--debug (CI_ECS_DEBUG unless `from_env` is off)."""
    if not from_env:
        return click.option("--debug", is_flag=True, help=help)
    return click.option("--debug", is_flag=True, envvar=env("DEBUG"), help=help)


def output_option(formats: tuple[str, ...] = OUTPUT_FORMATS, *, from_env: bool = True,
                  help: str | None = "Result format on stdout.") -> Decorator:
    """--output (CI_ECS_OUTPUT unless `from_env` is off), one of `formats`, default text."""
    extra: dict[str, Any] = {"envvar": env("OUTPUT")} if from_env else {}
    return click.option("--output", "output_format", type=click.Choice(formats), default="text", show_default=True,
                        help=help, **extra)


def dry_run_option(help: str, *, from_env: bool = True) -> Decorator:
    """--dry-run (CI_ECS_DRY_RUN unless `from_env` is off)."""
    if not from_env:
        return click.option("--dry-run", is_flag=True, help=help)
    return click.option("--dry-run", is_flag=True, default=None, envvar=env("DRY_RUN"), help=help)


# --- deploy's options, in their --help order; other commands take those they share by name -----------------

DEPLOY_OPTIONS: dict[str, Decorator] = {
    "config_path": config_option(),
    "cluster": cluster_option(),
    "service": service_option(),
    "images": click.option(
        "--image", "images", envvar=env("IMAGE"), multiple=True,
        help="Image reference to deploy; CONTAINER=IMAGE for a named container (repeatable; "
             "CI_ECS_IMAGE: one reference or lines of CONTAINER=IMAGE)."),
    "tag": tag_option(),
    "desired_count": click.option("--desired-count", type=click.IntRange(min=0), envvar=env("DESIRED_COUNT"),
                                  help="Number of tasks to run."),
    "task_definition": click.option(
        "--task-definition", envvar=[env("TASK_DEFINITION"), env("TASK_DEFINITION_FAMILY")],
        help="Instead of the config's task: a native ECS task definition file (JSON/YAML), a family "
             "in ECS (its latest ACTIVE revision with the image and --env applied), or "
             "FAMILY:REVISION / an ARN (deployed as is)."),
    "image_containers": click.option(
        "--container-name", "image_containers", envvar=env("CONTAINER_NAME"), multiple=True,
        help="Container(s) that get the deployed image (repeatable; commas or spaces separate names)."),
    "environment": click.option(
        "--env", "environment", type=Lines(), multiple=True, envvar=[env("ENV"), env("ENVIRONMENT_VARIABLES")],
        help="KEY=VALUE set on the image container(s), replacing the same name (repeatable; "
             "CI_ECS_ENV: one per line)."),
    "keep_null_value_keys": click.option(
        "--keep-null-value-keys", is_flag=True, default=None, envvar=env("KEEP_NULL_VALUE_KEYS"),
        help="Keep null values in a task definition file (they are dropped by default)."),
    "wait": click.option("--wait/--no-wait", default=None, envvar=env("WAIT"),
                         help="Wait for the deployment to complete (default: wait)."),
    "timeout": click.option(
        "--timeout", type=click.IntRange(min=1), envvar=env("TIMEOUT"),
        help="Seconds the run may take, from its start: the wait, every AWS call and its retries "
             "(default 900; exit 4)."),
    "wait_until": click.option(
        "--wait-until", type=click.Choice(("completed", "traffic-shifted")), envvar=env("WAIT_UNTIL"),
        help="Blue/green, canary, linear: wait until the deployment is SUCCESSFUL (default), or only "
             "until production traffic has moved, leaving the bake to ECS."),
    "rollback": click.option(
        "--rollback/--no-rollback", default=None, envvar=env("ROLLBACK"),
        help="Roll back to the previous task definition when the deployment fails "
             "(default: on, unless the service's circuit breaker rolls back)."),
    "force_new_deployment": click.option(
        "--force-new-deployment", is_flag=True, default=None, envvar=env("FORCE_NEW_DEPLOYMENT"),
        help="Start a new deployment even when nothing changed."),
    "create": click.option(
        "--create", is_flag=True, default=None, envvar=env("CREATE"),
        help="Create the service when it does not exist, even though the config has no service: "
             "section (without either, a missing service is exit 2, as with aws-actions)."),
    "verify": click.option(
        "--verify/--no-verify", "verify", default=None, envvar=env("VERIFY"),
        help="After the deployment completed, probe every task (or the load balancer) over HTTP "
             "(the config's `verify`, else its defaults); --no-verify skips it."),
    "output_format": output_option(),
    "region": region_option(),
    "profile": profile_option(),
    "endpoint_url": endpoint_url_option(),
    "assume_role_arn": assume_role_option(),
    "debug": debug_option(),
}

# The options of every command that calls AWS about a service (run-task, rollback, status, deregister, continue).
AWS_OPTIONS = ("config_path", "cluster", "service", "region", "profile", "endpoint_url", "assume_role_arn", "debug")


def deploy_options_named(*wanted: str) -> Decorator:
    """Those of deploy's options (by parameter name) a command shares, with the same flags and variables.

    Their --help lists them in the reverse of deploy's order (--debug first, -c/--config last), as it always has.
    """
    return stack(*reversed([decorator for name, decorator in DEPLOY_OPTIONS.items() if name in wanted]))


def deploy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `deploy` and `plan` share; each also reads CI_ECS_<NAME> (flag > env > file > default)."""
    return stack(*DEPLOY_OPTIONS.values())(func)


def register_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `register`: deploy's, less those about a service and its wait."""
    return deploy_options_named("config_path", "images", "tag", "task_definition", "image_containers",
                                "environment", "keep_null_value_keys", "output_format", "region", "profile",
                                "endpoint_url", "assume_role_arn", "debug")(func)
