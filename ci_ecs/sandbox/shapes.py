"""Test mode: check each sandbox response against botocore's output shape for its operation.

moto's serializers are hand-written; a missing required member, a number sent as a string or a
value outside an enum is accepted by a lenient client and breaks a strict one (the AWS CLI, Go,
Java). For JSON protocols the checker walks the raw JSON over the operation's output shape:
no member the shape does not have (at any depth), required members present, every value of the
model's type, enum values in the enum, numbers, lengths and list sizes within the model's
min/max, no ``null``. Other protocols (query, ec2, rest-xml) are parsed with botocore's parser
for the protocol and the parsed value walked (types, enums, required members); query and EC2
answers are also walked as XML for elements the shape does not have. Errors must name
an error the operation models or a common AWS error.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import botocore.session
from botocore import parsers
from botocore.awsrequest import HeadersDict
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
JSON_PROTOCOLS = ("json", "rest-json")

# The errors every AWS API can answer besides those its operations model ("Common Errors" /
# "Common Error Types" in each service's API reference, e.g.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html), plus the
# signature errors AWS answers a request signed for an unknown region (InvalidSignatureException
# for JSON protocols, SignatureDoesNotMatch for query ones) and EC2's throttling code.
COMMON_ERRORS = frozenset({
    "AccessDeniedException", "ExpiredTokenException", "IncompleteSignature", "InternalFailure", "InvalidAction",
    "InvalidClientTokenId", "InvalidParameterCombination", "InvalidParameterValue", "InvalidQueryParameter",
    "MalformedQueryString", "MissingAction", "MissingAuthenticationToken", "MissingParameter", "NotAuthorized",
    "OptInRequired", "RequestExpired", "ServiceUnavailable", "ThrottlingException", "Throttling",
    "UnrecognizedClientException", "UnknownOperationException", "ValidationError", "ValidationException",
    "InvalidSignatureException", "SignatureDoesNotMatch", "RequestLimitExceeded", "UnauthorizedOperation",
})

# Members botocore's model leaves optional that AWS always sends, as the API reference's
# example responses show (ECS API reference, "Examples" of DescribeServices, DescribeTasks,
# DescribeClusters, ListServices, ListTasks, ListClusters, CreateService, UpdateService,
# RegisterTaskDefinition, DescribeTaskDefinition): an empty answer is a sandbox bug, not AWS.
ALWAYS_SENT: dict[tuple[str, str], tuple[str, ...]] = {
    ("ecs", "DescribeServices"): ("services", "failures"),
    ("ecs", "DescribeTasks"): ("tasks", "failures"),
    ("ecs", "DescribeClusters"): ("clusters", "failures"),
    ("ecs", "ListServices"): ("serviceArns",),
    ("ecs", "ListTasks"): ("taskArns",),
    ("ecs", "ListClusters"): ("clusterArns",),
    ("ecs", "CreateService"): ("service",),
    ("ecs", "UpdateService"): ("service",),
    ("ecs", "RegisterTaskDefinition"): ("taskDefinition",),
    ("ecs", "DescribeTaskDefinition"): ("taskDefinition",),
    ("ecs", "CreateCluster"): ("cluster",),
    ("ecr", "DescribeRepositories"): ("repositories",),
    ("ecr", "CreateRepository"): ("repository",),
    ("ecr", "GetAuthorizationToken"): ("authorizationData",),
}


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
    """Problems with one response (empty when it matches botocore's model or cannot be checked).

    JSON protocols (ECS, ECR, Logs, Secrets Manager, SSM) are checked on the raw JSON, so a
    member botocore's parser would silently drop (a misspelled name) is found; the other protocols
    on what botocore parses. An error response must name an error the operation models, or one of
    the errors every AWS API can answer (``COMMON_ERRORS``).
    """
    model = operation_model(signing_name, operation)
    if model is None:
        return []
    protocol = _protocol(model, headers)
    if status >= 300:
        return _check_error(model, protocol, status, headers, body)[:_MAX_PROBLEMS]
    problems: list[str] = []
    if protocol in JSON_PROTOCOLS:
        try:
            raw = json.loads(body) if body.strip() else {}
        except ValueError as err:
            return [f"{operation}: the body is not JSON ({err})"]
        if model.output_shape is not None:
            _walk_json(model.output_shape, raw, operation, problems, protocol)
        elif raw not in ({}, None):
            problems.append(f"{operation}: the operation has no output, got {str(raw):.60}")
        for name in ALWAYS_SENT.get((signing_name, operation), ()):
            if not isinstance(raw, dict) or name not in raw:
                problems.append(f"{operation}.{name}: missing (AWS always sends it)")
        return problems[:_MAX_PROBLEMS]
    response = {"status_code": status, "headers": _header_dict(headers), "body": body}
    try:
        parsed = parsers.create_parser(protocol).parse(response, model.output_shape)
    except Exception as err:  # noqa: BLE001 - any parser failure is the finding
        return [f"{operation}: botocore cannot parse the response ({type(err).__name__}: {err})"]
    if model.output_shape is None:
        return []
    _walk(model.output_shape, parsed, operation, problems)
    if protocol in ("query", "ec2"):
        _check_xml_members(model.output_shape, protocol, body, operation, problems)
    return problems[:_MAX_PROBLEMS]


def _check_xml_members(output: Shape, protocol: str, body: bytes, path: str, problems: list[str]) -> None:
    """Elements the output shape does not have, at every depth, in a query / EC2 protocol answer
    (botocore's parser drops them silently)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return  # botocore parsed it, so this does not happen
    node: ElementTree.Element | None = root
    if protocol == "query":
        wrapper = output.serialization.get("resultWrapper")
        node = next((c for c in root if _tag(c) == wrapper), None) if wrapper else None
        for child in root:
            if _tag(child) not in (wrapper, "ResponseMetadata"):
                problems.append(f"{path}.{_tag(child)}: not an element of the answer")
    if node is not None:
        _walk_xml(output, node, path, problems, top=True)


def _tag(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _xml_key(name: str, member: Shape) -> str:
    if member.type_name == "list" and member.serialization.get("flattened"):
        return str(member.member.serialization.get("name") or name)
    return str(member.serialization.get("name") or name)


def _walk_xml(shape: Shape, element: ElementTree.Element, path: str, problems: list[str], top: bool = False) -> None:
    if len(problems) >= _MAX_PROBLEMS:
        return
    if shape.type_name == "structure":
        members = {_xml_key(name, member): (name, member) for name, member in shape.members.items()}
        for child in element:
            key = _tag(child)
            if key in members:
                name, member = members[key]
                _walk_xml(member, child, f"{path}.{name}", problems)
            elif not (top and key in ("requestId", "ResponseMetadata")):
                problems.append(f"{path}.{key}: not a member of {shape.name}")
    elif shape.type_name == "list" and not shape.serialization.get("flattened"):
        item = str(shape.member.serialization.get("name") or "member")
        for index, child in enumerate(element):
            if _tag(child) != item:
                problems.append(f"{path}[{index}]: list element <{_tag(child)}>, not <{item}>")
            else:
                _walk_xml(shape.member, child, f"{path}[{index}]", problems)


def _protocol(model: OperationModel, headers: list[tuple[str, str]]) -> str:
    """The protocol of this response: the model's, or, for a model that lists several (CloudWatch:
    smithy-rpc-v2-cbor, json, query), the one the response's Content-Type is written in."""
    protocol: str = model.metadata.get("protocol") or model.service_model.protocol
    protocols = list(model.metadata.get("protocols") or [])
    if len(protocols) > 1:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "").lower()
        if "json" in content_type and "json" in protocols:
            return "json"
        if "xml" in content_type and "query" in protocols:
            return "query"
        if "cbor" in content_type and "smithy-rpc-v2-cbor" in protocols:
            return "smithy-rpc-v2-cbor"
    return protocol


def _check_error(
    model: OperationModel, protocol: str, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[str]:
    operation = model.name
    response = {"status_code": status, "headers": _header_dict(headers), "body": body}
    try:
        parsed = parsers.create_parser(protocol).parse(response, model.output_shape)
    except Exception as err:  # noqa: BLE001 - any parser failure is the finding
        return [f"{operation}: botocore cannot parse the error ({type(err).__name__}: {err})"]
    code = str((parsed.get("Error") or {}).get("Code") or "")
    if protocol in JSON_PROTOCOLS and not _raw_json_error_code(headers, body):
        code = ""  # botocore falls back to the HTTP status as the code; AWS always names one
    if not code:
        return [f"{operation}: HTTP {status} without an error code"]
    service_errors = model.service_model.error_shapes
    if not service_errors:
        return []  # EC2's model carries no errors at all (its codes are a documented list)
    modelled = {_error_code(shape) for shape in model.error_shapes}
    if code in modelled or code in COMMON_ERRORS:
        return []
    return [f"{operation}: error code {code!r} is neither one {operation} models "
            f"({', '.join(sorted(modelled)) or 'none'}) nor a common AWS error"]


def _raw_json_error_code(headers: list[tuple[str, str]], body: bytes) -> str:
    for key, value in headers:
        if key.lower() == "x-amzn-errortype" and value.split(":")[0]:
            return value.split(":")[0]
    try:
        raw = json.loads(body) if body.strip() else {}
    except ValueError:
        return ""
    return str(raw.get("__type") or raw.get("code") or "") if isinstance(raw, dict) else ""


def _error_code(shape: Shape) -> str:
    return str((shape.metadata.get("error") or {}).get("code") or shape.name)


def _header_dict(headers: list[tuple[str, str]]) -> Any:
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


def _serialized_name(name: str, member: Shape) -> str:
    return str(member.serialization.get("name") or name)


def _walk_json(shape: Shape, value: Any, path: str, problems: list[str], protocol: str, top: bool = True) -> None:
    """Check a raw JSON value against a shape: members, types, enums, ranges, lengths."""
    if len(problems) >= _MAX_PROBLEMS:
        return
    if value is None:
        problems.append(f"{path}: null (AWS leaves out a member without a value)")
        return
    kind = shape.type_name
    if kind == "structure":
        _json_structure(shape, value, path, problems, protocol, top)
    elif kind == "list":
        _json_list(shape, value, path, problems, protocol)
    elif kind == "map":
        _json_map(shape, value, path, problems, protocol)
    elif kind in _JSON_SCALARS:
        _JSON_SCALARS[kind](shape, value, path, problems)


def _json_structure(
    shape: Shape, value: Any, path: str, problems: list[str], protocol: str, top: bool
) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a structure, got {type(value).__name__}")
        return

    def in_body(member: Shape) -> bool:
        # rest-json: headers, the status code and the URI are not in the body
        return not (top and protocol == "rest-json" and member.serialization.get("location"))

    members = {
        _serialized_name(name, member): (name, member) for name, member in shape.members.items() if in_body(member)
    }
    for key in value:
        if key not in members:
            problems.append(f"{path}.{key}: not a member of {shape.name}")
    for name in shape.required_members:
        member = shape.members[name]
        if in_body(member) and _serialized_name(name, member) not in value:
            problems.append(f"{path}.{name}: required member missing")
    if shape.metadata.get("union") and len(value) != 1:
        problems.append(f"{path}: a union must set exactly one member, got {len(value)}")
    for key, (name, member) in members.items():
        if key in value:
            _walk_json(member, value[key], f"{path}.{name}", problems, protocol, top=False)


def _json_list(shape: Shape, value: Any, path: str, problems: list[str], protocol: str) -> None:
    if not isinstance(value, list):
        problems.append(f"{path}: expected a list, got {type(value).__name__}")
        return
    _check_range(shape, len(value), path, problems, "length")
    for index, item in enumerate(value):
        _walk_json(shape.member, item, f"{path}[{index}]", problems, protocol, top=False)


def _json_map(shape: Shape, value: Any, path: str, problems: list[str], protocol: str) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a map, got {type(value).__name__}")
        return
    _check_range(shape, len(value), path, problems, "size")
    for key, item in value.items():
        _walk_json(shape.key, key, f"{path}[{key!r}] key", problems, protocol, top=False)
        _walk_json(shape.value, item, f"{path}[{key!r}]", problems, protocol, top=False)


def _json_string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: expected string, got {type(value).__name__} {value!r:.60}")
    elif shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r:.60} is not one of {shape.enum}")
    else:
        _check_range(shape, len(value), path, problems, "length")


def _json_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name  # integer or long
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{path}: expected {kind}, got {type(value).__name__} {value!r:.60}")
        return
    _check_range(shape, value, path, problems, "value")
    limit = 2**31 if kind == "integer" else 2**63
    if not -limit <= value < limit:
        problems.append(f"{path}: {value} does not fit a 32-bit {kind}" if kind == "integer"
                        else f"{path}: {value} does not fit a 64-bit long")


def _json_float(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{path}: expected {shape.type_name}, got {type(value).__name__} {value!r:.60}")
    else:
        _check_range(shape, value, path, problems, "value")


def _json_boolean(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{path}: expected boolean, got {type(value).__name__} {value!r:.60}")


def _json_timestamp(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    # JSON protocols send epoch seconds unless the member says otherwise (timestampFormat).
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text_format = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat")
        if not (isinstance(value, str) and text_format in ("iso8601", "rfc822")):
            problems.append(f"{path}: expected a timestamp (epoch seconds), got {type(value).__name__} "
                            f"{value!r:.60}")


def _json_blob(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: expected a base64 blob, got {type(value).__name__}")
        return
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"{path}: not base64 {value!r:.60}")


# A checker per scalar shape type (botocore's type names).
_JSON_SCALARS: dict[str, Callable[[Shape, Any, str, list[str]], None]] = {
    "string": _json_string,
    "integer": _json_integer,
    "long": _json_integer,
    "double": _json_float,
    "float": _json_float,
    "boolean": _json_boolean,
    "timestamp": _json_timestamp,
    "blob": _json_blob,
}


def _check_range(shape: Shape, number: float, path: str, problems: list[str], what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        problems.append(f"{path}: {what} {number} below the model's minimum {low}")
    if high is not None and number > high:
        problems.append(f"{path}: {what} {number} above the model's maximum {high}")


def _is_response_metadata(name: str) -> bool:
    return name == "ResponseMetadata"
