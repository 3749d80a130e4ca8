"""Service Connect, VPC Lattice, managed EBS volumes, gateway connectors and monitoring: moto drops them; the
sandbox stores what CreateService/UpdateService give and echoes them where ECS reports them (ECS API reference:
Deployment has serviceConnectConfiguration, volumeConfigurations and vpcLatticeConfigurations; ServiceRevision
all five), in shapes botocore's model accepts (test mode). Their data planes are not emulated."""

from __future__ import annotations

from typing import Any

from .conftest import Aws

ROLE = "arn:aws:iam::123456789012:role/ecs-infrastructure"
MEMBERS: dict[str, Any] = {
    "serviceConnectConfiguration": {"enabled": True, "namespace": "internal",
                                    "services": [{"portName": "web", "clientAliases": [{"port": 80}]}]},
    "volumeConfigurations": [{"name": "data", "managedEBSVolume": {"roleArn": ROLE, "sizeInGiB": 20}}],
    "vpcLatticeConfigurations": [{"roleArn": ROLE, "portName": "web", "targetGroupArn":
                                  "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0123456789abcdef0"}],
    "gatewayConnectors": [{"portName": "web", "deregistrationDelay": {"timeoutSeconds": 30}}],
    "monitoring": {"metricConfigurations": [{"metricNames": ["CPUUtilization"], "resolutionSeconds": 30}]},
}
DEPLOYMENT_MEMBERS = ("serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")


def _revision(aws: Aws, service: dict[str, Any]) -> dict[str, Any]:
    (record,) = aws.ecs.describe_service_deployments(
        serviceDeploymentArns=[service["currentServiceDeployment"]])["serviceDeployments"]
    (revision,) = aws.ecs.describe_service_revisions(
        serviceRevisionArns=[record["targetServiceRevision"]["arn"]])["serviceRevisions"]
    return dict(revision)


def test_members_are_stored_and_echoed(aws: Aws) -> None:
    cluster = aws.cluster()
    task_definition = aws.task_definition("echoed")
    aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=task_definition, desiredCount=0, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}}, **MEMBERS)
    service = aws.describe(cluster, "web")
    primary = service["deployments"][0]
    assert {name: primary.get(name) for name in DEPLOYMENT_MEMBERS} == {n: MEMBERS[n] for n in DEPLOYMENT_MEMBERS}
    revision = _revision(aws, service)
    assert {name: revision.get(name) for name in MEMBERS} == MEMBERS


def test_update_service_changes_them_with_a_new_deployment_and_keeps_those_left_out(aws: Aws) -> None:
    cluster = aws.cluster()
    # A namespace of its own: the first test's service publishes `web` in `internal`, and a discovery name is
    # unique within its Cloud Map namespace (ECS API reference, ServiceConnectService.discoveryName).
    members = {**MEMBERS, "serviceConnectConfiguration": {**MEMBERS["serviceConnectConfiguration"],
                                                          "namespace": "internal-update"}}
    aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=aws.task_definition("echo-update"), desiredCount=0,
        launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}}, **members)
    first = aws.describe(cluster, "web")["deployments"][0]["id"]
    aws.ecs.update_service(cluster=cluster, service="web", monitoring=MEMBERS["monitoring"])  # unchanged
    assert aws.describe(cluster, "web")["deployments"][0]["id"] == first
    monitoring = {"metricConfigurations": [{"metricNames": ["CPUUtilization"], "resolutionSeconds": 60}]}
    aws.ecs.update_service(cluster=cluster, service="web", monitoring=monitoring)
    service = aws.describe(cluster, "web")
    assert service["deployments"][0]["id"] != first
    revision = _revision(aws, service)
    assert revision["monitoring"] == monitoring
    assert revision["serviceConnectConfiguration"] == members["serviceConnectConfiguration"]  # left out: kept
    assert service["deployments"][0]["vpcLatticeConfigurations"] == MEMBERS["vpcLatticeConfigurations"]
