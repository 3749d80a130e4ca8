"""Listener rules in moto's ELBv2: where production and test traffic go during a deployment.

ECS moves traffic by rewriting the forward action of the production (and test) listener rule
named in the load balancer's ``advancedConfiguration`` to weight the blue and green target
groups ("Application Load Balancer resources for blue/green, linear, and canary deployments").
"""

from __future__ import annotations

import logging
from typing import Any

from moto.elbv2.models import elbv2_backends

log = logging.getLogger(__name__)


def _elbv2(service: Any) -> Any:
    return elbv2_backends[service._account_id][service.region_name]


def _weights(rule: Any) -> dict[str, int]:
    for action in getattr(rule, "actions", []) or []:
        data = getattr(action, "data", None) or {}
        if data.get("Type") != "forward":
            continue
        groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1) or 0) for g in groups}
        if data.get("TargetGroupArn"):
            return {data["TargetGroupArn"]: 1}
    return {}


def _rule(service: Any, arn: str | None) -> Any:
    if not arn:
        return None
    try:
        rules = _elbv2(service).describe_rules(listener_arn=None, rule_arns=[arn])
    except Exception:  # noqa: BLE001 - a rule deleted meanwhile: nothing to move
        log.warning("sandbox: listener rule %s not found", arn)
        return None
    return rules[0] if rules else None


def plan(service: Any, first_deployment: bool) -> list[dict[str, Any]]:
    """For each load balancer with advanced configuration: its rules and which target group is
    blue (serving production now) and which green (the new revision's)."""
    out = []
    for balancer in getattr(service, "load_balancers", None) or []:
        advanced = balancer.get("advancedConfiguration") or {}
        primary, alternate = balancer.get("targetGroupArn"), advanced.get("alternateTargetGroupArn")
        if not advanced or not primary or not alternate:
            continue
        weights = _weights(_rule(service, advanced.get("productionListenerRule")))
        if first_deployment or weights.get(alternate, 0) > weights.get(primary, 0):
            blue, green = alternate, primary
        else:
            blue, green = primary, alternate
        out.append({
            "production": advanced.get("productionListenerRule"),
            "test": advanced.get("testListenerRule"),
            "blue": blue,
            "green": green,
        })
    return out


def shift(service: Any, routes: list[dict[str, Any]], production: float, test: float) -> None:
    """Send ``production``/``test`` percent of traffic to green, the rest to blue."""
    for route in routes:
        for key, percent in (("production", production), ("test", test)):
            rule = _rule(service, route.get(key))
            if rule is None:
                continue
            green = int(round(percent))
            groups = [
                {"TargetGroupArn": route["blue"], "Weight": 100 - green},
                {"TargetGroupArn": route["green"], "Weight": green},
            ]
            try:
                _elbv2(service).modify_rule(
                    rule.arn, [], [{"Type": "forward", "Order": 1, "ForwardConfig": {"TargetGroups": groups}}]
                )
            except Exception:  # noqa: BLE001 - ECS reports it as an event; the sandbox logs it
                log.exception("sandbox: cannot move traffic on %s", rule.arn)
