"""`ci-ecs run-task`: the config's task once (a migration, a job), with its own result and outputs."""

from __future__ import annotations

from typing import Any

import click

from ci_ecs.cli.options import AWS_OPTIONS, Lines, deploy_options_named, env
from ci_ecs.cli.runner import command_scope
from ci_ecs.cli.settings import base_dir, load, pairs

# run-task's result key -> GitHub output name (GitLab: CI_ECS_* of the same).
RUN_TASK_OUTPUTS = {"taskArn": "run-task-arn", "taskDefinitionArn": "task-definition-arn",
                    "taskDefinitionRegistered": "task-definition-registered", "lastStatus": "last-status",
                    "stoppedReason": "stopped-reason", "exitCode": "exit-code", "durationSeconds": "duration-seconds"}


def _summary_lines(shown: dict[str, Any]) -> list[str]:
    from ci_ecs.run_task import RunTaskResult

    fields = {k: v for k, v in shown.items() if k in RunTaskResult.__dataclass_fields__}
    return RunTaskResult(**fields).summary_lines()


def _emit_run_task(result: dict[str, Any], output_format: str) -> None:
    from ci_ecs.output import emit

    emit(result, output_format, lines=_summary_lines, names=RUN_TASK_OUTPUTS)


@click.command("run-task")
@deploy_options_named(*AWS_OPTIONS, "images", "tag", "task_definition", "keep_null_value_keys", "output_format")
@click.option("--command", envvar=env("COMMAND"),
              help="Command for the container, split like a shell would (e.g. 'python manage.py migrate').")
@click.option("--container-name", envvar=env("CONTAINER_NAME"),
              help="Container the command and --env go to (default: the image container).")
@click.option("--env", "run_environment", type=Lines(), multiple=True, envvar=env("ENV"),
              help="KEY=VALUE for that container, for this run only (repeatable; CI_ECS_ENV: one per line).")
@click.option("--count", type=click.IntRange(1, 10), default=1, envvar=env("COUNT"), show_default=True,
              help="Number of tasks to run.")
@click.option("--wait/--no-wait", default=None, envvar=env("WAIT"),
              help="Follow the task to STOPPED and exit with its outcome (default: wait).")
@click.option("--timeout", type=click.IntRange(min=1), envvar=env("TIMEOUT"),
              help="Seconds to wait for the task to stop (default: deploy.timeout, 900).")
def run_task_command(**params: Any) -> None:
    """Run the config's task once (a migration, a job): exit 0 only when every essential container exited 0.

    The task definition is registered only if it changed; the task runs with the service's network and
    launch type (run_task: in the config overrides them), startedBy ci-ecs. SIGTERM stops it (StopTask).
    """
    output_format = params.get("output_format") or "text"
    # The run-task result has its own outputs: the CI files are written here, not by the deploy's emit.
    with command_scope("json" if output_format == "json" else "text", bool(params.get("debug"))):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.run_task import RunOptions, run_task

            # --wait is the task's (an argument of run_task), not the config's deploy.wait.
            config = load(params, purpose="register", skip=("wait",))
            options = RunOptions(command=params.get("command") or None, container_name=params.get("container_name"),
                                 environment=pairs(tuple(params.get("run_environment") or ()), "--env", "--env"),
                                 count=int(params.get("count") or 1),
                                 log_lines=int(getattr(config.deploy, "log_lines", 20)))
            wait = params.get("wait")
            result = run_task(config, options, base_dir=base_dir(params), wait=True if wait is None else bool(wait))
            _emit_run_task(result.as_json(), output_format)
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.run_task import RunTaskResult

                exc.result = RunTaskResult(cluster=params.get("cluster") or "").as_json()
            if output_format != "json":
                _emit_run_task({**exc.result, "error": exc.message}, output_format)
                exc.result = None  # printed above; the error line follows on stderr
            raise
