"""`ci-ecs deploy` and `ci-ecs plan`: the deploy sequence (ci_ecs.deploy), run or only planned."""

from __future__ import annotations

from typing import Any

import click

from ci_ecs.cli.options import deploy_options, dry_run_option
from ci_ecs.cli.runner import EXIT_CODES_HELP, command_scope
from ci_ecs.cli.settings import base_dir, load


def _run_deploy(params: dict[str, Any], *, plan: bool) -> None:
    output_format = params.get("output_format") or "text"
    dry_run = plan or bool(params.get("dry_run"))
    from ci_ecs.startup import collector_paused

    # Start-up (imports, config, clients) without the garbage collector; the deploy's first wait resumes it.
    with collector_paused(), command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.deploy import deploy as run_deploy
            from ci_ecs.output import emit

            config = load(params)
            result = run_deploy(config, base_dir=base_dir(params), dry_run=dry_run)
            emit(result.as_json(), output_format, plan=plan)
        except CiEcsError as exc:
            if exc.result is None:  # failed before the deploy started (e.g. the config): an empty result
                from ci_ecs.deploy import DeployResult

                exc.result = DeployResult(cluster=params.get("cluster") or "", service=params.get("service") or "",
                                          dryRun=dry_run).as_json()
            raise


@click.command("deploy", epilog=EXIT_CODES_HELP)
@deploy_options
@dry_run_option("Describe and diff only; write nothing to AWS.")
def deploy(**params: Any) -> None:
    """Deploy: ECR repository, image, cluster, task definition, service; wait; report the IPs."""
    _run_deploy(params, plan=False)


@click.command("plan")
@deploy_options
def plan(**params: Any) -> None:
    """Show what deploy would change, as a readable diff; writes nothing (exit 0)."""
    _run_deploy(params, plan=True)
