"""Flags and variables -> config: the one overrides map (parameter -> dotted config key) and the one way a
command loads its config (`load`: file + overrides, validated, its AWS profile checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

# Parameters that pass to the config as they are: parameter name -> dotted config key.
PLAIN_OVERRIDES = {
    "cluster": "cluster",
    "service": "service.name",
    "tag": "image.tag",
    "desired_count": "service.desired_count",
    "keep_null_value_keys": "task.keep_null_value_keys",
    "wait": "deploy.wait",
    "timeout": "deploy.timeout",
    "wait_until": "deploy.wait_until",
    "rollback": "deploy.rollback",
    "force_new_deployment": "deploy.force_new_deployment",
    "verify": "verify_enabled",
    "create": "create",
    "region": "region",
    "profile": "profile",
    "endpoint_url": "endpoint_url",
    "assume_role_arn": "assume_role_arn",
}


def pairs(values: tuple[str, ...], what: str, option: str) -> dict[str, str]:
    """`("A=1", "B=x=y")` -> {"A": "1", "B": "x=y"}; blank lines and `#` comments are skipped."""
    from ci_ecs.errors import ConfigError

    out: dict[str, str] = {}
    for raw in values:
        line = raw.strip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            # Never echo the line: it may be a secret typed without its name.
            raise ConfigError(f"{what} must be NAME=VALUE (a line without '=' was given)", key=option)
        out[name.strip()] = value
    return out


def images(values: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """`--image REF` (the deployed image) and `--image NAME=REF` (that container's image); an image
    reference never contains '=', so the two cannot be confused."""
    from ci_ecs.errors import ConfigError

    bare = [v.strip() for v in values if v.strip() and "=" not in v]
    if len(bare) > 1:
        raise ConfigError(f"give one image without a container name (got {len(bare)}); name the others "
                          "as CONTAINER=IMAGE", key="--image")
    named = {k: v.strip() for k, v in pairs(tuple(v for v in values if "=" in v), "--image", "--image").items()}
    return (bare[0] if bare else None), named


def task_source(value: str | None) -> dict[str, Any] | None:
    """`--task-definition`: a file when one exists (or the value looks like a path), else a task definition
    in ECS (family, family:revision, ARN)."""
    from ci_ecs.config import is_task_definition_ref

    if not value:
        return None
    path = Path(value)
    if path.is_file() or not is_task_definition_ref(value):
        return {"file": str(path.resolve())}
    return {"definition": value}


def config_overrides(params: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The command's flag/env values as dotted config keys (None = not given), for the parameters it has
    (less `skip`: a parameter of the same name that is not the config's, e.g. run-task's --wait)."""
    given = {name: value for name, value in params.items() if name not in skip}
    out: dict[str, Any] = {}
    if "task_definition" in given:
        # A task definition from the flags (file or ECS) replaces the config's whole task section.
        out["task"] = task_source(given["task_definition"])
    if "images" in given:
        image, named = images(tuple(given["images"] or ()))
        out["image_uri"] = image
        out["task.images"] = named or None
    if "image_containers" in given:
        out["task.image_containers"] = list(given["image_containers"]) if given["image_containers"] else None
    if "environment" in given:
        out["task.environment_overrides"] = pairs(tuple(given["environment"] or ()), "--env", "--env") or None
    out.update({key: given[name] for name, key in PLAIN_OVERRIDES.items() if name in given})
    return out


def base_dir(params: dict[str, Any]) -> Path:
    """The directory relative paths of the config are read from: the config file's."""
    return Path(params["config_path"]).resolve().parent


def load(params: dict[str, Any], *, purpose: str = "deploy", skip: tuple[str, ...] = (),
         require_file: bool | None = None, check_profile: bool = True) -> Any:
    """The command's config: its file with the flags' and variables' overrides (flag > env > file > default),
    validated for `purpose`, and its AWS profile checked before anything reads the AWS config files.

    The file must exist when given (-c or CI_ECS_CONFIG, whatever its spelling) or when `require_file`.
    """
    from ci_ecs.aws import check_profile as check
    from ci_ecs.config import load_config

    if require_file is None:
        source = click.get_current_context().get_parameter_source("config_path")
        require_file = source not in (None, click.core.ParameterSource.DEFAULT)
    config = load_config(params["config_path"], config_overrides(params, skip=skip), require_file=require_file,
                         purpose=purpose)
    if check_profile:
        check(config.profile)
    return config
