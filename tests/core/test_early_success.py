"""Issue 26 item 3 (ci-ecs's side): what ci-ecs reads of a service deployment with early success criteria. Pure,
table-driven: the inputs are DescribeServiceDeployments answers as the ECS API reference documents them
(ServiceDeployment.deploymentConfiguration.earlySuccessCriteria, sourceServiceRevisions[].runningTaskCount)."""

from __future__ import annotations

from typing import Any

import pytest

from ci_ecs.follow.early_success import cleanup_note, criteria, old_tasks


def _sd(status: str = "SUCCESSFUL", cleanup: str | None = "DEFERRED", enable: bool = True,
        running: int = 2, pending: int = 0) -> dict[str, Any]:
    early: dict[str, Any] = {"enable": enable, "healthyPercent": 50}
    if cleanup:
        early["sourceServiceRevisionCleanup"] = cleanup
    return {"status": status, "deploymentConfiguration": {"strategy": "ROLLING", "earlySuccessCriteria": early},
            "targetServiceRevision": {"requestedTaskCount": 4, "runningTaskCount": 2, "pendingTaskCount": 2},
            "sourceServiceRevisions": [{"requestedTaskCount": 0, "runningTaskCount": running,
                                        "pendingTaskCount": pending}]}


# (id, service deployment, whether a clean-up note is due)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("deferred-old-tasks-left", _sd(), True),
    ("deferred-old-task-still-pending", _sd(running=0, pending=1), True),
    ("deferred-nothing-left", _sd(running=0), False),
    ("blocking", _sd(cleanup="BLOCKING"), False),
    ("criteria-disabled", _sd(enable=False), False),
    ("still-in-progress", _sd(status="IN_PROGRESS"), False),
    ("rolled-back", _sd(status="ROLLBACK_SUCCESSFUL"), False),
    ("no-criteria", {"status": "SUCCESSFUL", "sourceServiceRevisions": [{"runningTaskCount": 3}]}, False),
]


@pytest.mark.parametrize(("case", "sd", "due"), CASES, ids=[c[0] for c in CASES])
def test_cleanup_note(case: str, sd: dict[str, Any], due: bool) -> None:
    note = cleanup_note(sd)
    assert (note is not None) == due, note
    if due:
        assert "still being cleaned up" in str(note) and f"{old_tasks(sd)} task(s) left" in str(note)


def test_criteria_and_old_tasks() -> None:
    assert criteria(_sd()) == {"enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}
    assert criteria(_sd(enable=False)) is None and criteria({}) is None
    assert old_tasks(_sd(running=2, pending=1)) == 3 and old_tasks({}) == 0


@pytest.mark.parametrize(("early", "state"), [(None, "FAILED"), ({"enable": True, "healthyPercent": 50}, "COMPLETED"),
                                              ({"enable": True, "healthyPercent": 75}, "FAILED")])
def test_stable_window_asks_the_healthy_percent_of_an_early_success(
        early: dict[str, Any] | None, state: str, moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """ECS ended the deployment at 2 of 4 healthy tasks (healthyPercent 50) and keeps scaling up: ci-ecs's
    verdict after the stable window is ECS's, not "2 of 4 tasks running". moto's MOTO_ECS_SERVICE_RUNNING makes
    the service report 2 running tasks of 4 (its documented knob; moto runs no tasks)."""
    from ci_ecs.ecs import EcsGateway
    from ci_ecs.follow.stable import verify_stable

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 64}])
    service = ecs.create_service(cluster="c", serviceName="web", taskDefinition="web", desiredCount=4)["service"]
    deployment = service["deployments"][0]
    assert (deployment["runningCount"], deployment["desiredCount"]) == (2, 4)
    outcome = verify_stable(EcsGateway(ecs), "c", "web", str(deployment["id"]), stable_seconds=0,
                            running_since=None, completed=service, early=early, sleep=lambda _: None)
    assert outcome.state == state, outcome.reason


def test_follow_ends_when_ecs_says_successful_at_the_early_success_criteria() -> None:
    """The service deployment is SUCCESSFUL at 2 of 4 tasks with 2 old ones still running (DEFERRED): ci-ecs's
    outcome is COMPLETED at that poll, and the note says the old revision is still being cleaned up.
    botocore Stubber: neither moto nor the sandbox (yet) emulates early success criteria."""
    from datetime import datetime, timezone

    import boto3
    from botocore.stub import Stubber

    from ci_ecs.ecs import EcsGateway
    from ci_ecs.follow.service_deployment import follow_service_deployment

    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc"
    sd = {**_sd(), "serviceDeploymentArn": arn, "createdAt": datetime(2026, 12, 3, tzinfo=timezone.utc)}
    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stub:
        stub.add_response("describe_service_deployments", {"serviceDeployments": [sd]},
                          {"serviceDeploymentArns": [arn]})
        stub.add_response("list_tasks", {"taskArns": []})  # our deployment's stopped tasks: none
        stub.add_response("describe_services", {"services": [{"serviceName": "web", "status": "ACTIVE",
                                                              "desiredCount": 4}]},
                          {"cluster": "c", "services": ["web"]})
        outcome = follow_service_deployment(EcsGateway(ecs), "c", "web", "ecs-svc/1", arn, timeout=5,
                                            sleep=lambda _: None)
        stub.assert_no_pending_responses()
    assert outcome.state == "COMPLETED"
    assert cleanup_note(outcome.service_deployment or {}) is not None
