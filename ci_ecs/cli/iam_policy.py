"""`ci-ecs iam-policy`: the least-privilege policy a config's deploy needs (ci_ecs.iam), printed as JSON."""

from __future__ import annotations

import json
from typing import Any

import click

from ci_ecs.cli.options import cluster_option, config_option, region_option, service_option
from ci_ecs.cli.runner import command_scope
from ci_ecs.cli.settings import base_dir, load


@click.command("iam-policy")
@config_option()
@cluster_option()
@service_option()
@region_option("Region in the ARNs (default: the config's, else *).")
@click.option("--account-id", default="*", show_default=True, help="Account id in the ARNs.")
def iam_policy_command(**params: Any) -> None:
    """Print the least-privilege IAM policy (JSON) that `ci-ecs deploy` needs for this config."""
    with command_scope("text", False):
        from ci_ecs.iam import iam_policy

        # No AWS call is made: the profile is not read.
        config = load(params, require_file=True, check_profile=False)
        policy = iam_policy(config, account_id=params["account_id"], base_dir=base_dir(params))
        click.echo(json.dumps(policy, indent=2))
