"""Checks of a request against botocore's service model, read at run time: what ECS would refuse by its shape.

botocore's ParamValidator covers required members, unknown members, types and minimums (length and value);
the model also carries what it does not check: enums, maximums (length, value, list size) and the integer
widths (a Smithy `integer` is 32-bit, a `long` 64-bit, as the AWS API reference says of every `Integer` and
`Long`). `_Validator` adds those while walking the same shapes, so an enum value ECS adds later is accepted
as soon as botocore's model has it, with no release of ci-ecs.

Each problem is a ConfigError naming the config key a user edits: `locate(path)` maps the request path
("containerDefinitions[web].environment[0].name", "desiredCount") to that key and its file.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from botocore.validate import ParamValidator, ValidationErrors

from ci_ecs.errors import ConfigError

# A Smithy `integer` is a 32-bit signed integer, a `long` a 64-bit one (botocore has no range for either).
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

Locate = Callable[[str], tuple[str, "str | None"]]


@functools.lru_cache(maxsize=4)
def service_model(service: str = "ecs") -> Any:
    """botocore's model of `service`, loaded once per process for every reader outside a client (the pre-flight
    here, ci_ecs.task_files' register/describe members): parsing the ECS model costs ~25-45 ms a time. Read the
    way clients read it (ci_ecs.aws.model_session: botocore's data, or its copy without documentation text)."""
    from ci_ecs.aws import model_session

    return model_session().get_service_model(service)


def input_shape(operation: str, service: str = "ecs") -> Any:
    """The input shape of `operation` (e.g. "RegisterTaskDefinition")."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:  # every operation ci-ecs checks takes an input
        raise RuntimeError(f"botocore's {service} model has no {operation} input")
    return shape


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class _Validator(ParamValidator):
    """botocore's ParamValidator plus enums, maximums and integer widths, on the same walk of the shapes.

    Lists name their items by `name` when they have one (`containerDefinitions[web]`), so a problem in a
    native file reads as the file does.
    """

    # Recurse into list items that carry these too (botocore only type-checks unconstrained scalar items).
    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "enum"}

    def _validate_string(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        before = len(errors._errors)
        super()._validate_string(param, shape, errors, name)
        if len(errors._errors) != before or not isinstance(param, str):
            return
        enum = shape.enum if getattr(shape, "enum", None) else None
        if enum and param not in enum:
            errors.report(name, "invalid enum", param=param, valid_values=list(enum))
        maximum = shape.metadata.get("max")
        if maximum is not None and len(param) > maximum:
            errors.report(name, "too long", param=param, max_allowed=maximum)

    def _validate_integer(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        self._whole_number(param, shape, errors, name, INT32)

    def _validate_long(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        self._whole_number(param, shape, errors, name, INT64)

    def _whole_number(self, param: Any, shape: Any, errors: ValidationErrors, name: str,
                      width: tuple[int, int]) -> None:
        if isinstance(param, bool) or not isinstance(param, int):  # a YAML `true` is not a count
            errors.report(name, "invalid type", param=param, valid_types=["integer"])
            return
        low = max(width[0], shape.metadata.get("min", width[0]))
        high = min(width[1], shape.metadata.get("max", width[1]))
        if not low <= param <= high:
            errors.report(name, "out of range", param=param, min_allowed=low, max_allowed=high,
                          width=width == INT32 and high == INT32[1] and param > high)

    def _validate_double(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        if isinstance(param, bool):
            errors.report(name, "invalid type", param=param, valid_types=["number"])
            return
        before = len(errors._errors)
        super()._validate_double(param, shape, errors, name)
        maximum = shape.metadata.get("max")
        if len(errors._errors) == before and maximum is not None and param > maximum:
            errors.report(name, "out of range", param=param, min_allowed=shape.metadata.get("min"),
                          max_allowed=maximum, width=False)

    _validate_float = _validate_double

    def _validate_list(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        if not isinstance(param, (list, tuple)):
            errors.report(name, "invalid type", param=param, valid_types=["list"])
            return
        before = len(errors._errors)
        super()._validate_list(param, shape, errors, name)
        maximum = shape.metadata.get("max")
        if maximum is not None and len(param) > maximum:
            errors.report(name, "too many", param=len(param), max_allowed=maximum)
        # Name items by their `name` member where they have one: containerDefinitions[web], not [0].
        for index in range(before, len(errors._errors)):
            reason, where, extra = errors._errors[index]
            errors._errors[index] = (reason, _named(where, name, param), extra)

    def _validate_map(self, param: Any, shape: Any, errors: ValidationErrors, name: str) -> None:
        before = len(errors._errors)
        super()._validate_map(param, shape, errors, name)
        maximum = shape.metadata.get("max")
        if len(errors._errors) == before and isinstance(param, dict) and maximum is not None \
                and len(param) > maximum:
            errors.report(name, "too many", param=len(param), max_allowed=maximum)


def _named(where: str, name: str, items: Any) -> str:
    """`where` (a path under list `name`) with the item index replaced by the item's `name` member."""
    prefix = f"{name}["
    if not where.startswith(prefix):
        return where
    index_text, _, rest = where[len(prefix):].partition("]")
    if not index_text.isdigit():
        return where
    item = items[int(index_text)] if int(index_text) < len(items) else None
    label = item.get("name") if isinstance(item, dict) else None
    if isinstance(label, str) and label and all(c not in label for c in "[].") and \
            sum(1 for other in items if isinstance(other, dict) and other.get("name") == label) == 1:
        return f"{prefix}{label}]{rest}"
    return where


def _message(reason: str, path: str, extra: dict[str, Any]) -> tuple[str, str]:
    """(the path the problem is at, the one-line message) for one of the validator's errors."""
    if reason == "missing required field":
        path = f"{path}.{extra['required_name']}" if path else str(extra["required_name"])
        return path, f"{path} is required"
    if reason == "unknown field":
        path = f"{path}.{extra['unknown_param']}" if path else str(extra["unknown_param"])
        guess = difflib.get_close_matches(str(extra["unknown_param"]), list(extra["valid_names"]), n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        return path, f"unknown member {path} (not in botocore's model of this request{hint})"
    value = extra.get("param")
    if reason == "invalid type":
        kinds = ", ".join(_type_name(t) for t in extra["valid_types"])
        return path, f"{path} {_show(value)} is not of type {kinds}"
    if reason == "invalid enum":
        return path, f"{path} {_show(value)} is not one of {', '.join(extra['valid_values'])}"
    if reason == "invalid length":
        return path, f"{path} {_show(value)} is shorter than {extra['min_allowed']} character(s)"
    if reason == "too long":
        return path, f"{path} is {len(str(value))} characters long, more than the {extra['max_allowed']} allowed"
    if reason == "too many":
        return path, f"{path} has {value} items, more than the {extra['max_allowed']} allowed"
    if reason == "invalid range":
        return path, f"{path} {_show(value)} is below the minimum {extra['min_allowed']}"
    if reason == "out of range":
        if extra.get("width"):
            return path, f"{path} {value} is more than {INT32[1]} (the API's 32-bit integer)"
        return path, f"{path} {value} is outside {extra['min_allowed']}..{extra['max_allowed']}"
    return path, f"{path}: {reason}"


def _type_name(kind: Any) -> str:
    text = str(kind)
    for python, api in (("<class 'str'>", "string"), ("<class 'int'>", "integer"), ("<class 'bool'>", "boolean"),
                        ("<class 'dict'>", "structure/map"), ("<class 'list'>", "list"),
                        ("<class 'tuple'>", "list"), ("<class 'float'>", "number"),
                        ("<class 'decimal.Decimal'>", "number")):
        if text == python:
            return api
    return text


def check_params(operation: str, params: dict[str, Any], locate: Locate, *, service: str = "ecs"
                 ) -> list[ConfigError]:
    """Every problem botocore's model finds in `params` (the input of `operation`), each naming its key.

    >>> [str(p) for p in check_params("CreateService", {"serviceName": "web", "desiredCount": 2**31},
    ...                               lambda path: ("service." + path, None))]
    ['service.desiredCount: desiredCount 2147483648 is more than 2147483647 (the API\\'s 32-bit integer)']
    """
    errors = _Validator().validate(params, input_shape(operation, service))
    # One problem per kind and place: 60 over-long tag keys are one line ("... and 59 more like it").
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for reason, name, extra in errors._errors:
        path, message = _message(reason, name.lstrip("."), extra)
        groups.setdefault((reason, re.sub(r"\[[^\]]*\]", "[]", path)), []).append((path, message))
    problems = []
    for found in groups.values():
        path, message = found[0]
        if len(found) > 1:
            message += f" (and {len(found) - 1} more like it)"
        key, source = locate(path)
        problems.append(ConfigError(message, key=key, source=source))
    return problems
