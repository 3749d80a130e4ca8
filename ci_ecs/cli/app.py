"""The `ci-ecs` group: every command, one module per command group, added to it here."""

from __future__ import annotations

import click

from ci_ecs import __version__
from ci_ecs.cli.deploy import deploy, plan
from ci_ecs.cli.iam_policy import iam_policy_command
from ci_ecs.cli.jenkins import jenkins_group
from ci_ecs.cli.lifecycle import continue_command, deregister, rollback, status
from ci_ecs.cli.local import demo, sandbox
from ci_ecs.cli.preview import preview_group
from ci_ecs.cli.publish import push, register
from ci_ecs.cli.run_task import run_task_command
from ci_ecs.cli.runner import EXIT_CODES_HELP


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="ci-ecs")
def main() -> None:
    """Publish a Docker container to Amazon ECS from any CI system, safely re-runnable."""


for _command in (deploy, plan, register, sandbox, push, iam_policy_command, demo, jenkins_group, run_task_command,
                 rollback, status, deregister, continue_command, preview_group):
    main.add_command(_command)
