"""ECS service semantics: deployments, task lifecycle, rolling updates, events, list filters."""

from __future__ import annotations

import json
import re
import threading
import time

import boto3
import pytest

from ci_ecs.sandbox import CRASH_AFTER_LABEL, CRASH_LABEL

from .conftest import TASK_START_SECONDS, Aws, push_image, wait_for

# A manifest moto's ECR stores as is (without the registry, nothing checks its blobs).
TINY_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 2,
        "digest": "sha256:" + "a" * 64,
    },
    "layers": [],
}


def test_neutral_boto3_waiter_with_only_endpoint_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in aws.sb.env().items():
        monkeypatch.setenv(key, value)
    ecs = boto3.session.Session().client("ecs")  # nothing but the environment points it at the sandbox
    cluster = aws.cluster()
    ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=aws.task_definition("neutral"),
        desiredCount=3,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )
    ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=["web"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
    )
    service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    assert service["runningCount"] == 3
    assert service["pendingCount"] == 0
    (deployment,) = service["deployments"]
    assert deployment["rolloutState"] == "COMPLETED"
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    assert deployment["id"].startswith("ecs-svc/")
    messages = [e["message"] for e in service["events"]]
    assert messages[0] == "(service web) has reached a steady state."
    assert messages[1] == f"(service web) (deployment {deployment['id']}) deployment completed."
    assert messages[2].startswith("(service web) has started 3 tasks: (task ")


def test_tasks_have_ecs_fields_and_lifecycle(aws: Aws) -> None:
    cluster = aws.cluster()
    td = aws.task_definition("fields")
    service = aws.service(cluster, "api", td, desired=1)
    deployment_id = service["deployments"][0]["id"]
    seen = set()

    def running() -> bool:
        tasks = aws.tasks(cluster, "api")
        seen.update(t["lastStatus"] for t in tasks)
        return bool(tasks) and tasks[0]["lastStatus"] == "RUNNING"

    wait_for(running, what="task RUNNING", interval=0.02)
    assert "PROVISIONING" in seen or "PENDING" in seen
    (task,) = aws.tasks(cluster, "api")
    assert task["group"] == "service:api"
    assert task["startedBy"] == deployment_id
    assert task["desiredStatus"] == "RUNNING"
    assert task["launchType"] == "FARGATE"
    assert task["taskDefinitionArn"] == td
    assert "startedAt" in task and "stoppedReason" not in task
    assert task["containers"][0]["lastStatus"] == "RUNNING"
    assert task["containers"][0]["cpu"] == "0"  # a string, "0" when the definition sets none
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert task["attachments"][0]["type"] == "ElasticNetworkInterface"
    assert {"subnetId", "networkInterfaceId", "privateIPv4Address"} <= set(details)


def test_list_tasks_filters_by_service_and_desired_status(aws: Aws) -> None:
    cluster = aws.cluster()
    td = aws.task_definition("filters")
    aws.service(cluster, "one", td, desired=2)
    aws.service(cluster, "two", td, desired=1)
    aws.wait_stable(cluster, "one")
    aws.wait_stable(cluster, "two")
    assert len(aws.ecs.list_tasks(cluster=cluster, serviceName="one")["taskArns"]) == 2
    assert len(aws.ecs.list_tasks(cluster=cluster, serviceName="two")["taskArns"]) == 1
    assert len(aws.ecs.list_tasks(cluster=cluster)["taskArns"]) == 3
    aws.ecs.update_service(cluster=cluster, service="one", desiredCount=0)
    aws.wait_stable(cluster, "one")
    assert aws.ecs.list_tasks(cluster=cluster, serviceName="one")["taskArns"] == []
    stopped = wait_for(
        lambda: [t for t in aws.tasks(cluster, "one", desired_status="STOPPED") if t["lastStatus"] == "STOPPED"],
        what="stopped tasks",
    )
    assert len(stopped) == 2
    assert all(t["lastStatus"] == "STOPPED" and t["stopCode"] == "ServiceSchedulerInitiated" for t in stopped)
    assert all(t["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/") for t in stopped)


def test_new_task_definition_creates_a_new_primary_deployment(aws: Aws) -> None:
    cluster = aws.cluster()
    first = aws.task_definition("roll")
    aws.service(cluster, "web", first, desired=2)
    old = aws.wait_stable(cluster, "web")["deployments"][0]
    second = aws.task_definition("roll", image="public.ecr.aws/nginx/nginx:1.28")
    updated = aws.ecs.update_service(cluster=cluster, service="web", taskDefinition="roll")["service"]
    assert updated["taskDefinition"] == second
    primary, active = updated["deployments"]
    assert (primary["status"], primary["rolloutState"], primary["taskDefinition"]) == ("PRIMARY", "IN_PROGRESS", second)
    assert primary["id"] != old["id"] and primary["id"].startswith("ecs-svc/")
    assert (active["id"], active["status"]) == (old["id"], "ACTIVE")
    final = aws.wait_stable(cluster, "web")
    (deployment,) = final["deployments"]
    assert deployment["id"] == primary["id"]
    assert deployment["rolloutState"] == "COMPLETED"
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "web")} == {second}
    assert any(re.match(r"\(service web\) has stopped 2 running tasks: \(task ", e["message"]) for e in final["events"])


def test_force_new_deployment_and_desired_count_only(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition("force"), desired=1)
    first = aws.wait_stable(cluster, "web")["deployments"][0]["id"]

    scaled = aws.ecs.update_service(cluster=cluster, service="web", desiredCount=3)["service"]
    assert [d["id"] for d in scaled["deployments"]] == [first]  # scaling is not a deployment
    service = aws.wait_stable(cluster, "web")
    assert service["runningCount"] == 3
    assert service["deployments"][0]["id"] == first

    forced = aws.ecs.update_service(cluster=cluster, service="web", forceNewDeployment=True)["service"]
    assert len(forced["deployments"]) == 2
    assert forced["deployments"][0]["id"] != first
    final = aws.wait_stable(cluster, "web")
    assert final["deployments"][0]["id"] == forced["deployments"][0]["id"]
    assert final["runningCount"] == 3


@pytest.mark.parametrize(
    ("minimum_percent", "maximum_percent"),
    [(100, 200), (50, 100), (50, 150)],
)
def test_rolling_update_respects_bounds(aws: Aws, minimum_percent: int, maximum_percent: int) -> None:
    cluster = aws.cluster()
    desired = 4
    aws.service(
        cluster,
        "web",
        aws.task_definition("bounds"),
        desired=desired,
        deployment_configuration={"minimumHealthyPercent": minimum_percent, "maximumPercent": maximum_percent},
    )
    aws.wait_stable(cluster, "web")
    new = aws.task_definition("bounds", image="public.ecr.aws/nginx/nginx:1.28")
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            service = aws.describe(cluster, "web")
            samples.append((service["runningCount"], service["runningCount"] + service["pendingCount"]))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        aws.ecs.update_service(cluster=cluster, service="web", taskDefinition=new)
        time.sleep(0.1)
        aws.wait_stable(cluster, "web")
    finally:
        done.set()
        sampler.join()
    floor = -(-desired * minimum_percent // 100)
    ceiling = desired * maximum_percent // 100
    assert len(samples) > 10
    assert min(running for running, _ in samples) >= floor
    assert max(total for _, total in samples) <= ceiling
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "web")} == {new}


def test_delete_service_stops_tasks(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition("delete"), desired=2)
    aws.wait_stable(cluster, "web")
    current = aws.describe(cluster, "web")["currentServiceDeployment"]
    deleted = aws.ecs.delete_service(cluster=cluster, service="web", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    # ECS deletes a service's service deployments with it (developer guide, "View service history ...").
    described = aws.ecs.describe_service_deployments(serviceDeploymentArns=[current])
    assert described["serviceDeployments"] == [] and described["failures"][0]["arn"] == current
    assert aws.ecs.list_service_deployments(cluster=cluster, service="web")["serviceDeployments"] == []
    wait_for(lambda: aws.describe(cluster, "web")["status"] == "INACTIVE", what="INACTIVE")
    stopped = aws.tasks(cluster, "web", desired_status="STOPPED")
    assert len(stopped) == 2 and all(t["lastStatus"] == "STOPPED" for t in stopped)


def test_crash_label_stops_task_with_essential_container_exit(aws: Aws) -> None:
    cluster = aws.cluster()
    td = aws.task_definition("crash", labels={CRASH_LABEL: "3"})
    aws.service(cluster, "web", td, desired=1)

    def crashed() -> list:
        return [t for t in aws.tasks(cluster, "web", desired_status="STOPPED") if t.get("stopCode")]

    (task, *_) = wait_for(crashed, what="a crashed task")
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["containers"][0]["exitCode"] == 3
    assert "startedAt" in task and "stoppedAt" in task
    # Without a circuit breaker ECS keeps replacing the task.
    wait_for(lambda: aws.describe(cluster, "web")["deployments"][0]["failedTasks"] >= 2, what="retries")
    assert aws.describe(cluster, "web")["deployments"][0]["rolloutState"] == "IN_PROGRESS"


def test_crash_label_trips_circuit_breaker_and_rolls_back(aws: Aws) -> None:
    cluster = aws.cluster()
    good = aws.task_definition("breaker")
    aws.service(
        cluster,
        "web",
        good,
        desired=2,
        deployment_configuration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    aws.wait_stable(cluster, "web")
    bad = aws.task_definition("breaker", labels={CRASH_LABEL: "1", "ci-ecs.sandbox/exit-after-seconds": "0"})
    failing = aws.ecs.update_service(cluster=cluster, service="web", taskDefinition=bad)["service"]
    failing_id = failing["deployments"][0]["id"]

    def failed() -> dict | None:
        for deployment in aws.describe(cluster, "web")["deployments"]:
            if deployment["id"] == failing_id and deployment["rolloutState"] == "FAILED":
                return deployment
        return None

    deployment = wait_for(failed, what="FAILED deployment", interval=0.05)
    assert deployment["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert deployment["failedTasks"] >= 3  # AWS's threshold: max(3, 0.5 * 2)
    final = aws.wait_stable(cluster, "web")
    assert final["taskDefinition"] == good
    assert final["deployments"][0]["taskDefinition"] == good
    assert final["deployments"][0]["rolloutState"] == "COMPLETED"
    messages = [e["message"] for e in final["events"]]
    assert f"(service web) (deployment {failing_id}) deployment failed: tasks failed to start." in messages
    assert any("rolling back to deployment" in m for m in messages)


def test_run_task_on_fargate(aws: Aws) -> None:
    cluster = aws.cluster()
    # A one-off task on the simulated runtime exits 0 after a short run by itself; this one runs until stopped.
    td = aws.task_definition("oneoff", labels={CRASH_AFTER_LABEL: "600"})
    (task,) = aws.ecs.run_task(
        cluster=cluster,
        taskDefinition=td,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )["tasks"]
    assert task["lastStatus"] == "PROVISIONING"

    def status() -> str:
        return str(aws.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]["lastStatus"])

    wait_for(lambda: status() == "RUNNING", what="RUNNING")
    aws.ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="done")
    wait_for(lambda: status() == "STOPPED", what="STOPPED")
    stopped = aws.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
    assert (stopped["stoppedReason"], stopped["stopCode"]) == ("done", "UserInitiated")


def test_slow_task_start_via_faults(aws: Aws) -> None:
    aws.sb.set_faults(task_start_seconds=1.5)
    cluster = aws.cluster()
    aws.service(cluster, "slow", aws.task_definition("slow"), desired=1)
    time.sleep(TASK_START_SECONDS * 3)
    assert aws.describe(cluster, "slow")["runningCount"] == 0
    aws.wait_stable(cluster, "slow")


def test_circuit_breaker_without_rollback_fails_and_stops_launching(aws: Aws) -> None:
    cluster = aws.cluster()
    bad = aws.task_definition("halt", labels={CRASH_LABEL: "1"})
    aws.service(
        cluster,
        "web",
        bad,
        desired=1,
        deployment_configuration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )

    def failed() -> dict | None:
        deployment = aws.describe(cluster, "web")["deployments"][0]
        return deployment if deployment["rolloutState"] == "FAILED" else None

    # Nothing ever completed, so there is nothing to roll back to: FAILED, and no more launches.
    deployment = wait_for(failed, what="FAILED")
    assert deployment["status"] == "PRIMARY"
    time.sleep(TASK_START_SECONDS * 3)
    after = aws.describe(cluster, "web")["deployments"][0]
    assert after["failedTasks"] == deployment["failedTasks"] == 3
    assert aws.describe(cluster, "web")["runningCount"] == 0


def test_update_of_a_deleted_service_is_not_active(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "gone", aws.task_definition("gone-svc"), desired=0)
    aws.ecs.delete_service(cluster=cluster, service="gone")
    with pytest.raises(aws.ecs.exceptions.ServiceNotActiveException):
        aws.ecs.update_service(cluster=cluster, service="gone", desiredCount=1)


def test_failed_tasks_reset_when_a_task_reaches_running(aws: Aws) -> None:
    # ECS resets a deployment's failedTasks once one of its tasks reaches RUNNING: here the image
    # is pushed while the deployment's tasks keep failing to pull it.
    aws.ecr.create_repository(repositoryName="late")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/late:1"
    cluster = aws.cluster()
    deployment_id = aws.service(cluster, "web", aws.task_definition("late", image=image), desired=1)["deployments"][0][
        "id"
    ]
    wait_for(lambda: aws.describe(cluster, "web")["deployments"][0]["failedTasks"] >= 2, what="pull failures")
    if aws.sb.registry:
        push_image(aws.sb.registry, "late", "1")
    else:
        aws.ecr.put_image(repositoryName="late", imageManifest=json.dumps(TINY_MANIFEST), imageTag="1")
    service = aws.wait_stable(cluster, "web")
    (deployment,) = service["deployments"]
    assert deployment["id"] == deployment_id
    assert (deployment["rolloutState"], deployment["failedTasks"]) == ("COMPLETED", 0)


def test_crash_after_running_crash_loops_like_ecs(aws: Aws) -> None:
    cluster = aws.cluster()
    after = TASK_START_SECONDS * 3
    td = aws.task_definition("crashloop", labels={CRASH_LABEL: "2", CRASH_AFTER_LABEL: str(after)})
    service = aws.service(
        cluster,
        "web",
        td,
        desired=2,
        deployment_configuration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    deployment_id = service["deployments"][0]["id"]
    counts: list[int] = []

    def crashed() -> list:
        counts.append(aws.describe(cluster, "web")["deployments"][0]["failedTasks"])
        stopped = aws.tasks(cluster, "web", desired_status="STOPPED")
        return [t for t in stopped if t["lastStatus"] == "STOPPED"] if len(stopped) >= 4 else []

    stopped = wait_for(crashed, timeout=30, what="four crashed tasks", interval=0.05)
    for task in stopped:
        assert task["startedBy"] == deployment_id
        assert "startedAt" in task  # each reached RUNNING before it crashed
        assert (task["stopCode"], task["stoppedReason"]) == (
            "EssentialContainerExited",
            "Essential container in task exited",
        )
        assert task["containers"][0]["exitCode"] == 2
    # Crashes count, and a replacement reaching RUNNING resets the count: far more tasks failed than
    # the breaker's threshold (3), yet it never tripped; the deployment completed, and tasks keep
    # being replaced (ECS's stage 1 of the breaker only counts tasks that never reach RUNNING).
    assert max(counts) >= 1 and 0 in counts[counts.index(max(counts)) :]
    final = aws.describe(cluster, "web")
    (deployment,) = final["deployments"]
    assert deployment["id"] == deployment_id
    assert deployment["rolloutState"] == "COMPLETED"
    assert not any("deployment failed" in e["message"] for e in final["events"])
    live = aws.tasks(cluster, "web")
    assert live and all(t["startedBy"] == deployment_id for t in live)
