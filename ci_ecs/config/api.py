"""Config values that are ECS request structures written in snake_case (`service_connect`, `vpc_lattice`,
`volume_configurations`, `gateway_connectors`, `monitoring`): turned into the request's camelCase members by
botocore's ECS model, read at run time, so every member ECS documents for the structure (and one it adds
later) has its config name without a release of ci-ecs.

A config key is the member's name in snake_case (`port_name` for `portName`, `size_in_gib` for `sizeInGiB`);
map values (log options, tags given as a map) are passed through as written. Types, enums, ranges and required
members are checked with the whole request by the pre-flight (ci_ecs.preflight.model); here only the names.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


def snake_case(name: str) -> str:
    """A model member's config name.

    >>> [snake_case(n) for n in ("portName", "sizeInGiB", "enableECSManagedTags", "kmsKeyId", "tls")]
    ['port_name', 'size_in_gib', 'enable_ecs_managed_tags', 'kms_key_id', 'tls']
    """
    text = name.replace("GiB", "Gib")
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return text.lower()


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def member_shape(operation: str, member: str) -> Any:
    """The shape of `member` of `operation`'s input (e.g. CreateService, serviceConnectConfiguration)."""
    return _model().operation_model(operation).input_shape.members[member]


def to_api(value: Any, shape: Any, path: str = "") -> Any:
    """`value` (snake_case keys) as the request member of `shape` (camelCase keys), recursively.

    Raises ValueError naming the place of a key the shape does not have, with a "did you mean".

    >>> to_api({"metric_configurations": [{"metric_names": ["CPUUtilization"], "resolution_seconds": 20}]},
    ...        member_shape("CreateService", "monitoring"))
    {'metricConfigurations': [{'metricNames': ['CPUUtilization'], 'resolutionSeconds': 20}]}
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        by_key = {_key(name): name for name in shape.members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            name = by_key.get(_key(str(key)))
            if name is None:
                known = [snake_case(n) for n in shape.members]
                guess = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {guess[0]!r}?" if guess else f" (known: {', '.join(known)})"
                raise ValueError(f"{where}: unknown key{hint}")
            out[name] = to_api(item, shape.members[name], where)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_api(item, shape.member, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def from_api(value: Any, shape: Any) -> Any:
    """A request member (camelCase) as the config writes it (snake_case): to_api's inverse, for docs and plan."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {snake_case(k): from_api(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [from_api(item, shape.member) for item in value]
    return value
