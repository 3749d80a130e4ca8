"""The changes the forwarding load balancers make to moto's ELBv2 (installed with the sandbox's
other patches, ``patches.install``).

moto internals relied on (``moto.elbv2.models``), and why:
  - ``ELBv2Backend.create_load_balancer``: an application load balancer's ``dns_name`` becomes
    its loopback address, so DescribeLoadBalancers' DNSName is where it answers.
  - ``ELBv2Backend.create_listener`` / ``modify_listener`` / ``delete_listener`` /
    ``delete_load_balancer``: the listeners' sockets follow (``Forwarder.sync_listeners``).
  - ``ELBv2Backend.register_targets`` / ``deregister_targets``: a deregistered target drains for
    the target group's ``deregistration_delay.timeout_seconds`` (it stays in
    ``FakeTargetGroup.targets`` meanwhile, as DescribeTargetHealth lists draining targets).
  - ``ELBV2Response.create_rule`` / ``modify_rule`` (``_get_params``): the host-header values and priorities ELB
    refuses besides moto's checks.
  - ``ELBv2Backend.delete_rule``: ELB's errors for a rule that does not exist and for a default rule (moto
    returns quietly for both).
  - ``FakeTargetGroup.health_for``: DescribeTargetHealth reports the health checks' results
    (moto says "healthy" for every registered target).
  - Models read: ``load_balancers``, ``FakeLoadBalancer.listeners``/``type``/``arn``,
    ``FakeListener.rules``/``port``/``protocol``, ``FakeRule.priority``/``conditions``/``actions``
    (``FakeAction.data``), ``target_groups``, ``FakeTargetGroup.targets``/``deregistered_targets``/
    ``attributes``/``load_balancer_arns``/health check attributes/``matcher``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from moto.elbv2.exceptions import ELBClientError, InvalidConditionValueError, RuleNotFoundError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup
from moto.elbv2.responses import ELBV2Response

from . import state

_ORIGINALS: dict[tuple[type, str], Any] = {}
_PATCHES: list[tuple[type, str, Callable[..., Any]]] = []
_lock = threading.Lock()


def _patch(owner: type, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _PATCHES.append((owner, name, func))
        return func

    return decorator


def _original(owner: type, name: str) -> Any:
    return _ORIGINALS.get((owner, name), getattr(owner, name))


@_patch(ELBv2Backend, "create_load_balancer")
def _create_load_balancer(self: ELBv2Backend, *args: Any, **kwargs: Any) -> Any:
    balancer = _original(ELBv2Backend, "create_load_balancer")(self, *args, **kwargs)
    forwarder = state.active()
    if forwarder is not None and getattr(balancer, "type", "application") == "application":
        balancer.dns_name = forwarder.allocate(balancer.arn)
    return balancer


def _then_sync(name: str) -> Callable[..., Any]:
    def patched(self: ELBv2Backend, *args: Any, **kwargs: Any) -> Any:
        result = _original(ELBv2Backend, name)(self, *args, **kwargs)
        forwarder = state.active()
        if forwarder is not None:
            forwarder.sync_listeners()
        return result

    patched.__name__ = f"_{name}"
    return patched


for _name in ("create_listener", "modify_listener", "delete_listener", "delete_load_balancer"):
    _patch(ELBv2Backend, _name)(_then_sync(_name))


@_patch(ELBv2Backend, "register_targets")
def _register_targets(self: ELBv2Backend, target_group_arn: str, instances: list[Any]) -> None:
    forwarder = state.active()
    if forwarder is not None:
        for target in instances:
            forwarder.forget(target_group_arn, str(target["Id"]))
    _original(ELBv2Backend, "register_targets")(self, target_group_arn, instances)


@_patch(ELBv2Backend, "deregister_targets")
def _deregister_targets(self: ELBv2Backend, target_group_arn: str, instances: list[dict[str, Any]]) -> None:
    forwarder = state.active()
    group = self.target_groups.get(target_group_arn)
    if forwarder is None or group is None or any(t["Id"] not in group.targets for t in instances):
        # moto's own answers: TargetGroupNotFound, InvalidTarget for a target not registered.
        _original(ELBv2Backend, "deregister_targets")(self, target_group_arn, instances)
        return
    for target in instances:
        registered = group.targets[target["Id"]]
        forwarder.drain(group.arn, str(target["Id"]), int(registered.get("Port") or group.port or 0))


# ELB API reference, HostHeaderConditionConfig.Values: "The maximum length of each string is 128 characters ...
# The following wildcard characters are supported: * ... and ? ... You must include at least one "." character. You
# can include only alphabetical characters after the final "." character." The ELB user guide (Listener rules,
# host conditions) lists the characters a value may have: A-Z, a-z, 0-9, - . * ?
_HOST_CHARACTERS = re.compile(r"^[A-Za-z0-9.*?-]+$")


def _check_rule_request(params: dict[str, Any]) -> None:
    """What CreateRule/ModifyRule refuse beyond moto's checks (a request's, not the sandbox's own rules: the
    Express emulation's rule names its load balancer's DNS name, which is a real host name on AWS and a loopback
    address here)."""
    priority = params.get("Priority")
    # ELB API reference, CreateRule Priority: "Valid Range: Minimum value of 1. Maximum value of 50000."
    if priority is not None and not 1 <= int(priority) <= 50000:
        raise InvalidConditionValueError(f"Priority {priority} is outside the range 1-50000")
    for condition in params.get("Conditions") or []:
        if condition.get("Field") != "host-header":
            continue
        for value in (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []:
            if not _HOST_CHARACTERS.match(value):
                raise InvalidConditionValueError(f"The 'host-header' value '{value}' contains characters that are "
                                                 "not allowed (A-Z, a-z, 0-9, -, ., * and ?)")
            if "." not in value or not value.rsplit(".", 1)[1].isalpha():
                raise InvalidConditionValueError(f"The 'host-header' value '{value}' must contain a '.' followed "
                                                 "only by letters")


@_patch(ELBV2Response, "create_rule")
def _create_rule(self: ELBV2Response) -> Any:
    _check_rule_request(self._get_params())
    return _original(ELBV2Response, "create_rule")(self)


@_patch(ELBV2Response, "modify_rule")
def _modify_rule(self: ELBV2Response) -> Any:
    _check_rule_request(self._get_params())
    return _original(ELBV2Response, "modify_rule")(self)


@_patch(ELBv2Backend, "delete_target_group")
def _delete_target_group(self: ELBv2Backend, target_group_arn: str) -> Any:
    # ELB API reference, DeleteTargetGroup, Errors: ResourceInUse only (botocore's model likewise): a target group
    # that is not there (deleted meanwhile) is no error, where moto answered TargetGroupNotFound.
    if target_group_arn not in self.target_groups:
        return None
    return _original(ELBv2Backend, "delete_target_group")(self, target_group_arn)


@_patch(ELBv2Backend, "delete_rule")
def _delete_rule(self: ELBv2Backend, arn: str) -> None:
    # ELB API reference, DeleteRule, Errors: "OperationNotPermitted: This operation is not allowed" (a listener's
    # default rule is deleted with the listener only) and "RuleNotFound: The specified rule does not exist."
    for balancer in self.load_balancers.values():
        for listener in balancer.listeners.values():
            for rule in listener.rules.values():
                if rule.arn == arn and getattr(rule, "is_default", False):
                    raise ELBClientError("OperationNotPermitted", "Default rules cannot be deleted")
                if rule.arn == arn:
                    _original(ELBv2Backend, "delete_rule")(self, arn)
                    return
    raise RuleNotFoundError()


@_patch(FakeTargetGroup, "health_for")
def _health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
    forwarder = state.active()
    registered = self.targets.get(target["Id"])
    if forwarder is None or registered is None:
        result: FakeHealthStatus = _original(FakeTargetGroup, "health_for")(self, target, ec2_backend)
        return result
    port = registered.get("Port") or self.port
    known = forwarder.health_of(self, str(target["Id"]), int(port or 0))
    if known is None:  # registered a moment ago: the health loop has not seen it yet
        return FakeHealthStatus(target["Id"], port, self.health_check_port, "initial", "Elb.RegistrationInProgress",
                                "Target registration is in progress")
    return FakeHealthStatus(target["Id"], port, self.health_check_port, known.state, known.reason,
                            known.description)


def install() -> None:
    """Apply the ELBv2 patches (idempotent)."""
    with _lock:
        for owner, name, func in _PATCHES:
            if (owner, name) not in _ORIGINALS:
                _ORIGINALS[(owner, name)] = owner.__dict__[name]
                setattr(owner, name, func)


def uninstall() -> None:
    """Restore moto's own methods."""
    with _lock:
        for (owner, name), original in list(_ORIGINALS.items()):
            setattr(owner, name, original)
            del _ORIGINALS[(owner, name)]
