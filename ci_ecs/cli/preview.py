"""`ci-ecs preview up|down|list|gc`: a service per pull/merge request (ci_ecs/preview/)."""

from __future__ import annotations

from typing import Any

import click

from ci_ecs.cli.options import AWS_OPTIONS, DEPLOY_OPTIONS, deploy_options_named, env, output_option, stack
from ci_ecs.cli.runner import EXIT_CODES_HELP, command_scope
from ci_ecs.cli.settings import base_dir, load


def id_option(required: bool = True) -> Any:
    """--id (CI_ECS_PREVIEW_ID): the preview's id, a pull request number or a branch slug."""
    return click.option("--id", "preview_id", envvar=env("PREVIEW_ID"), required=required,
                        help="The preview's id: a pull/merge request number or a branch slug ([A-Za-z0-9-], "
                             "at most 63 characters).")


@click.group("preview", epilog=EXIT_CODES_HELP)
def preview_group() -> None:
    """A service per pull/merge request: `<service>-pr-<ID>`, behind a host rule on a shared listener
    (`preview:` in the config) or an Express service of its own; removed by `down`, or by `gc` when stale."""


def _up_lines(result: dict[str, Any]) -> list[str]:
    from ci_ecs.output import text_summary

    return [text_summary(result), f"preview URL: {result.get('previewUrl') or '(none)'}"]


@preview_group.command("up", epilog=EXIT_CODES_HELP)
@stack(*DEPLOY_OPTIONS.values())
@id_option()
def up(**params: Any) -> None:
    """Deploy the config's service as the preview ID (every option of deploy applies); its URL is `previewUrl`."""
    output_format = params.get("output_format") or "text"
    preview_id = str(params.pop("preview_id"))
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.errors import CiEcsError
        from ci_ecs.output import PREVIEW_OUTPUTS, emit

        try:
            from ci_ecs.preview.up import preview_up

            config = load(params)
            result = preview_up(config, preview_id, base_dir=base_dir(params),
                                desired_count=params.get("desired_count"))
            emit(result, output_format, lines=_up_lines, names=PREVIEW_OUTPUTS)
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.results import DeployResult

                exc.result = {**DeployResult(cluster=params.get("cluster") or "",
                                             service=params.get("service") or "").as_json(),
                              "previewId": preview_id, "previewUrl": None}
            raise


def _down_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"removed {item['type']}: {item['id']}" for item in result["removed"]]
    return lines + [f"preview {result['previewId']}: {len(result['removed'])} resource(s) removed"]


@preview_group.command("down", epilog=EXIT_CODES_HELP)
@deploy_options_named(*AWS_OPTIONS, "timeout")
@output_option(("text", "json"))
@id_option()
def down(**params: Any) -> None:
    """Remove the preview ID: its service, listener rule, target group and task definition revisions, each only
    when tagged ci-ecs:preview=ID. Exit 0 also when nothing was there."""
    output_format = params.get("output_format") or "text"
    preview_id = str(params.pop("preview_id"))
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.output import emit
        from ci_ecs.preview.down import Previews

        config = load(params, purpose="service")
        result = Previews(config, base_dir=base_dir(params)).down(preview_id)
        emit(result, output_format, lines=_down_lines)


def _list_lines(result: dict[str, Any]) -> list[str]:
    rows = [("ID", "SERVICE", "AGE", "CREATED", "URL")] + [
        (str(p["id"]), str(p["service"]), str(p["age"] or "?"), str(p["created"] or "?"), str(p["url"] or "-"))
        for p in result["previews"]]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)), row[4]]).rstrip()
            for row in rows]


@preview_group.command("list", epilog=EXIT_CODES_HELP)
@deploy_options_named(*AWS_OPTIONS)
@output_option(("text", "json"))
def list_command(**params: Any) -> None:
    """The config's previews in its cluster: id, service, age, creation time and URL."""
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.output import emit
        from ci_ecs.preview.down import Previews

        config = load(params, purpose="service")
        emit({"previews": Previews(config, base_dir=base_dir(params)).list()}, output_format, lines=_list_lines)


def _gc_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"removed preview {item['previewId']} ({len(item['removed'])} resource(s))" for item in result["removed"]]
    lines += [f"kept preview {item['previewId']} (age {item['age'] or '?'})" for item in result["kept"]]
    return lines + [f"{len(result['removed'])} preview(s) removed, {len(result['kept'])} kept"]


@preview_group.command("gc", epilog=EXIT_CODES_HELP)
@deploy_options_named(*AWS_OPTIONS, "timeout")
@output_option(("text", "json"))
@click.option("--older-than", envvar=env("OLDER_THAN"),
              help="Remove previews at least this old: 0s, 90m, 72h, 3d (default: preview.ttl_hours, else 72h).")
def gc(**params: Any) -> None:
    """`down` of every preview of the config's service older than --older-than."""
    output_format = params.get("output_format") or "text"
    older_than = params.pop("older_than")
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.output import emit
        from ci_ecs.preview.down import Previews
        from ci_ecs.preview.naming import parse_duration

        seconds = parse_duration(older_than) if older_than else None
        config = load(params, purpose="service")
        if seconds is None:
            seconds = (config.preview.ttl_hours if config.preview else 72.0) * 3600
        emit(Previews(config, base_dir=base_dir(params)).gc(seconds), output_format, lines=_gc_lines)
