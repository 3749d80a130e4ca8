"""`ci-ecs push` (the image into ECR) and `ci-ecs register` (the task definition only): the two halves of a
deploy that need no service."""

from __future__ import annotations

from typing import Any

import click

from ci_ecs.cli.options import (
    assume_role_option,
    config_option,
    debug_option,
    dry_run_option,
    endpoint_url_option,
    output_option,
    profile_option,
    region_option,
    register_options,
    tag_option,
)
from ci_ecs.cli.runner import command_scope
from ci_ecs.cli.settings import base_dir, load


@click.command("push")
@config_option("Config file (YAML): its repository and image sections.")
@tag_option("Tag to push (CI_ECS_IMAGE_TAG).")
@region_option()
@profile_option()
@endpoint_url_option("AWS endpoint (else AWS_ENDPOINT_URL).")
@assume_role_option()
@dry_run_option("Compare only; push nothing.")
@output_option(("text", "json"), from_env=False)
@debug_option()
def push(**params: Any) -> None:
    """Put the image into ECR (build, push a local image, or copy from a registry), skipping what is there."""
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.aws import ClientFactory, aws_settings
        from ci_ecs.image import push_image
        from ci_ecs.output import emit

        config = load(params, purpose="push", require_file=True)
        image = push_image(config, ClientFactory(aws_settings(config)), dry_run=bool(params.get("dry_run")),
                           base_dir=base_dir(params))
        result = {"imageUri": image.uri, "imageDigest": image.digest, "imagePushed": image.pushed}
        emit(result, output_format,
             lines=lambda _: [f"image: {image.uri} ({'pushed' if image.pushed else 'already in ECR'})"])


@click.command("register")
@register_options
@dry_run_option("Describe and diff only; register nothing.")
def register(**params: Any) -> None:
    """Register the task definition only (no service), when it differs from the latest ACTIVE revision.

    For one-off and scheduled tasks; prints taskDefinitionArn. Safe to re-run: an unchanged definition
    registers nothing.
    """
    output_format = params.get("output_format") or "text"
    with command_scope(output_format, bool(params.get("debug"))):
        from ci_ecs.errors import CiEcsError

        dry_run = bool(params.get("dry_run"))
        try:
            from ci_ecs.deploy import register_task_definitions
            from ci_ecs.output import emit

            config = load(params, purpose="register")
            result = register_task_definitions(config, base_dir=base_dir(params), dry_run=dry_run)
            emit(result.as_json(), output_format, lines=lambda _: result.summary_lines())
        except CiEcsError as exc:
            if exc.result is None:
                from ci_ecs.deploy import RegisterResult

                exc.result = RegisterResult(dryRun=dry_run).as_json()
            raise
