"""How an Application Load Balancer picks what answers a request: pure functions, no I/O.

Written from the ELB user guide, "Listener rules for your Application Load Balancer" (rule
evaluation in priority order, the default rule last; condition types; action types) and
"Target groups for your Application Load Balancers" (weighted forward actions). The rules and
actions are read in the shapes moto stores them: the request's own dictionaries
(``{"Field": "host-header", "HostHeaderConfig": {"Values": [...]}}``, ``{"Type": "forward", ...}``).
"""

from __future__ import annotations

import ipaddress
import random
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Request:
    """What the rules look at: method, Host header (without its port), path, query, headers, source IP."""

    method: str
    host: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    source_ip: str = "127.0.0.1"
    port: int = 80
    protocol: str = "http"


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # "A value can contain ... wildcard characters: * (matches 0 or more characters) and ? (matches
    # exactly 1 character)" (Listener rules, host-header and path-pattern conditions).
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """ALB's wildcard matching: ``*`` is any run of characters, ``?`` exactly one.

    >>> wildcard_match("*.example.com", "pr-7.Example.com", ignore_case=True)
    True
    >>> wildcard_match("/api/*", "/API/x", ignore_case=False)
    False
    """
    return bool(_wildcard(pattern, ignore_case).match(value))


def _values(condition: Mapping[str, Any], config_key: str) -> list[Any]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def condition_matches(condition: Mapping[str, Any], request: Request) -> bool:
    """One rule condition; a condition matches when any of its values does.

    Host names and header values compare case-insensitively, paths and methods case-sensitively
    (Listener rules, "Condition types").

    >>> condition_matches({"Field": "host-header", "Values": ["a.example.com"]}, Request("GET", "A.example.com", "/"))
    True
    >>> condition_matches({"Field": "path-pattern", "PathPatternConfig": {"Values": ["/img/*"]}},
    ...                   Request("GET", "h", "/css/x"))
    False
    """
    kind = condition.get("Field")
    if kind == "host-header":
        return any(wildcard_match(v, request.host, ignore_case=True) for v in _values(condition, "HostHeaderConfig"))
    if kind == "path-pattern":
        return any(wildcard_match(v, request.path, ignore_case=False) for v in _values(condition, "PathPatternConfig"))
    if kind == "http-request-method":
        return request.method in _values(condition, "HttpRequestMethodConfig")
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        actual = request.headers.get(str(config.get("HttpHeaderName", "")).lower())
        return actual is not None and any(
            wildcard_match(v, actual, ignore_case=True) for v in config.get("Values") or [])
    if kind == "query-string":
        pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
        wanted = (condition.get("QueryStringConfig") or {}).get("Values") or []
        return any(
            any((w.get("Key") is None or wildcard_match(w["Key"], k, ignore_case=True))
                and wildcard_match(w.get("Value", ""), v, ignore_case=True) for k, v in pairs)
            for w in wanted)
    if kind == "source-ip":
        try:
            source = ipaddress.ip_address(request.source_ip)
        except ValueError:
            return False
        return any(source in ipaddress.ip_network(v, strict=False) for v in _values(condition, "SourceIpConfig"))
    return False  # a condition type the sandbox does not know never matches


def _priority(rule: Any) -> float:
    priority = getattr(rule, "priority", "default")
    return float("inf") if priority in (None, "default") else int(priority)


def choose_rule(rules: Iterable[Any], request: Request) -> Any | None:
    """The first rule, lowest priority number first and the default rule last, whose conditions
    all match ("Rules are evaluated in priority order, from the lowest value to the highest
    value. The default rule is evaluated last.")."""
    for rule in sorted(rules, key=_priority):
        if all(condition_matches(c, request) for c in getattr(rule, "conditions", None) or []):
            return rule
    return None


def first_action(actions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The action that answers: the first forward, fixed-response or redirect in ``Order``
    (authenticate-* actions need an identity provider the sandbox does not have: skipped)."""
    ordered = sorted(actions, key=lambda a: int(a.get("Order") or 0))
    return next((a for a in ordered if a.get("Type") in ("forward", "fixed-response", "redirect")), None)


def forward_weights(action: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) pairs of a forward action; a single TargetGroupArn weighs 1.

    >>> forward_weights({"Type": "forward", "ForwardConfig": {"TargetGroups": [
    ...     {"TargetGroupArn": "blue", "Weight": 100}, {"TargetGroupArn": "green", "Weight": 0}]}})
    [('blue', 100), ('green', 0)]
    """
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return [(str(g["TargetGroupArn"]), int(g.get("Weight", 1) or 0)) for g in groups]
    if action.get("TargetGroupArn"):
        return [(str(action["TargetGroupArn"]), 1)]
    return []


def pick_target_group(weights: Sequence[tuple[str, int]], rng: random.Random | None = None) -> str | None:
    """A target group in proportion to its weight ("requests are distributed to the target groups
    according to the weight"); a weight of 0 never gets a request. None when all weigh 0.

    >>> pick_target_group([("blue", 0), ("green", 100)])
    'green'
    """
    total = sum(max(0, w) for _, w in weights)
    if total <= 0:
        return None
    point = (rng or random).uniform(0, total)  # noqa: S311 - load balancing, not security
    for arn, weight in weights:
        if weight <= 0:
            continue
        point -= weight
        if point <= 0:
            return arn
    return next(arn for arn, w in reversed(weights) if w > 0)


def redirect_location(config: Mapping[str, Any], request: Request) -> tuple[int, str]:
    """(status, Location) of a redirect action; ``#{protocol}``, ``#{host}``, ``#{port}``,
    ``#{path}`` and ``#{query}`` keep the request's values (the defaults of each component).

    >>> redirect_location({"StatusCode": "HTTP_301", "Path": "/new"}, Request("GET", "h.example.com", "/old", "a=1"))
    (301, 'http://h.example.com:80/new?a=1')
    """
    values = {"protocol": request.protocol, "host": request.host, "port": str(request.port),
              "path": request.path.lstrip("/"), "query": request.query}

    def fill(template: str) -> str:
        for key, value in values.items():
            template = template.replace("#{" + key + "}", value)
        return template

    protocol = fill(str(config.get("Protocol") or "#{protocol}")).lower()
    host = fill(str(config.get("Host") or "#{host}"))
    port = fill(str(config.get("Port") or "#{port}"))
    path = fill(str(config.get("Path") or "/#{path}"))
    query = fill(str(config.get("Query") if config.get("Query") is not None else "#{query}"))
    status = 301 if config.get("StatusCode") == "HTTP_301" else 302
    location = f"{protocol}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    return status, location + (f"?{query}" if query else "")
