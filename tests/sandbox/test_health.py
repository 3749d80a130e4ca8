"""Health and the circuit breaker on the simulated runtime: a task with container health checks is
ready only once HEALTHY, UNHEALTHY tasks are stopped only after the service's
healthCheckGracePeriodSeconds, and the breaker honours thresholdConfiguration and
resetOnHealthyTask (ECS API reference: HealthCheck, CreateService.healthCheckGracePeriodSeconds,
DeploymentCircuitBreaker, ThresholdConfiguration)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from ci_ecs.sandbox import CRASH_LABEL
from ci_ecs.sandbox.runtimes.simulated import HEALTH_AFTER_LABEL, HEALTH_LABEL

from .conftest import Aws, push_image, wait_for

HEALTH_CHECK = {"command": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"], "interval": 5, "retries": 3}
HEALTH_STOP_REASON = "Task failed container health checks"


def _register(aws: Aws, family: str, labels: dict[str, str]) -> str:
    answer = aws.ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                               "healthCheck": HEALTH_CHECK, "dockerLabels": labels}],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def test_a_task_with_health_checks_counts_only_once_healthy(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "web", _register(aws, "slow-health", {HEALTH_AFTER_LABEL: "2"}), desired=1)
    seen: list[tuple[str, str, str]] = []

    def healthy() -> bool:
        deployment = aws.describe(cluster, "web")["deployments"][0]
        tasks = aws.tasks(cluster, "web")
        if tasks:
            seen.append((tasks[0]["lastStatus"], tasks[0]["healthStatus"], deployment["rolloutState"]))
        return deployment["rolloutState"] == "COMPLETED"

    wait_for(healthy, timeout=20, what="COMPLETED", interval=0.1)
    # RUNNING but not yet HEALTHY: the deployment waited.
    assert ("RUNNING", "UNKNOWN", "IN_PROGRESS") in seen, seen
    assert ("RUNNING", "UNKNOWN", "COMPLETED") not in seen, seen
    (task,) = aws.tasks(cluster, "web")
    assert task["healthStatus"] == "HEALTHY"
    assert task["containers"][0]["healthStatus"] == "HEALTHY"


def _first_unhealthy_stop(aws: Aws, cluster: str) -> dict[str, Any]:
    def stopped() -> dict[str, Any] | None:
        for task in aws.tasks(cluster, "web", desired_status="STOPPED"):
            if task.get("stoppedReason") == HEALTH_STOP_REASON:
                return task
        return None

    return dict(wait_for(stopped, timeout=30, what="a task stopped for its health checks", interval=0.1))


def test_unhealthy_tasks_are_stopped_only_after_the_grace_period(aws: Aws) -> None:
    labels = {HEALTH_LABEL: "UNHEALTHY", HEALTH_AFTER_LABEL: "0.2"}
    cluster = aws.cluster()
    aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=_register(aws, "graced", labels), desiredCount=1,
        launchType="FARGATE", healthCheckGracePeriodSeconds=3,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )
    wait_for(lambda: [t for t in aws.tasks(cluster, "web") if t["healthStatus"] == "UNHEALTHY"], what="UNHEALTHY")
    time.sleep(1.0)
    (task,) = aws.tasks(cluster, "web")  # UNHEALTHY for a second, still running: in its grace period
    assert (task["lastStatus"], task["healthStatus"]) == ("RUNNING", "UNHEALTHY")
    stopped = _first_unhealthy_stop(aws, cluster)
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    assert stopped["stoppingAt"] - stopped["startedAt"] >= timedelta(seconds=3)
    assert aws.describe(cluster, "web")["deployments"][0]["rolloutState"] == "IN_PROGRESS"

    other = aws.cluster()  # the same task definition without a grace period: stopped at once
    aws.service(other, "web", _register(aws, "ungraced", labels), desired=1)
    stopped = _first_unhealthy_stop(aws, other)
    assert stopped["stoppingAt"] - stopped["startedAt"] < timedelta(seconds=2)


def test_update_service_changes_the_grace_period(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition("grace-update"), desired=0)
    aws.ecs.update_service(cluster=cluster, service="web", healthCheckGracePeriodSeconds=42)
    assert aws.describe(cluster, "web")["healthCheckGracePeriodSeconds"] == 42


def _failed_deployment(aws: Aws, cluster: str) -> dict[str, Any]:
    def failed() -> dict[str, Any] | None:
        deployment = aws.describe(cluster, "web")["deployments"][0]
        return deployment if deployment["rolloutState"] == "FAILED" else None

    return dict(wait_for(failed, timeout=30, what="FAILED", interval=0.05))


def test_threshold_configuration_count(aws: Aws) -> None:
    cluster = aws.cluster()
    breaker = {"enable": True, "rollback": False, "thresholdConfiguration": {"type": "COUNT", "value": 1}}
    service = aws.service(cluster, "web", aws.task_definition("count-1", labels={CRASH_LABEL: "1"}), desired=1,
                          deployment_configuration={"deploymentCircuitBreaker": breaker})
    deployment = _failed_deployment(aws, cluster)
    assert deployment["failedTasks"] == 1  # the default threshold would wait for 3
    arn = service["currentServiceDeployment"]
    (record,) = aws.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert record["deploymentCircuitBreaker"]["threshold"] == 1
    assert record["deploymentCircuitBreaker"]["status"] == "TRIGGERED"


def test_threshold_configuration_unbounded_percent(aws: Aws) -> None:
    cluster = aws.cluster()
    breaker = {"enable": True, "rollback": False,
               "thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 50}}
    service = aws.service(cluster, "web", aws.task_definition("unbounded", labels={CRASH_LABEL: "1"}), desired=2,
                          deployment_configuration={"deploymentCircuitBreaker": breaker})
    deployment = _failed_deployment(aws, cluster)
    assert 1 <= deployment["failedTasks"] <= 2  # 50 % of 2 without the minimum of 3
    (record,) = aws.ecs.describe_service_deployments(
        serviceDeploymentArns=[service["currentServiceDeployment"]])["serviceDeployments"]
    assert record["deploymentCircuitBreaker"]["threshold"] == 1


def test_reset_on_healthy_task_false_keeps_the_failure_count(aws: Aws) -> None:
    # The image is pushed while the deployment's tasks keep failing to pull it; with
    # resetOnHealthyTask false the count survives the first task that runs (compare
    # test_scheduler's test_failed_tasks_reset_when_a_task_reaches_running).
    aws.ecr.create_repository(repositoryName="late-noreset")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/late-noreset:1"
    cluster = aws.cluster()
    breaker = {"enable": True, "rollback": False, "resetOnHealthyTask": False,
               "thresholdConfiguration": {"type": "COUNT", "value": 50}}
    aws.service(cluster, "web", aws.task_definition("late-noreset", image=image), desired=1,
                deployment_configuration={"deploymentCircuitBreaker": breaker})
    wait_for(lambda: aws.describe(cluster, "web")["deployments"][0]["failedTasks"] >= 2, what="pull failures")
    if aws.sb.registry:
        push_image(aws.sb.registry, "late-noreset", "1")
    else:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                               "digest": "sha256:" + "0" * 64}, "layers": []}
        aws.ecr.put_image(repositoryName="late-noreset", imageManifest=json.dumps(manifest), imageTag="1")
    (deployment,) = aws.wait_stable(cluster, "web")["deployments"]
    assert deployment["rolloutState"] == "COMPLETED"
    assert deployment["failedTasks"] >= 2
