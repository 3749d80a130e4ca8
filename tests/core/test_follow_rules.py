"""Pure rules of following a deployment and updating a service, table-driven, no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from ci_ecs.config import ServiceConfig
from ci_ecs.errors import ConfigError
from ci_ecs.follow.by_id import _rolled_back
from ci_ecs.follow.loop import ours_to_count
from ci_ecs.follow.state import StoppedTasks
from ci_ecs.service import create_params, desired_service, update_plan

OURS_TD, OLD_TD = "arn:td/web:2", "arn:td/web:1"

# (case, ours now, ours when last seen, PRIMARY now, breaker rollback, expected)
ROLLBACK_CASES: list[tuple[str, Any, Any, dict[str, Any], bool, bool]] = [
    ("ours-failed-old-primary", {"rolloutState": "FAILED", "taskDefinition": OURS_TD}, None,
     {"taskDefinition": OLD_TD}, True, True),
    ("ours-gone-was-failed", None, {"rolloutState": "FAILED", "taskDefinition": OURS_TD},
     {"taskDefinition": OLD_TD}, True, True),
    ("ours-gone-breaker-rollback-previous-primary", None, {"rolloutState": "IN_PROGRESS", "taskDefinition": OURS_TD},
     {"taskDefinition": OLD_TD}, True, True),
    ("ours-gone-no-breaker-is-superseded", None, {"rolloutState": "IN_PROGRESS", "taskDefinition": OURS_TD},
     {"taskDefinition": OLD_TD}, False, False),
    ("someone-else-deployed-a-third-revision", None, {"rolloutState": "IN_PROGRESS", "taskDefinition": OURS_TD},
     {"taskDefinition": "arn:td/web:3"}, True, False),
    ("ours-active-in-progress-replaced", {"rolloutState": "IN_PROGRESS", "taskDefinition": OURS_TD}, None,
     {"taskDefinition": "arn:td/web:3"}, True, False),
]


@pytest.mark.parametrize(("case", "ours", "last_seen", "primary", "breaker_rollback", "expected"), ROLLBACK_CASES,
                         ids=[c[0] for c in ROLLBACK_CASES])
def test_rollback_is_read_from_states(case: str, ours: Any, last_seen: Any, primary: dict[str, Any],
                                      breaker_rollback: bool, expected: bool) -> None:
    """Only deployment states and task definitions decide; no event text is an input at all."""
    assert _rolled_back(ours, last_seen, primary, OLD_TD, breaker_rollback) is expected


CURRENT: dict[str, Any] = {
    "serviceName": "web", "status": "ACTIVE", "taskDefinition": OLD_TD, "desiredCount": 4,
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-2", "subnet-1"], "securityGroups": ["sg-1"],
                                                     "assignPublicIp": "ENABLED"}},
    "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50,
                                "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
}

UPDATE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("nothing-set", {}, {}),
    ("only-image", {}, {}),
    ("security-group-only", {"security_groups": ["sg-2"]},
     {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-2"],
                                                       "assignPublicIp": "ENABLED"}}}),
    ("public-ip-off-only", {"assign_public_ip": False},
     {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"],
                                                       "assignPublicIp": "DISABLED"}}}),
    ("same-public-ip", {"assign_public_ip": True}, {}),
    ("max-percent-only", {"maximum_percent": 200},
     {"deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50,
                                  "deploymentCircuitBreaker": {"enable": True, "rollback": True}}}),
    ("count", {"desired_count": 4}, {}),
]


@pytest.mark.parametrize(("case", "settings", "sent"), UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_update_sends_only_what_the_config_sets_and_differs(case: str, settings: dict[str, Any],
                                                            sent: dict[str, Any]) -> None:
    spec = desired_service(ServiceConfig(name="web", **settings), task_definition=OLD_TD)
    changes, params = update_plan(spec, CURRENT, network_mode="awsvpc")
    assert params == sent
    assert bool(changes) is bool(sent)


def test_awsvpc_update_of_a_service_without_network_needs_subnets() -> None:
    spec = desired_service(ServiceConfig(name="web"), task_definition=OURS_TD)
    bridge_service = {k: v for k, v in CURRENT.items() if k != "networkConfiguration"}
    with pytest.raises(ConfigError, match="service.subnets"):
        update_plan(spec, bridge_service, network_mode="awsvpc")


def test_create_defaults_apply_only_when_creating() -> None:
    spec = desired_service(ServiceConfig(name="web", security_groups=["sg-1"]), task_definition=OURS_TD)
    params = create_params(spec, cluster="c", name="web", network_mode="awsvpc",
                           default_subnets=lambda: ["subnet-b", "subnet-a"], launch_type="FARGATE")
    assert params["desiredCount"] == 1 and params["launchType"] == "FARGATE"
    assert params["networkConfiguration"] == {"awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-b"],
                                                                      "securityGroups": ["sg-1"]}}
    with_strategy = desired_service(ServiceConfig(name="web", capacity_provider_strategy=[
        {"capacity_provider": "FARGATE_SPOT"}]), task_definition=OURS_TD)
    assert "launchType" not in create_params(with_strategy, cluster="c", name="web", network_mode=None,
                                             default_subnets=list, launch_type="FARGATE")


def test_stopped_task_failures_forgive_scale_in_and_user_stops() -> None:
    tracker = StoppedTasks(ecs=None, cluster="c", service="web", deployment_id="ecs-svc/1")  # type: ignore[arg-type]
    tracker.tasks = [{"stopCode": "EssentialContainerExited"}, {"stopCode": "UserInitiated"},
                     {"stopCode": "ServiceSchedulerInitiated"}, {"stopCode": "ServiceSchedulerInitiated"},
                     {"stopCode": "SpotInterruption"}]
    assert len(tracker.failures()) == 3
    assert len(tracker.failures(scaled_in=2)) == 1


# (case, stopped tasks of ours, ECS's failure count, circuit breaker on, counted by ci-ecs)
COUNT_CASES: list[tuple[str, list[dict[str, Any]], int, bool, int]] = [
    ("breaker-counts-tasks-that-never-ran", [{}, {}, {}], 3, True, 0),
    ("crashed-after-running-ecs-stopped-counting", [{"startedAt": 1}, {"startedAt": 2}, {}], 0, True, 2),
    ("no-breaker-every-failure", [{}, {"startedAt": 1}], 1, False, 2),
    ("no-breaker-ecs-count-higher", [{}], 3, False, 3),
]


@pytest.mark.parametrize(("case", "failures", "ecs_failed", "breaker", "expected"), COUNT_CASES,
                         ids=[c[0] for c in COUNT_CASES])
def test_ci_ecs_counts_only_what_ecs_does_not(case: str, failures: list[dict[str, Any]], ecs_failed: int,
                                             breaker: bool, expected: int) -> None:
    """With a circuit breaker, tasks that never ran are ECS's to count (ci-ecs would race its rollback)."""
    assert ours_to_count(failures, ecs_failed, circuit_breaker=breaker) == expected
