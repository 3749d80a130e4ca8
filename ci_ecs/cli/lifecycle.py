"""The rest of a service's life (issue 16): `rollback`, `status`, `deregister` and `continue`."""

from __future__ import annotations

from typing import Any

import click

from ci_ecs.cli.options import AWS_OPTIONS, deploy_options_named, dry_run_option, env, output_option
from ci_ecs.cli.runner import command_scope
from ci_ecs.cli.settings import base_dir, load


@click.command("rollback")
@deploy_options_named(*AWS_OPTIONS, "wait", "timeout", "verify", "output_format")
@click.option("--to", "to_revision", envvar=env("ROLLBACK_TO"),
              help="The revision to go to: a number of the service's family, FAMILY:REVISION or an ARN "
                   "(default: the revision the service ran before the current one).")
def rollback(**params: Any) -> None:
    """Put the service back on the revision it ran before the current one (or --to), and follow it like deploy.

    "Before" comes from ECS's record of the service's deployments, not from revision numbers. Run twice, the
    second run changes nothing (the newest deployment already reverted the one before it). Verify checks that
    the tasks answer (path, status), not the config's expected body. Exit 2 when there is nothing to go back to.
    """
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.errors import CiEcsError

        try:
            from ci_ecs.output import emit
            from ci_ecs.rollback import roll_back

            # Only the cluster and the service are needed: the revisions come from ECS, not from an image.
            config = load(params, purpose="service")
            result = roll_back(config, to=params.get("to_revision") or None)
            emit(result, output_format)
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.deploy import DeployResult

                exc.result = DeployResult(cluster=params.get("cluster") or "",
                                          service=params.get("service") or "").as_json()
            raise


@click.command("status")
@deploy_options_named(*AWS_OPTIONS)
@output_option(("text", "json"))
@click.option("--events", type=click.IntRange(0, 100), default=5, show_default=True, help="Newest events shown.")
def status(**params: Any) -> None:
    """The service's deployments, its tasks (public/private IPs, health) and its newest events."""
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.output import emit
        from ci_ecs.status import service_status, status_text

        config = load(params, purpose="service")
        result = service_status(config, events=int(params["events"]))
        emit(result, output_format, lines=lambda shown: [status_text(shown)])


def _deregister_lines(result: dict[str, Any]) -> list[str]:
    verb = "would deregister" if result["dryRun"] else "deregistered"
    lines = [f"{verb}: {arn.rsplit('/', 1)[-1]}" for arn in result["deregistered"]]
    lines += [f"kept (in use): {arn.rsplit('/', 1)[-1]}" for arn in result["inUse"]]
    lines.append(f"{result['family']}: {len(result['deregistered'])} {verb}, {len(result['kept'])} kept")
    return lines


@click.command("deregister")
@deploy_options_named(*AWS_OPTIONS)
@click.option("--keep", type=click.IntRange(min=1), required=True, envvar=env("KEEP"),
              help="ACTIVE revisions of the family to keep, newest first (in-use ones are always kept).")
@dry_run_option("Print what would be deregistered; deregister nothing.")
@output_option(("text", "json"))
def deregister(**params: Any) -> None:
    """Deregister the family's ACTIVE revisions older than the newest --keep, never one a service in the
    cluster or a running task uses."""
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.deregister import deregister_old
        from ci_ecs.output import emit

        config = load(params, purpose="service")
        result = deregister_old(config, keep=int(params["keep"]), dry_run=bool(params.get("dry_run")),
                                base_dir=base_dir(params))
        emit(result, output_format, lines=_deregister_lines)


@click.command("continue")
@deploy_options_named(*AWS_OPTIONS)
@click.option("--rollback", "roll_back", is_flag=True, help="Roll the paused deployment back instead.")
@output_option(("text", "json"))
def continue_command(**params: Any) -> None:
    """Release the lifecycle hook the service's current deployment is paused at (ContinueServiceDeployment)."""
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.continue_hook import continue_deployment
        from ci_ecs.output import emit

        config = load(params, purpose="service")
        result = continue_deployment(config, rollback=bool(params.get("roll_back")))
        emit(result, output_format, lines=lambda shown: [
            f"{shown['service']}: {shown['action']} at {shown['lifecycleStage']} "
            f"({shown['serviceDeploymentArn'].rsplit('/', 1)[-1]})"])
