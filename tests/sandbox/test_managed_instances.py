"""launchType MANAGED_INSTANCES (ECS API reference, LaunchType): moto refuses it; the sandbox runs such a
service's and RunTask's tasks like Fargate ones, and reports the launch type on the service, its deployment
and its tasks."""

from __future__ import annotations

from .conftest import Aws, wait_for


def _task_definition(aws: Aws) -> str:
    return str(aws.ecs.register_task_definition(
        family="managed", networkMode="awsvpc", requiresCompatibilities=["MANAGED_INSTANCES"], cpu="256",
        memory="512", containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27"}],
    )["taskDefinition"]["taskDefinitionArn"])


def test_a_managed_instances_service_runs_its_tasks(aws: Aws) -> None:
    cluster = aws.cluster()
    created = aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=_task_definition(aws), desiredCount=2,
        launchType="MANAGED_INSTANCES", networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )["service"]
    assert created["launchType"] == "MANAGED_INSTANCES"
    service = aws.wait_stable(cluster, "web")
    assert service["deployments"][0]["launchType"] == "MANAGED_INSTANCES"
    tasks = aws.tasks(cluster, "web")
    assert [(t["lastStatus"], t["launchType"]) for t in tasks] == [("RUNNING", "MANAGED_INSTANCES")] * 2
    assert all(t["attachments"][0]["type"] == "ElasticNetworkInterface" for t in tasks)


def test_run_task_on_managed_instances(aws: Aws) -> None:
    cluster = aws.cluster()
    (task,) = aws.ecs.run_task(
        cluster=cluster, taskDefinition=_task_definition(aws), launchType="MANAGED_INSTANCES",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )["tasks"]
    assert task["launchType"] == "MANAGED_INSTANCES"

    def running() -> bool:
        (now,) = aws.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"]
        return bool(now["lastStatus"] == "RUNNING")

    wait_for(running, what="RUNNING")
