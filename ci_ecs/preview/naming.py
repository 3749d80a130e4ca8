"""Preview names, tags, host names and durations: pure functions, no I/O.

A preview of service `web` with id `42` is the service `web-pr-42` running the task family `<family>-pr-42`,
tagged `ci-ecs:preview=42` and `ci-ecs:preview-created=<UTC time>`; behind a shared listener it has the target
group `pr-42-<hash>` and a host-header rule for the `preview.host` template with `{id}` replaced.
"""

from __future__ import annotations

import datetime
import hashlib
import re

from ci_ecs.errors import ConfigError

PREVIEW_TAG = "ci-ecs:preview"
CREATED_TAG = "ci-ecs:preview-created"
SUFFIX = "-pr-"
# A preview id: a pull request number or a branch slug (GitLab's CI_COMMIT_REF_SLUG is at most 63 characters
# of [a-z0-9-], never starting or ending with '-'). It goes into a DNS label of the host name (RFC 1035: at most
# 63 characters, letters, digits and hyphens, no hyphen at either end), so the same rule.
ID_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAX_ID = 63
# ECS API reference, CreateService `serviceName` and RegisterTaskDefinition `family`: "Up to 255 letters
# (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
MAX_ECS_NAME = 255
# ELB API reference, CreateTargetGroup `Name`: "This name must be unique per region per account, can have a
# maximum of 32 characters, must contain only alphanumeric characters or hyphens, and must not begin or end
# with a hyphen." The id's first 20 characters + a hash of (cluster, service, id) keep it unique within 32.
MAX_TARGET_GROUP = 32
_TG_ID_CHARS = MAX_TARGET_GROUP - len("pr--") - 8
# ELB API reference, HostHeaderConditionConfig `Values`: "The maximum length of each string is 128 characters
# ... You must include at least one "." character. You can include only alphabetical characters after the final
# "." character." The ELB user guide (Listener rules, "Host conditions") allows A-Z, a-z, 0-9, - . and the
# wildcards * and ?: a preview's host is one name, so no wildcards here.
MAX_HOST = 128
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def check_id(preview_id: str) -> str:
    """The preview id, or a ConfigError naming `--id` (exit 2).

    >>> check_id("42")
    '42'
    >>> check_id("feature/login")
    Traceback (most recent call last):
    ...
    ci_ecs.errors.ConfigError: --id: 'feature/login' is not a preview id: 1 to 63 letters, digits and '-', \
not starting or ending with '-' (a pull request number or a branch slug)
    """
    # fullmatch: `$` also matches before a final newline, and "42\n" is no id (`--id "$(...)"` in a script).
    if not ID_PATTERN.fullmatch(preview_id or ""):
        raise ConfigError(f"{preview_id!r} is not a preview id: 1 to {MAX_ID} letters, digits and '-', not starting "
                          "or ending with '-' (a pull request number or a branch slug)", key="--id")
    return preview_id


def preview_name(name: str, preview_id: str) -> str:
    """`<name>-pr-<id>`: the preview's service (or Express service) and task family.

    >>> preview_name("web", "42")
    'web-pr-42'
    """
    return f"{name}{SUFFIX}{preview_id}"


def check_name_length(name: str, preview_id: str, what: str) -> str:
    """`preview_name(name, id)`, or a ConfigError naming `--id` when it is longer than ECS takes (255)."""
    full = preview_name(name, preview_id)
    if len(full) > MAX_ECS_NAME:
        raise ConfigError(f"{preview_id!r} is too long for a preview of {what} {name}: {what} {full[:40]}... would "
                          f"have {len(full)} characters, ECS takes at most {MAX_ECS_NAME}", key="--id")
    return full


def target_group_name(cluster: str, service: str, preview_id: str) -> str:
    """The preview's target group: `pr-<id, at most 20 characters>-<8 hex digits of cluster/service/id>`, at most
    32 characters, unique per cluster, service and id.

    >>> target_group_name("c", "web", "42").startswith("pr-42-")
    True
    >>> len(target_group_name("c", "web", "a" * 63)) <= 32
    True
    """
    digest = hashlib.sha256(f"{cluster}/{service}/{preview_id}".encode()).hexdigest()[:8]
    head = preview_id[:_TG_ID_CHARS].rstrip("-")
    return f"pr-{head}-{digest}"


def render_host(template: str, preview_id: str, key: str = "preview.host") -> str:
    """The template with `{id}` replaced (lower-case: host names compare case-insensitively), checked as ELB checks
    a host-header condition's value; a ConfigError naming `key` otherwise.

    >>> render_host("pr-{id}.preview.example.com", "42")
    'pr-42.preview.example.com'
    >>> render_host("pr-{id}.preview", "42")
    'pr-42.preview'
    >>> render_host("pr-{id}.example.c0m", "42")
    Traceback (most recent call last):
    ...
    ci_ecs.errors.ConfigError: preview.host: 'pr-42.example.c0m' is not a host name ELB takes in a host-header \
condition: only letters may follow the last '.'
    """
    host = template.replace("{id}", preview_id).lower()
    problem = host_problem(host)
    if problem:
        raise ConfigError(f"{host!r} is not a host name ELB takes in a host-header condition: {problem}", key=key)
    return host


def host_problem(host: str) -> str | None:
    """Why ELB refuses `host` as a host-header condition value (see MAX_HOST), or None."""
    if len(host) > MAX_HOST:
        return f"{len(host)} characters, at most {MAX_HOST}"
    if not _HOST.fullmatch(host):
        return "only letters, digits, '-' and '.' (no wildcards: a preview has one host name)"
    if "." not in host:
        return "it needs at least one '.'"
    last = host.rsplit(".", 1)[1]
    if not last.isalpha():
        return "only letters may follow the last '.'"
    if any(not label or len(label) > 63 or label.startswith("-") or label.endswith("-")
           for label in host.split(".")):
        return "each dot-separated label must have 1 to 63 characters and not start or end with '-'"
    return None


def parse_duration(text: str, key: str = "--older-than") -> float:
    """Seconds of a duration: `0s`, `90m`, `72h`, `3d` (a ConfigError naming `key` otherwise).

    >>> parse_duration("90m"), parse_duration("3d"), parse_duration("0s")
    (5400.0, 259200.0, 0.0)
    """
    match = _DURATION.match(text or "")
    if not match:
        raise ConfigError(f"{text!r} is not a duration: a number and s, m, h or d (0s, 90m, 72h, 3d)", key=key)
    return float(match.group(1)) * _UNITS[match.group(2)]


def now_tag(now: datetime.datetime | None = None) -> str:
    """The creation time as tagged: UTC, ISO 8601, seconds (`2026-12-03T18:00:00Z`)."""
    moment = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_created(value: str | None) -> datetime.datetime | None:
    """The creation tag's time (None when missing or not a time: such a preview has no age).

    >>> parse_created("2026-12-03T18:00:00Z").isoformat()
    '2026-12-03T18:00:00+00:00'
    """
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def age_text(seconds: float) -> str:
    """An age for people: `45s`, `12m`, `5h`, `3d`.

    >>> age_text(59), age_text(3600 * 5 + 10), age_text(86400 * 3)
    ('59s', '5h', '3d')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(max(0, seconds))}s"


def preview_tags(preview_id: str, created: str) -> dict[str, str]:
    """The tags that mark a preview (ECS service, target group, rule)."""
    return {PREVIEW_TAG: preview_id, CREATED_TAG: created}
