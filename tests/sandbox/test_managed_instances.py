"""launchType MANAGED_INSTANCES (ECS API reference, LaunchType): moto refuses it; the sandbox runs such a
service's and RunTask's tasks like Fargate ones, and reports the launch type on the service, its deployment
and its tasks."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

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


# ------------------------------------------------- Managed Instances capacity providers (CreateCapacityProvider)

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRole"
PROFILE = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"


def _managed_provider(aws: Aws, **launch_template: Any) -> dict[str, Any]:
    template: dict[str, Any] = {
        "ec2InstanceProfileArn": PROFILE,
        "networkConfiguration": {"subnets": [aws.subnet()]},
        "instanceRequirements": {"vCpuCount": {"min": 1, "max": 4}, "memoryMiB": {"min": 1024}},
        **launch_template,
    }
    return {"infrastructureRoleArn": ROLE, "instanceLaunchTemplate": template, "propagateTags": "NONE"}


def _create_provider(aws: Aws, cluster: str) -> str:
    name = f"mi-{cluster}"
    aws.ecs.create_capacity_provider(name=name, cluster=cluster, managedInstancesProvider=_managed_provider(aws))
    return name


def test_a_managed_instances_capacity_provider_is_created_described_and_associated(aws: Aws) -> None:
    cluster = aws.cluster()
    provider = _managed_provider(aws, monitoring="BASIC")
    created = aws.ecs.create_capacity_provider(
        name=f"mi-{cluster}", cluster=cluster, managedInstancesProvider=provider, tags=[{"key": "team", "value": "a"}],
    )["capacityProvider"]
    assert (created["name"], created["type"], created["cluster"], created["status"]) == (
        f"mi-{cluster}", "MANAGED_INSTANCES", cluster, "ACTIVE")
    assert "autoScalingGroupProvider" not in created
    (described,) = aws.ecs.describe_capacity_providers(capacityProviders=[f"mi-{cluster}"])["capacityProviders"]
    assert described["managedInstancesProvider"] == provider
    assert described["capacityProviderArn"] == created["capacityProviderArn"]
    # Associated with its cluster at creation; PutClusterCapacityProviders leaves it there.
    (info,) = aws.ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert info["capacityProviders"] == [f"mi-{cluster}"]
    aws.ecs.put_cluster_capacity_providers(cluster=cluster, capacityProviders=["FARGATE"],
                                           defaultCapacityProviderStrategy=[])
    (info,) = aws.ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert sorted(info["capacityProviders"]) == sorted(["FARGATE", f"mi-{cluster}"])


def test_a_managed_instances_capacity_provider_ecs_refuses(aws: Aws) -> None:
    cluster, other = aws.cluster(), aws.cluster()
    refused = [
        {"name": f"mi-{cluster}", "managedInstancesProvider": _managed_provider(aws)},  # no cluster
        {"name": f"ecs-{cluster}", "cluster": cluster, "managedInstancesProvider": _managed_provider(aws)},
        {"name": f"mi-{cluster}", "cluster": cluster,
         "managedInstancesProvider": {**_managed_provider(aws), "infrastructureRoleArn": PROFILE}},
        {"name": f"mi-{cluster}", "cluster": cluster,
         "managedInstancesProvider": _managed_provider(aws, networkConfiguration={"subnets": ["subnet-0000000f"]})},
    ]
    for request in refused:
        with pytest.raises(ClientError) as error:
            aws.ecs.create_capacity_provider(**request)
        assert error.value.response["Error"]["Code"] == "InvalidParameterException", request
    with pytest.raises(ClientError) as missing:
        aws.ecs.create_capacity_provider(name=f"mi-{cluster}", cluster="no-such-cluster",
                                         managedInstancesProvider=_managed_provider(aws))
    assert missing.value.response["Error"]["Code"] == "ClusterNotFoundException"
    assert aws.ecs.describe_capacity_providers(capacityProviders=[f"mi-{cluster}"])["capacityProviders"] == []
    # Available only within its cluster: another cluster cannot take it.
    name = _create_provider(aws, cluster)
    with pytest.raises(ClientError) as elsewhere:
        aws.ecs.put_cluster_capacity_providers(cluster=other, capacityProviders=[name],
                                               defaultCapacityProviderStrategy=[])
    assert elsewhere.value.response["Error"]["Code"] == "InvalidParameterException"


def test_a_service_on_a_managed_instances_strategy_runs_its_tasks(aws: Aws) -> None:
    cluster = aws.cluster()
    name = _create_provider(aws, cluster)
    created = aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=_task_definition(aws), desiredCount=2,
        capacityProviderStrategy=[{"capacityProvider": name, "weight": 1}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )["service"]
    assert [item["capacityProvider"] for item in created["capacityProviderStrategy"]] == [name]
    assert "launchType" not in created  # ECS reports a strategy, not a launch type, for such a service
    service = aws.wait_stable(cluster, "web")
    assert service["runningCount"] == 2
    (deployment,) = service["deployments"]
    assert "launchType" not in deployment
    assert [item["capacityProvider"] for item in deployment["capacityProviderStrategy"]] == [name]
    tasks = aws.tasks(cluster, "web")
    assert [(t["lastStatus"], t["launchType"], t["capacityProviderName"]) for t in tasks] == [
        ("RUNNING", "MANAGED_INSTANCES", name)] * 2
    assert all(t["attachments"][0]["type"] == "ElasticNetworkInterface" for t in tasks)


def test_run_task_on_a_managed_instances_strategy(aws: Aws) -> None:
    cluster = aws.cluster()
    name = _create_provider(aws, cluster)
    (task,) = aws.ecs.run_task(
        cluster=cluster, taskDefinition=_task_definition(aws), capacityProviderStrategy=[{"capacityProvider": name}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )["tasks"]
    assert (task["launchType"], task["capacityProviderName"]) == ("MANAGED_INSTANCES", name)

    def running() -> bool:
        (now,) = aws.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"]
        return bool(now["lastStatus"] == "RUNNING")

    wait_for(running, what="RUNNING")
