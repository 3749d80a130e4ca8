"""Value rules the schema, the pre-flight and the task definition renderer share: names, task definition
references, cpu/memory units and the Fargate cpu/memory table (one place for each rule)."""

from __future__ import annotations

import re
import typing
import urllib.parse
from typing import Any

DEFAULT_CONFIG_FILE = "ci-ecs.yml"

# AWS Fargate's accepted task-level cpu units -> memory MiB values (ECS API reference, TaskDefinition `memory`;
# https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html: RegisterTaskDefinition
# refuses other pairs with "No Fargate configuration exists for given values").
FARGATE_MEMORY: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}

ECR_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
NAME_255 = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# An environment variable name as shells and `docker run -e` take it (ECS itself passes any string, but a
# name a shell cannot read, or "KEY VALUE" typed for "KEY=VALUE", is a mistake worth catching early).
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
# A task definition in ECS: FAMILY, FAMILY:REVISION, or its ARN (DescribeTaskDefinition's taskDefinition).
TASK_DEFINITION_REF = re.compile(
    r"^(?:arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/)?(?P<family>[A-Za-z0-9_-]{1,255})"
    r"(?::(?P<revision>[1-9][0-9]{0,9}))?$")


def split_names(values: Any) -> Any:
    """Container names given comma- or space-separated (aws-actions' render form) as a list.

    >>> split_names(["web, nginx", "worker"])
    ['web', 'nginx', 'worker']
    """
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return values
    out: list[Any] = []
    for value in values:
        out.extend(re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else [value])
    return [v for v in out if v != ""]


def is_task_definition_ref(value: str) -> bool:
    """Whether `value` names a task definition in ECS (family, family:revision or ARN), not a file.

    >>> [is_task_definition_ref(v) for v in ("web", "web:3", "taskdef.json", "./web")]
    [True, True, False, False]
    """
    return bool(TASK_DEFINITION_REF.match(value))


def cpu_units(value: str) -> int:
    """Task cpu as units: "256" -> 256, "0.25 vCPU" -> 256, "1vcpu" -> 1024."""
    text = value.strip().lower()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*vcpu", text)
    if match:
        return int(float(match.group(1)) * 1024)
    if text.isdigit():
        return int(text)
    raise ValueError(f"cpu {value!r} is not a number of cpu units or 'N vCPU'")


def memory_mib(value: str) -> int:
    """Task memory in MiB: "512" -> 512, "0.5GB" -> 512, "2 GB" -> 2048."""
    text = value.strip().lower()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*gb", text)
    if match:
        return int(float(match.group(1)) * 1024)
    match = re.fullmatch(r"([0-9]+)\s*(?:mb|mib)?", text)
    if match:
        return int(match.group(1))
    raise ValueError(f"memory {value!r} is not a number of MiB or 'N GB'")


def fargate_size_problem(cpu: int, memory: int, *, cpu_shown: str | None = None) -> tuple[str, str] | None:
    """The Fargate cpu/memory rule (FARGATE_MEMORY), the one place it is written: None when Fargate accepts
    `cpu` units with `memory` MiB, else (the field at fault, "cpu" or "memory"; the one-line message).
    `cpu_shown` is the cpu as the user wrote it, for the message (default: the units).

    >>> fargate_size_problem(256, 512) is None
    True
    >>> fargate_size_problem(256, 4096)
    ('memory', 'FARGATE cpu 256 does not accept memory 4096 (from 512 to 2048 in steps of 512)')
    """
    allowed = FARGATE_MEMORY.get(cpu)
    if allowed is None:
        return "cpu", (f"FARGATE does not accept cpu {cpu if cpu_shown is None else cpu_shown} "
                       f"(one of {', '.join(str(c) for c in FARGATE_MEMORY)})")
    if memory not in allowed:
        return "memory", (f"FARGATE cpu {cpu} does not accept memory {memory} (from {allowed[0]} to {allowed[-1]} "
                          f"in steps of {allowed[1] - allowed[0]})")
    return None


def scalar_types(annotation: Any) -> set[Any]:
    """The int/float/bool types a field annotation admits: `int | None` -> {int}."""
    if annotation in (int, float, bool):
        return {annotation}
    return {arg for arg in typing.get_args(annotation) if arg in (int, float, bool)}


def is_http_url(value: str) -> bool:
    """Whether `value` is an absolute http(s) URL with a host, as an AWS endpoint must be.

    >>> is_http_url("http://127.0.0.1:4566"), is_http_url("notaurl"), is_http_url("https://")
    (True, False, False)
    """
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)
