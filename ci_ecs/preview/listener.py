"""A preview behind a shared listener: its target group (settings copied from the service's own target group, else
documented defaults) and its host-header rule at the first free priority of `preview.priority`.

Every resource found by name is used only when it carries the preview's tag (`ci-ecs:preview=<id>`): one that does
not is refused, never changed or deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ci_ecs.config.preview import PreviewConfig
from ci_ecs.elb import ElbGateway, tag_list
from ci_ecs.errors import AwsError, ConfigError
from ci_ecs.preview.naming import PREVIEW_TAG

log = logging.getLogger(__name__)

# CreateTargetGroup members copied from the service's own target group (DescribeTargetGroups answers them with the
# same names), so the preview is health-checked as the service is.
COPIED = ("Protocol", "ProtocolVersion", "Port", "TargetType", "HealthCheckProtocol", "HealthCheckPort",
          "HealthCheckEnabled", "HealthCheckPath", "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
          "HealthyThresholdCount", "UnhealthyThresholdCount", "Matcher", "IpAddressType")
# Target group attributes copied likewise (ModifyTargetGroupAttributes): how long a stopped task drains.
COPIED_ATTRIBUTES = ("deregistration_delay.timeout_seconds", "slow_start.duration_seconds",
                     "load_balancing.algorithm.type")
# Two `preview up` at once may pick the same free priority: ELB answers PriorityInUse to the second (API reference,
# CreateRule errors), which reads the rules again and takes the next free one.
PRIORITY_ATTEMPTS = 10


@dataclass
class Listener:
    """What the shared listener is: its ARN, protocol, port, and its load balancer's DNS name and VPC."""

    arn: str
    protocol: str
    port: int
    dns_name: str
    vpc_id: str | None

    @property
    def scheme(self) -> str:
        """http or https, as the listener answers."""
        return "https" if self.protocol.upper() == "HTTPS" else "http"

    def url(self, host: str) -> str:
        """The preview's URL: `scheme://host` (the listener's port when it is not the scheme's default)."""
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port != default else "")


@dataclass
class Routing:
    """The preview's target group and rule (None: not there yet), and what `up` created this run."""

    target_group: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None
    created: list[tuple[str, str]] = field(default_factory=list)  # (type, ARN)


def read_listener(elb: ElbGateway, arn: str) -> Listener:
    """The listener and its load balancer, or a ConfigError naming `preview.listener_arn` (exit 2)."""
    listener = elb.describe_listener(arn)
    if listener is None:
        raise ConfigError(f"listener {arn} does not exist", key="preview.listener_arn")
    protocol = str(listener.get("Protocol") or "")
    if protocol.upper() not in ("HTTP", "HTTPS"):
        # Host-header conditions are rules of Application Load Balancer listeners (HTTP/HTTPS) only.
        raise ConfigError(f"listener {arn} is {protocol}: host-header rules need an HTTP or HTTPS listener",
                          key="preview.listener_arn")
    balancer = elb.describe_load_balancer(str(listener["LoadBalancerArn"])) or {}
    return Listener(arn, protocol, int(listener.get("Port") or 0), str(balancer.get("DNSName") or ""),
                    balancer.get("VpcId"))


def forwards_to(rule: dict[str, Any], group_arn: str) -> bool:
    for action in rule.get("Actions") or []:
        if action.get("TargetGroupArn") == group_arn:
            return True
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if any(g.get("TargetGroupArn") == group_arn for g in groups):
            return True
    return False


def host_of(rule: dict[str, Any]) -> str | None:
    """The first host-header value of a rule (None when it has no host-header condition)."""
    for condition in rule.get("Conditions") or []:
        if condition.get("Field") == "host-header":
            values = (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []
            if values:
                return str(values[0])
    return None


def free_priorities(rules: list[dict[str, Any]], preview: PreviewConfig) -> list[int]:
    """The priorities of `preview.priority` no rule of the listener has, lowest first.

    >>> from ci_ecs.config.preview import PreviewConfig
    >>> free_priorities([{"Priority": "1000"}, {"Priority": "default"}],
    ...                 PreviewConfig(priority={"min": 1000, "max": 1002}))
    [1001, 1002]
    """
    used = {int(r["Priority"]) for r in rules if str(r.get("Priority", "default")).isdigit()}
    return [p for p in range(preview.priority.min, preview.priority.max + 1) if p not in used]


def read_routing(elb: ElbGateway, listener: Listener, group_name: str, preview_id: str) -> Routing:
    """The preview's target group (by name) and its rule on the listener; ConfigError (exit 2) for a target group
    of that name that is not this preview's."""
    routing = Routing()
    group = elb.target_group(name=group_name)
    if group is None:
        return routing
    arn = str(group["TargetGroupArn"])
    if elb.tags([arn]).get(arn, {}).get(PREVIEW_TAG) != preview_id:
        raise ConfigError(f"target group {group_name} exists and is not tagged {PREVIEW_TAG}={preview_id}: it is "
                          "not this preview's, so it is left alone (remove or rename it)", key="--id")
    routing.target_group = group
    rules = [r for r in elb.rules(listener.arn) if not r.get("IsDefault") and forwards_to(r, arn)]
    if rules:
        rule_arn = str(rules[0]["RuleArn"])
        if elb.tags([rule_arn]).get(rule_arn, {}).get(PREVIEW_TAG) == preview_id:
            routing.rule = rules[0]
    return routing


def check_room(elb: ElbGateway, listener: Listener, preview: PreviewConfig, routing: Routing) -> None:
    """Pre-flight: a preview without its rule yet needs a free priority in the range (ConfigError, exit 2)."""
    if routing.rule is not None:
        return
    if not free_priorities(elb.rules(listener.arn), preview):
        raise ConfigError(f"every priority from {preview.priority.min} to {preview.priority.max} is taken on the "
                          "listener: remove previews (ci-ecs preview gc) or widen the range",
                          key="preview.priority")


def target_group_request(name: str, listener: Listener, source: dict[str, Any] | None, source_attributes:
                         dict[str, str], port: int, network_mode: str | None, tags: dict[str, str],
                         health_check_path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """CreateTargetGroup's input and the attributes to set after it.

    From the service's own target group when it has one (`source`), else ELB's defaults for HTTP, with target
    type `ip` for awsvpc tasks (ECS API reference, LoadBalancer: "If your service's task definition uses the
    awsvpc network mode, you must choose ip as the target type") and `instance` otherwise.
    """
    params: dict[str, Any] = {"Name": name, "Tags": tag_list(tags)}
    if source is not None:
        params.update({k: source[k] for k in COPIED if source.get(k) is not None})
        params["VpcId"] = source.get("VpcId") or listener.vpc_id
    else:
        params.update({"Protocol": "HTTP", "Port": port, "VpcId": listener.vpc_id, "HealthCheckPath":
                       health_check_path, "TargetType": "ip" if network_mode == "awsvpc" else "instance"})
    if params.get("VpcId") is None:
        params.pop("VpcId")
    attributes = {k: v for k, v in source_attributes.items() if k in COPIED_ATTRIBUTES}
    return params, attributes


def ensure_target_group(elb: ElbGateway, routing: Routing, params: dict[str, Any],
                        attributes: dict[str, str]) -> dict[str, Any]:
    """The preview's target group: as found, or created (with `attributes`)."""
    if routing.target_group is not None:
        return routing.target_group
    group = elb.create_target_group(params)
    routing.target_group = group
    routing.created.append(("targetGroup", str(group["TargetGroupArn"])))
    if attributes:
        elb.modify_target_group_attributes(str(group["TargetGroupArn"]), attributes)
    log.info("target group %s created", params["Name"])
    return group


def ensure_rule(elb: ElbGateway, listener: Listener, preview: PreviewConfig, routing: Routing, host: str,
                tags: dict[str, str]) -> dict[str, Any]:
    """The preview's host-header rule forwarding to its target group: as found (its host set again when the
    template changed), or created at the first free priority (the next one when another `up` took it first)."""
    assert routing.target_group is not None
    conditions = [{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}]
    if routing.rule is not None:
        if (host_of(routing.rule) or "").lower() != host:
            elb.modify_rule_conditions(str(routing.rule["RuleArn"]), conditions)
            log.info("listener rule of the preview: host set to %s", host)
        return routing.rule
    actions = [{"Type": "forward", "TargetGroupArn": routing.target_group["TargetGroupArn"]}]
    for _ in range(PRIORITY_ATTEMPTS):
        free = free_priorities(elb.rules(listener.arn), preview)
        if not free:
            break
        try:
            rule = elb.create_rule({"ListenerArn": listener.arn, "Priority": free[0], "Conditions": conditions,
                                    "Actions": actions, "Tags": tag_list(tags)})
        except AwsError as exc:
            if exc.fields.get("code") in ("PriorityInUse", "PriorityInUseException"):
                log.info("priority %d was taken meanwhile: trying the next free one", free[0])
                continue
            raise
        routing.rule = rule
        routing.created.append(("listenerRule", str(rule["RuleArn"])))
        log.info("listener rule for %s created at priority %d", host, free[0])
        return rule
    raise ConfigError(f"no free priority from {preview.priority.min} to {preview.priority.max} on the listener "
                      "(other previews took them meanwhile)", key="preview.priority")


def undo(elb: ElbGateway, routing: Routing) -> None:
    """Remove what this run created (a later step refused the preview): the rule first, then the target group."""
    for kind, arn in reversed(routing.created):
        if kind == "listenerRule":
            elb.delete_rule(arn)
        else:
            elb.delete_target_group(arn)
        log.info("removed the %s this run created", "listener rule" if kind == "listenerRule" else "target group")
    routing.created.clear()
