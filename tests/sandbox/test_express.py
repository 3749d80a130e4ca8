"""ECS Express Mode operations in the sandbox (simulated runtime): what CreateExpressGatewayService
makes (cluster, task definition, canary service, ALB + listener + rule + target groups, security
group, log group, scalable target), Describe/Update/Delete, and the requests ECS refuses. The
endpoint answering with a real container is tests/e2e/test_express_docker.py. Every response is
checked against botocore's model (the sandbox fixture fails the module on a violation)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.logs.models import logs_backends

from tests.sandbox.conftest import EXECUTION_ROLE, REGION, Aws, wait_for

ACCOUNT = "123456789012"

INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def _create(aws: Aws, **extra: Any) -> dict[str, Any]:
    request = {"executionRoleArn": EXECUTION_ROLE, "infrastructureRoleArn": INFRA_ROLE,
               "primaryContainer": {"image": IMAGE}, **extra}
    return dict(aws.ecs.create_express_gateway_service(**request)["service"])


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_create_makes_real_resources_with_ecs_defaults(aws: Aws) -> None:
    cluster = aws.cluster()
    name = f"web-{uuid.uuid4().hex[:6]}"
    service = _create(aws, cluster=cluster, serviceName=name, tags=[{"key": "team", "value": "a"}])
    assert service["serviceName"] == name
    assert service["status"]["statusCode"] == "ACTIVE"
    config = service["activeConfigurations"][0]
    assert (config["cpu"], config["memory"], config["healthCheckPath"]) == ("1024", "2048", "/")
    assert config["primaryContainer"]["containerPort"] == 80
    endpoint = config["ingressPaths"][0]["endpoint"]
    assert config["ingressPaths"][0]["accessType"] == "PUBLIC"

    ecs_service = aws.describe(cluster, name)
    assert ecs_service["launchType"] == "FARGATE"
    assert ecs_service["deploymentConfiguration"]["strategy"] == "CANARY"
    assert ecs_service["deploymentConfiguration"]["canaryConfiguration"]["canaryPercent"] == 5.0
    assert service["currentDeployment"] == ecs_service["currentServiceDeployment"]
    definition = aws.ecs.describe_task_definition(taskDefinition=ecs_service["taskDefinition"])["taskDefinition"]
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["containerDefinitions"][0]["image"] == IMAGE
    assert definition["containerDefinitions"][0]["logConfiguration"]["logDriver"] == "awslogs"

    elbv2 = aws.client("elbv2")
    group_arn = ecs_service["loadBalancers"][0]["targetGroupArn"]
    group = elbv2.describe_target_groups(TargetGroupArns=[group_arn])["TargetGroups"][0]
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=group["LoadBalancerArns"])["LoadBalancers"][0]
    assert balancer["DNSName"] == endpoint
    rules = elbv2.describe_rules(ListenerArn=elbv2.describe_listeners(
        LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"][0]["ListenerArn"])["Rules"]
    assert any(c.get("Values") == [endpoint] or (c.get("HostHeaderConfig") or {}).get("Values") == [endpoint]
               for r in rules for c in r["Conditions"])
    groups = aws.ec2.describe_security_groups(GroupIds=balancer["SecurityGroups"])["SecurityGroups"]
    assert groups and groups[0]["GroupId"] in ecs_service["networkConfiguration"]["awsvpcConfiguration"][
        "securityGroups"]
    # The log group and the scalable target are read from moto's models (the sandbox runs in this process):
    # moto's own DescribeLogGroups / DescribeScalableTargets answer a null nextToken, which the response check
    # (rightly) refuses, and the sandbox does not patch those services.
    assert f"/aws/ecs/{cluster}/{name}" in logs_backends[ACCOUNT][REGION].groups
    targets = applicationautoscaling_backends[ACCOUNT][REGION].describe_scalable_targets(
        "ecs", [f"service/{cluster}/{name}"], None)
    assert [(t.min_capacity, t.max_capacity, t.scalable_dimension) for t in targets] == [
        (1, 20, "ecs:service:DesiredCount")]

    described = aws.ecs.describe_express_gateway_service(serviceArn=service["serviceArn"])["service"]
    assert described["serviceArn"] == service["serviceArn"]
    assert described["tags"] == [{"key": "team", "value": "a"}]
    wait_for(lambda: aws.describe(cluster, name)["runningCount"] == 1, timeout=20, what="a running task")


def test_default_cluster_is_created_when_missing(aws: Aws) -> None:
    if aws.ecs.describe_clusters(clusters=["default"])["clusters"]:
        aws.ecs.delete_cluster(cluster="default")
    assert [c for c in aws.ecs.describe_clusters(clusters=["default"])["clusters"] if c["status"] == "ACTIVE"] == []
    service = _create(aws, serviceName=f"d-{uuid.uuid4().hex[:6]}")
    assert service["cluster"].endswith(":cluster/default")
    cluster = aws.ecs.describe_clusters(clusters=["default"])["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    assert "FARGATE" in cluster["capacityProviders"]


def test_update_rolls_a_new_revision_and_nothing_changed_starts_none(aws: Aws) -> None:
    cluster = aws.cluster()
    name = f"u-{uuid.uuid4().hex[:6]}"
    created = _create(aws, cluster=cluster, serviceName=name)
    arn = created["serviceArn"]
    first = aws.describe(cluster, name)
    same = aws.ecs.update_express_gateway_service(serviceArn=arn, primaryContainer={"image": IMAGE})["service"]
    assert aws.describe(cluster, name)["taskDefinition"] == first["taskDefinition"]
    assert same["targetConfiguration"]["serviceRevisionArn"] == created["activeConfigurations"][0]["serviceRevisionArn"]

    updated = aws.ecs.update_express_gateway_service(
        serviceArn=arn, primaryContainer={"image": "public.ecr.aws/nginx/nginx:1.28"}, healthCheckPath="/health",
    )["service"]
    after = aws.describe(cluster, name)
    assert after["taskDefinition"] != first["taskDefinition"]
    assert after["currentServiceDeployment"] != first["currentServiceDeployment"]
    target = updated["targetConfiguration"]
    assert target["primaryContainer"]["image"].endswith(":1.28")
    assert target["cpu"] == "1024"  # what the update leaves out stays
    group = aws.client("elbv2").describe_target_groups(
        TargetGroupArns=[after["loadBalancers"][0]["targetGroupArn"]])["TargetGroups"][0]
    assert group["HealthCheckPath"] == "/health"
    described = aws.ecs.describe_express_gateway_service(serviceArn=arn)["service"]
    images = [c["primaryContainer"]["image"] for c in described["activeConfigurations"]]
    assert images[0].endswith(":1.28")


def test_delete_drains_the_service_and_removes_the_load_balancer(aws: Aws) -> None:
    cluster = aws.cluster()
    name = f"x-{uuid.uuid4().hex[:6]}"
    arn = _create(aws, cluster=cluster, serviceName=name)["serviceArn"]
    balancers = aws.describe(cluster, name)["loadBalancers"]
    group_arns = {balancers[0]["targetGroupArn"], balancers[0]["advancedConfiguration"]["alternateTargetGroupArn"]}
    endpoint = aws.ecs.describe_express_gateway_service(serviceArn=arn)["service"]["activeConfigurations"][0][
        "ingressPaths"][0]["endpoint"]
    deleted = aws.ecs.delete_express_gateway_service(serviceArn=arn)["service"]
    assert deleted["status"]["statusCode"] in ("DRAINING", "INACTIVE")
    elbv2 = aws.client("elbv2")
    assert endpoint not in [b["DNSName"] for b in elbv2.describe_load_balancers()["LoadBalancers"]]
    assert not [g for g in elbv2.describe_target_groups()["TargetGroups"] if name in str(g.get("Tags"))
                or g["TargetGroupArn"] in group_arns]
    wait_for(lambda: aws.describe(cluster, name)["status"] == "INACTIVE", timeout=20, what="INACTIVE")
    with pytest.raises(ClientError) as err:
        aws.ecs.update_express_gateway_service(serviceArn=arn, cpu="2048", memory="4096")
    assert _code(err) == "ServiceNotActiveException"


@pytest.mark.parametrize(("extra", "code"), [
    ({"cluster": "no-such-cluster"}, "ClusterNotFoundException"),
    ({"executionRoleArn": "ecsTaskExecutionRole"}, "InvalidParameterException"),
    ({"serviceName": "bad name!"}, "InvalidParameterException"),
    ({"cpu": "256", "memory": "8192"}, "ClientException"),  # not a Fargate task size
    ({"primaryContainer": {"image": IMAGE, "containerPort": 70000}}, "InvalidParameterException"),
    ({"healthCheckPath": "health"}, "InvalidParameterException"),
    ({"scalingTarget": {"minTaskCount": 5, "maxTaskCount": 2}}, "InvalidParameterException"),
    ({"tags": [{"key": "aws:reserved", "value": "x"}]}, "InvalidParameterException"),
])
def test_refused_requests_create_nothing(aws: Aws, extra: dict[str, Any], code: str) -> None:
    elbv2 = aws.client("elbv2")
    before = len(elbv2.describe_load_balancers()["LoadBalancers"])
    families = aws.ecs.list_task_definition_families()["families"]
    name = f"r-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as err:
        _create(aws, **{"serviceName": name, "cluster": aws.cluster(), **extra})
    assert _code(err) == code, err.value
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == before
    assert aws.ecs.list_task_definition_families()["families"] == families


def test_a_second_create_of_the_same_name_is_refused(aws: Aws) -> None:
    cluster = aws.cluster()
    name = f"twice-{uuid.uuid4().hex[:6]}"
    _create(aws, cluster=cluster, serviceName=name)
    with pytest.raises(ClientError) as err:
        _create(aws, cluster=cluster, serviceName=name)
    assert _code(err) == "InvalidParameterException"


def test_unknown_service_arn(aws: Aws) -> None:
    arn = f"arn:aws:ecs:us-east-1:123456789012:service/{aws.cluster()}/nope"
    with pytest.raises(ClientError) as err:
        aws.ecs.describe_express_gateway_service(serviceArn=arn)
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        aws.ecs.update_express_gateway_service(serviceArn=arn, cpu="2048", memory="4096")
    assert _code(err) == "ServiceNotFoundException"
