"""The sandbox stores and echoes availabilityZoneRebalancing, which moto drops (issue 26): DescribeServices
reports what CreateService/UpdateService set (ECS API reference, Service.availabilityZoneRebalancing), and an
UpdateService without it leaves it as it is, so a ci-ecs config that sets it is unchanged on the next run."""

from __future__ import annotations

from tests.sandbox.conftest import Aws


def test_availability_zone_rebalancing_is_echoed_and_kept(aws: Aws) -> None:
    cluster = aws.cluster()
    definition = aws.task_definition("azr")
    created = aws.ecs.create_service(
        cluster=cluster, serviceName="azr", taskDefinition=definition, desiredCount=1, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
        availabilityZoneRebalancing="ENABLED")["service"]
    assert created["availabilityZoneRebalancing"] == "ENABLED"
    assert aws.describe(cluster, "azr")["availabilityZoneRebalancing"] == "ENABLED"
    updated = aws.ecs.update_service(cluster=cluster, service="azr", availabilityZoneRebalancing="DISABLED")
    assert updated["service"]["availabilityZoneRebalancing"] == "DISABLED"
    aws.ecs.update_service(cluster=cluster, service="azr", desiredCount=2)
    assert aws.describe(cluster, "azr")["availabilityZoneRebalancing"] == "DISABLED"
