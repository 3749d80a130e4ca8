"""Test mode: check each sandbox response against botocore's output shape for its operation.

moto's serializers are hand-written; a missing required member, a number sent as a string or a
value outside an enum is accepted by a lenient client and breaks a strict one (the AWS CLI, Go,
Java). The checker parses the response with botocore's own parser for the service's protocol
(json, query, ec2, rest-json, rest-xml) and walks the parsed value over the output shape:
required members present, every member of the type the model says, enum values in the enum.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

import botocore.session
from botocore import parsers
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, ServiceModel, Shape

# Credential-scope (signing) names whose botocore service name differs.
SIGNING_NAME_SERVICES = {
    "elasticloadbalancing": ("elbv2", "elb"),
    "monitoring": ("cloudwatch",),
    "email": ("ses",),
    "execute-api": ("apigateway",),
}
PARTITION_REGIONS = ("aws", "aws-cn", "aws-us-gov")
_MAX_PROBLEMS = 20


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


@functools.lru_cache(maxsize=64)
def _service_models(signing_name: str) -> tuple[ServiceModel, ...]:
    models = []
    for name in SIGNING_NAME_SERVICES.get(signing_name, (signing_name,)):
        try:
            models.append(_session().get_service_model(name))
        except UnknownServiceError:
            continue
    return tuple(models)


def operation_model(signing_name: str, operation: str) -> OperationModel | None:
    """botocore's model of an operation, by credential-scope service name and operation name."""
    for model in _service_models(signing_name):
        if operation in model.operation_names:
            return model.operation_model(operation)
    return None


@functools.lru_cache(maxsize=64)
def known_regions(signing_name: str) -> frozenset[str]:
    """Regions botocore knows for a service in any partition; empty when it knows none."""
    regions: set[str] = set()
    for model in _service_models(signing_name):
        for partition in PARTITION_REGIONS:
            regions.update(_session().get_available_regions(model.endpoint_prefix, partition))
    return frozenset(regions)


def check_response(
    signing_name: str, operation: str, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[str]:
    """Problems with one response (empty when it matches botocore's model or cannot be checked)."""
    model = operation_model(signing_name, operation)
    if model is None:
        return []
    protocol = model.metadata.get("protocol") or model.service_model.protocol
    response = {"status_code": status, "headers": _header_dict(headers), "body": body}
    try:
        parsed = parsers.create_parser(protocol).parse(response, model.output_shape)
    except Exception as err:  # noqa: BLE001 - any parser failure is the finding
        return [f"{operation}: botocore cannot parse the response ({type(err).__name__}: {err})"]
    if status >= 300:
        error = parsed.get("Error") or {}
        if not error.get("Code"):
            return [f"{operation}: HTTP {status} without an error code"]
        return []
    if model.output_shape is None:
        return []
    problems: list[str] = []
    _walk(model.output_shape, parsed, operation, problems)
    return problems[:_MAX_PROBLEMS]


def _header_dict(headers: list[tuple[str, str]]) -> Any:
    from botocore.awsrequest import HeadersDict

    result = HeadersDict()
    for key, value in headers:
        result[key] = value
    return result


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "double": (float, int),
    "float": (float, int),
    "timestamp": (datetime.datetime,),
    "blob": (bytes, bytearray),
}


def _walk(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if len(problems) >= _MAX_PROBLEMS or value is None:
        return
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a structure, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value and not _is_response_metadata(name):
                problems.append(f"{path}.{name}: required member missing")
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], f"{path}.{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for key, item in value.items():
            _walk(shape.value, item, f"{path}[{key}]", problems)
    elif kind in _SCALARS:
        expected = _SCALARS[kind]
        if kind in ("integer", "long", "double", "float") and isinstance(value, bool):
            problems.append(f"{path}: expected {kind}, got bool {value!r}")
        elif not isinstance(value, expected):
            problems.append(f"{path}: expected {kind}, got {type(value).__name__} {value!r:.60}")
        elif kind == "string" and shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r:.60} is not one of {shape.enum}")


def _is_response_metadata(name: str) -> bool:
    return name == "ResponseMetadata"
