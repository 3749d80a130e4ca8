"""`load_config`: the file, with the flags' and variables' overrides (dotted keys) laid over it, validated;
the first validation error as one line naming the key and the file line."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ci_ecs.config.loader import read_config_file
from ci_ecs.config.schema import Config
from ci_ecs.errors import ConfigError


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    target = data
    for key in keys[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
            target[key] = child
        target = child
    target[keys[-1]] = value


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields are valid at `loc` (for 'did you mean' suggestions)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found:
            return found
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """The error location as a path in `data`: pydantic's union/validator tags are not keys, so they go."""
    out: list[Any] = []
    node = data
    for index, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif index == len(loc) - 1 and isinstance(node, dict):
            out.append(part)  # a missing key
    return tuple(out)


def _first_error(exc: ValidationError, data: Any) -> tuple[tuple[Any, ...], str]:
    error = exc.errors(include_url=False)[0]
    loc = _clean_loc(tuple(error["loc"]), data)
    message = error["msg"]
    if error["type"] == "extra_forbidden" and loc:
        parent = _model_for(loc[:-1])
        known = list(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else (f"; known keys: {', '.join(known)}" if known else "")
        return loc, f"unknown key{hint}"
    if error["type"] == "missing":
        return loc, "is required"
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    if "input" in error and error["type"] not in ("value_error",) and not isinstance(error["input"], dict):
        message += f" (got {json.dumps(error['input'], default=str)[:60]})"
    return loc, message


def no_config_file(path: Path, problem: str) -> str:
    """The message for a missing default config file whose absence flags and variables did not make up for.

    >>> no_config_file(Path("ci-ecs.yml"), "service.name: is required")[:45]
    'config file ci-ecs.yml not found (looked for '
    """
    return (f"config file {path} not found (looked for {path.absolute()}); give -c/--config or CI_ECS_CONFIG, "
            f"or describe the deploy with flags (--cluster, --service, --task-definition, --image): {problem}")


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                *, require_file: bool = False, purpose: str = "deploy") -> Config:
    """Read `path` (YAML), lay `overrides` (dotted keys from flags/env) over it and validate.

    Raises ConfigError naming the key and the file line. A missing default file is not an error
    when the flags alone describe the deploy. `purpose="push"` checks only what `ci-ecs push` needs.

    >>> load_config(None, {"cluster": "c", "service.name": "s", "task": {"family": "f",
    ...     "containers": [{"name": "web", "image": "nginx:1.27"}]}}).service.name
    's'
    """
    data: dict[str, Any] = {}
    positions: dict[tuple[Any, ...], int] = {}
    source: str | None = None
    # The default file, absent: flags and variables alone may describe the run (drop-in use); when they do not,
    # the error says which file was looked for rather than only which key is missing.
    missing: Path | None = None
    if path is not None:
        file_path = Path(path)
        if file_path.exists() or file_path.is_symlink() or require_file:
            data, positions = read_config_file(file_path)
            source = str(file_path)
        else:
            missing = file_path
    # A service is described by the file (or a library caller's whole `service`/`services` value), never by the
    # dotted flags (--service, --desired-count) alone: only then may a deploy create it (refuse_missing_services).
    described = any(key in data for key in ("service", "services")) or any(
        (overrides or {}).get(key) is not None for key in ("service", "services"))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, dotted, value)
    if data.get("create") is None:
        data["create"] = described
    try:
        return Config.model_validate(data, context={"purpose": purpose})
    except ValidationError as exc:
        loc, message = _first_error(exc, data)
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in positions:
                line = positions[loc[:cut]] if cut else None
                break
        from_flag = any(k == _dotted(loc) or _dotted(loc).startswith(k + ".") for k in (overrides or {})
                        if (overrides or {}).get(k) is not None)
        if missing is not None and not from_flag:
            raise ConfigError(no_config_file(missing, f"{_dotted(loc) + ': ' if loc else ''}{message}")) from None
        raise ConfigError(message, key=_dotted(loc) or None, line=None if from_flag else line,
                          source=source if (source and not from_flag) else None) from None
