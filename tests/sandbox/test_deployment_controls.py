"""Issue 26's deployment controls on the sandbox (simulated runtime), with boto3: earlySuccessCriteria on a
rolling deployment (ECS API reference, DeploymentEarlySuccessCriteria; Developer Guide, "Complete Amazon ECS
rolling deployments early with early success criteria") and a COUNT threshold for the circuit breaker
(ThresholdConfiguration)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_ecs.sandbox import CRASH_LABEL

from .conftest import TASK_START_SECONDS, Aws, wait_for


def _early(cleanup: str) -> dict[str, Any]:
    return {"minimumHealthyPercent": 50, "maximumPercent": 100,
            "earlySuccessCriteria": {"enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": cleanup}}


def _deploy_v2_and_catch_completion(aws: Aws, cleanup: str) -> tuple[str, str, dict[str, Any], list[dict[str, Any]]]:
    """A service of 4 tasks at v1, updated to v2; returns the cluster, v2's ARN, the service and its tasks
    (any desired status) as they were at the first DescribeServices that showed v2's deployment COMPLETED."""
    cluster = aws.cluster()
    family = f"early-{cleanup.lower()}"
    aws.service(cluster, "web", aws.task_definition(family), desired=4, deployment_configuration=_early(cleanup))
    aws.wait_stable(cluster, "web")
    aws.sb.set_faults(task_start_seconds=1.0)  # a window between the 2nd and the 4th new task
    v2 = aws.task_definition(family, labels={"v": "2"})
    aws.ecs.update_service(cluster=cluster, service="web", taskDefinition=v2)

    def completed() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        service = aws.describe(cluster, "web")
        primary = service["deployments"][0]
        if primary["taskDefinition"] == v2 and primary["rolloutState"] == "COMPLETED":
            return service, aws.tasks(cluster, "web") + aws.tasks(cluster, "web", desired_status="STOPPED")
        return None

    service, tasks = wait_for(completed, timeout=30, what="v2 COMPLETED", interval=0.05)
    return cluster, v2, service, tasks


def test_early_success_deferred_completes_once_half_the_new_tasks_are_healthy(aws: Aws) -> None:
    cluster, v2, service, tasks = _deploy_v2_and_catch_completion(aws, "DEFERRED")
    primary = service["deployments"][0]
    assert primary["runningCount"] == 2, service["deployments"]  # 50 % of 4, not 4
    # DEFERRED: successful first, the source revision's tasks are removed afterwards.
    assert len(service["deployments"]) == 2
    (record,) = aws.ecs.describe_service_deployments(
        serviceDeploymentArns=[service["currentServiceDeployment"]])["serviceDeployments"]
    assert record["status"] == "SUCCESSFUL"
    # Some source-revision tasks were still up when the deployment succeeded. Read from the sandbox's own
    # timestamps (stoppingAt against the deployment's finishedAt), not from when the test listed the tasks: under
    # load the background cleanup may already have stopped them by then.
    finished = record["finishedAt"]
    still_up = [t for t in tasks if t["taskDefinitionArn"] != v2
                and (t["lastStatus"] != "STOPPED" or t.get("stoppingAt", finished) >= finished)]
    assert still_up, (finished, tasks)
    # ECS carries on to 100 % of the target revision in the background.
    (deployment,) = aws.wait_stable(cluster, "web", timeout=30)["deployments"]
    assert deployment["runningCount"] == 4
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "web")} == {v2}


def test_early_success_blocking_completes_once_the_old_tasks_are_gone(aws: Aws) -> None:
    cluster, v2, service, tasks = _deploy_v2_and_catch_completion(aws, "BLOCKING")
    assert service["deployments"][0]["runningCount"] >= 2
    # The source revision cleaned up first.
    assert {t["taskDefinitionArn"] for t in tasks if t["lastStatus"] != "STOPPED"} == {v2}
    aws.wait_stable(cluster, "web", timeout=30)


def test_early_success_rules(aws: Aws) -> None:
    cluster = aws.cluster()
    below_minimum = {"minimumHealthyPercent": 100, "earlySuccessCriteria": {
        "enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}}
    incomplete = {"minimumHealthyPercent": 50, "earlySuccessCriteria": {"enable": True, "healthyPercent": 50}}
    for configuration in (below_minimum, incomplete):
        with pytest.raises(ClientError) as caught:
            aws.service(cluster, "web", aws.task_definition("early-rules"), desired=1,
                        deployment_configuration=configuration)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert aws.ecs.describe_services(cluster=cluster, services=["web"])["services"] == []


def test_count_threshold_of_two_trips_after_two_failed_tasks(aws: Aws) -> None:
    cluster = aws.cluster()
    breaker = {"enable": True, "rollback": False, "thresholdConfiguration": {"type": "COUNT", "value": 2}}
    aws.service(cluster, "web", aws.task_definition("count-2", labels={CRASH_LABEL: "1"}), desired=1,
                deployment_configuration={"deploymentCircuitBreaker": breaker})
    seen: list[tuple[str, int]] = []

    def failed() -> dict[str, Any] | None:
        deployment = aws.describe(cluster, "web")["deployments"][0]
        seen.append((deployment["rolloutState"], deployment["failedTasks"]))
        return deployment if deployment["rolloutState"] == "FAILED" else None

    deployment = wait_for(failed, timeout=30, what="FAILED", interval=TASK_START_SECONDS / 10)
    assert deployment["failedTasks"] == 2  # the default threshold (BOUNDED_PERCENT 50, at least 3) waits for 3
    assert ("IN_PROGRESS", 1) in seen, seen  # one failed task did not trip it
    assert len(aws.tasks(cluster, "web", desired_status="STOPPED")) == 2
