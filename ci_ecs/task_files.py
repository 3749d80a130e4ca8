"""Native ECS task definitions: a JSON or YAML file, or a revision DescribeTaskDefinition returned, read as the
RegisterTaskDefinition input it stands for (nulls and empty enums dropped, read-only members taken from botocore's
model). taskdef.py renders, compares and registers them."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from ci_ecs.config import load_yaml_text, read_text_file
from ci_ecs.errors import ConfigError


def _ecs_model() -> Any:
    # The pre-flight's model, loaded once per process (not a second parse of the same model).
    from ci_ecs.preflight.model import service_model

    return service_model("ecs")


def register_shape() -> Any:
    """botocore's RegisterTaskDefinition input shape: what a task definition may send."""
    shape = _ecs_model().operation_model("RegisterTaskDefinition").input_shape
    if shape is None:  # never for the ECS model; keeps the type checker honest
        raise RuntimeError("botocore's ECS model has no RegisterTaskDefinition input")
    return shape


@functools.lru_cache(maxsize=1)
def read_only_fields() -> frozenset[str]:
    """Members of DescribeTaskDefinition's taskDefinition that RegisterTaskDefinition does not take.

    Taken from botocore's model, so a field ECS adds to describe output is dropped without a code change.
    `tags` is the other way round (a register input, returned beside `taskDefinition`).
    """
    described = _ecs_model().operation_model("DescribeTaskDefinition").output_shape.members["taskDefinition"]
    return frozenset(described.members) - frozenset(register_shape().members)


def drop_nulls(value: Any) -> Any:
    """Drop JSON nulls at every depth, as aws-actions/amazon-ecs-deploy-task-definition does by default.

    Console exports and CodeDeploy templates carry `"healthCheck": null` and the like; ECS reads a
    missing field and a null one the same, but botocore rejects None.

    >>> drop_nulls({"a": None, "b": [1, None, {"c": None}]})
    {'b': [1, {}]}
    """
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value if v is not None]
    return value


def drop_empty_enums(value: Any, shape: Any) -> Any:
    """Drop empty strings where the model allows only enum values (`"ipcMode": ""`, `"appProtocol": ""`).

    Templates and console exports write "" for "not set"; aws-actions drops empty values before
    registering, and for an enum field "" can mean nothing else (ECS has no empty enum value).
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for name, item in value.items():
            member = shape.members.get(name)
            if member is not None and item == "" and getattr(member, "enum", None):
                continue
            out[name] = drop_empty_enums(item, member) if member is not None else item
        return out
    if kind == "list" and isinstance(value, list):
        return [drop_empty_enums(item, shape.member) for item in value
                if not (item == "" and getattr(shape.member, "enum", None))]
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique: a repeated key is an error, not last-wins (as in YAML files)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def read_task_file(path: Path, *, keep_nulls: bool = False) -> dict[str, Any]:
    """Read a native ECS task definition (JSON or YAML), unwrapping describe output's `taskDefinition`.

    Fields ci-ecs does not model are kept as they are; read-only fields are dropped; null values are
    dropped unless `keep_nulls` (`task.keep_null_value_keys`: then validation reports them).
    """
    # Size, encoding and YAML safety (bombs, recursive anchors, duplicate keys) as for the config file.
    text = read_text_file(path, what="task definition file", key="task.file")
    try:
        data = (json.loads(text, object_pairs_hook=_unique_keys) if path.suffix == ".json"
                else load_yaml_text(text, str(path), key="task.file"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, an over-long integer, a 10,000-deep [[[
        raise ConfigError(f"invalid task definition: {exc}".splitlines()[0], key="task.file",
                          source=str(path), line=getattr(exc, "lineno", None)) from None
    if isinstance(data, dict) and isinstance(data.get("taskDefinition"), dict):
        data = data["taskDefinition"]
    if not keep_nulls:
        data = drop_nulls(data)
    if isinstance(data, dict):
        data = drop_empty_enums(data, register_shape())
    if not isinstance(data, dict) or not isinstance(data.get("containerDefinitions"), list):
        raise ConfigError("a task definition needs containerDefinitions (a list)", key="task.file",
                          source=str(path))
    for index, container in enumerate(data["containerDefinitions"]):
        if not isinstance(container, dict):
            raise ConfigError(f"containerDefinitions[{index}] must be an object with name and image, "
                              f"not {json.dumps(container)[:40]}", key="task.file", source=str(path))
    for name in read_only_fields():
        data.pop(name, None)
    return data


def base_definition(described: dict[str, Any]) -> dict[str, Any]:
    """A revision DescribeTaskDefinition returned, as the RegisterTaskDefinition input it was made from.

    Read-only members go; every other field (those ci-ecs does not model included) stays as ECS has it,
    and so do the revision's tags (DescribeTaskDefinition with include=TAGS), so a new revision keeps them.
    """
    data = copy.deepcopy(described)
    if isinstance(data.get("taskDefinition"), dict):
        data = {**data["taskDefinition"], **({"tags": data["tags"]} if data.get("tags") else {})}
    for name in read_only_fields():
        data.pop(name, None)
    return dict(drop_nulls(data))
