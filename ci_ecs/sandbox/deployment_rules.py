"""CreateService / UpdateService deployment settings ECS refuses (InvalidParameterException), refused
before anything is created or changed.

Written from AWS's documentation, independently of ci-ecs's own pre-flight. Sources: ECS API
reference, DeploymentConfiguration (bakeTimeInMinutes "must" be given for BLUE_GREEN; strategies
other than ROLLING only with the ECS deployment controller), CanaryConfiguration (canaryPercent
multiples of 0.1 from 0.1 to 100.0, canaryBakeTimeInMinutes 0 to 1440), LinearConfiguration
(stepPercent multiples of 0.1 from 3.0 to 100.0, stepBakeTimeInMinutes 0 to 1440),
AdvancedConfiguration (alternate target group, production listener rule and role for
blue/green), DeploymentLifecycleHook (Lambda hooks name their function and role; stages from
DeploymentLifecycleHookStage), and "Required resources for Amazon ECS blue/green deployments" (a
load balancer or Service Connect for managed traffic shifting; LINEAR and CANARY shift traffic,
so they need one).
"""

from __future__ import annotations

import math
from typing import Any

from moto.ecs.exceptions import InvalidParameterException

from .strategies import STRATEGIES

# Stages a lifecycle hook may name (DeploymentLifecycleHook.lifecycleStages, ECS API reference: "Choose from
# these valid values", PRE_PRODUCTION_TRAFFIC_SHIFT included: "Occurs before production traffic shift").
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# Strategy settings that belong to one strategy (CanaryConfiguration / LinearConfiguration: "only valid with").
STRATEGY_SECTIONS = (("canaryConfiguration", "CANARY"), ("linearConfiguration", "LINEAR"))
# Strategies that shift traffic through a load balancer (or Service Connect) and cannot do without one.
TRAFFIC_SHIFTING = ("LINEAR", "CANARY")
# (section of deploymentConfiguration, None for its top level; member; lowest; highest; unit), in the
# order the checks run. Minutes are whole numbers; percents multiples of 0.1 (see the module docstring).
MINUTES, PERCENT = "minutes", "percent"
RANGES = (
    (None, "bakeTimeInMinutes", 0, 1440, MINUTES),
    ("canaryConfiguration", "canaryPercent", 0.1, 100.0, PERCENT),
    ("canaryConfiguration", "canaryBakeTimeInMinutes", 0, 1440, MINUTES),
    ("linearConfiguration", "stepPercent", 3.0, 100.0, PERCENT),
    ("linearConfiguration", "stepBakeTimeInMinutes", 0, 1440, MINUTES),
)
ADVANCED_REQUIRED = ("alternateTargetGroupArn", "productionListenerRule", "roleArn")


def validate(configuration: dict[str, Any], load_balancers: list[dict[str, Any]] | None, controller: str) -> None:
    """Refuse (InvalidParameterException) the deployment settings ECS refuses; the first problem
    found, in the order: strategy, strategy settings, ranges, load balancers, hooks, alarms."""
    strategy = configuration.get("strategy") or "ROLLING"
    _check_strategy(configuration, strategy, controller)
    _check_ranges(configuration)
    _check_load_balancers(strategy, load_balancers)
    _check_hooks(configuration.get("lifecycleHooks") or [])
    _check_early_success(configuration, strategy)
    alarms = configuration.get("alarms")
    if alarms and alarms.get("enable") and not alarms.get("alarmNames"):
        raise InvalidParameterException("Deployment alarms require at least one alarm name.")


def _check_strategy(configuration: dict[str, Any], strategy: str, controller: str) -> None:
    if strategy not in STRATEGIES:
        raise InvalidParameterException(f"Invalid deployment strategy: {strategy}.")
    if strategy != "ROLLING" and controller != "ECS":
        raise InvalidParameterException(
            f"The {strategy} deployment strategy is only supported with the ECS deployment controller."
        )
    for section, owner in STRATEGY_SECTIONS:
        if configuration.get(section) is not None and strategy != owner:
            raise InvalidParameterException(f"{section} is only valid with the {owner} deployment strategy.")


def _check_ranges(configuration: dict[str, Any]) -> None:
    for section, member, low, high, unit in RANGES:
        holder = configuration if section is None else configuration.get(section) or {}
        value = holder.get(member)
        if unit == PERCENT:
            percent = _number(value)
            if percent is not None and (not low <= percent <= high or not _tenths(percent)):
                raise InvalidParameterException(f"{member} must be a multiple of 0.1 from {low} to {high}.")
        elif value is not None and not low <= int(value) <= high:
            raise InvalidParameterException(f"{member} must be between {low} and {high}.")


def _check_load_balancers(strategy: str, load_balancers: list[dict[str, Any]] | None) -> None:
    if strategy in TRAFFIC_SHIFTING and not load_balancers:
        raise InvalidParameterException(
            f"The {strategy} deployment strategy requires a load balancer or Service Connect configuration."
        )
    for balancer in load_balancers or []:
        advanced = balancer.get("advancedConfiguration")
        if strategy != "ROLLING" and not advanced:
            raise InvalidParameterException(
                f"The {strategy} deployment strategy requires advancedConfiguration on each load balancer."
            )
        missing = [k for k in ADVANCED_REQUIRED if not advanced.get(k)] if advanced else []
        if missing:
            raise InvalidParameterException(f"advancedConfiguration requires {', '.join(missing)}.")


def _check_hooks(hooks: list[dict[str, Any]]) -> None:
    for hook in hooks:
        target_type = hook.get("targetType") or "AWS_LAMBDA"
        if target_type == "AWS_LAMBDA" and not (hook.get("hookTargetArn") and hook.get("roleArn")):
            raise InvalidParameterException("An AWS_LAMBDA lifecycle hook requires hookTargetArn and roleArn.")
        stages = hook.get("lifecycleStages") or []
        if not stages:
            raise InvalidParameterException("A lifecycle hook requires at least one lifecycle stage.")
        for stage in stages:
            if stage not in HOOK_STAGES:
                raise InvalidParameterException(f"Invalid lifecycle stage: {stage}.")


def _check_early_success(configuration: dict[str, Any], strategy: str) -> None:
    """earlySuccessCriteria as the API reference (DeploymentEarlySuccessCriteria) rules it: "only with rolling
    deployment strategy"; with ``enable`` true "you must also specify healthyPercent and
    sourceServiceRevisionCleanup"; healthyPercent "an integer between 0 and 100" and "greater than or equal to
    the minimumHealthyPercent value"; sourceServiceRevisionCleanup BLOCKING or DEFERRED."""
    criteria = configuration.get("earlySuccessCriteria")
    if criteria is None:
        return
    if strategy != "ROLLING":
        raise InvalidParameterException("earlySuccessCriteria is only valid with the ROLLING deployment strategy.")
    if not criteria.get("enable"):
        return
    percent, cleanup = criteria.get("healthyPercent"), criteria.get("sourceServiceRevisionCleanup")
    if percent is None or cleanup is None:
        raise InvalidParameterException(
            "earlySuccessCriteria with enable true requires healthyPercent and sourceServiceRevisionCleanup."
        )
    if cleanup not in ("BLOCKING", "DEFERRED"):
        raise InvalidParameterException(
            "earlySuccessCriteria.sourceServiceRevisionCleanup must be BLOCKING or DEFERRED."
        )
    minimum = int(configuration.get("minimumHealthyPercent", 100))
    if not 0 <= int(percent) <= 100 or int(percent) < minimum:
        raise InvalidParameterException(
            "earlySuccessCriteria.healthyPercent must be between 0 and 100 and at least "
            f"minimumHealthyPercent ({minimum})."
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _tenths(value: float) -> bool:
    return math.isclose(round(value * 10), value * 10, abs_tol=1e-6)
