"""The sandbox refuses the requests ECS refuses (taskdef_rules, service_rules, tag_rules), through
boto3 against a real sandbox: ECS's error code, and nothing created or changed.

The clients here skip botocore's parameter validation: the aws CLI with validation off, other SDKs
and raw HTTP reach ECS without it, and the sandbox must answer them as ECS does."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from botocore.config import Config

from .conftest import EXECUTION_ROLE, PUBLIC_IMAGE, Aws

NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})


def _ecs(aws: Aws) -> Any:
    return aws.client("ecs", NO_VALIDATION)


def _container(name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": PUBLIC_IMAGE, "essential": True, "portMappings": [{"containerPort": 80}], **extra}


def _task_definition(family: str) -> dict[str, Any]:
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": EXECUTION_ROLE,
        "containerDefinitions": [_container()],
    }


def _sidecar(request: dict[str, Any], **extra: Any) -> None:
    request["containerDefinitions"].append(_container("side", portMappings=[], **extra))


TASK_DEFINITION_CASES: dict[str, tuple[Any, str]] = {
    "eleven-containers": (lambda r: r.update(containerDefinitions=[
        _container(f"c{i}", portMappings=[]) for i in range(11)]), "ClientException"),
    "over-64-KiB": (lambda r: r["containerDefinitions"][0].update(environment=[
        {"name": f"VARIABLE_{i}", "value": "x" * 20} for i in range(2000)]), "ClientException"),
    "duplicate-names": (lambda r: r["containerDefinitions"].append(_container(portMappings=[])), "ClientException"),
    "no-essential-container": (lambda r: r["containerDefinitions"][0].update(essential=False), "ClientException"),
    "depends-on-a-missing-container": (lambda r: r["containerDefinitions"][0].update(
        dependsOn=[{"containerName": "db", "condition": "START"}]), "ClientException"),
    "container-memory-above-task": (lambda r: r["containerDefinitions"][0].update(memory=1024), "ClientException"),
    "reservations-above-task": (lambda r: (r["containerDefinitions"][0].update(memoryReservation=300),
                                           _sidecar(r, memoryReservation=300)), "ClientException"),
    "privileged-on-fargate": (lambda r: r["containerDefinitions"][0].update(privileged=True), "ClientException"),
    "stop-timeout-over-120-on-fargate": (lambda r: r["containerDefinitions"][0].update(stopTimeout=121),
                                         "ClientException"),
    "environment-name-with-equals": (lambda r: r["containerDefinitions"][0].update(
        environment=[{"name": "A=B", "value": "1"}]), "ClientException"),
    "environment-name-with-nul": (lambda r: r["containerDefinitions"][0].update(
        environment=[{"name": "A\0B", "value": "1"}]), "ClientException"),
    "51-tags": (lambda r: r.update(tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]),
                "InvalidParameterException"),
    "tag-key-129": (lambda r: r.update(tags=[{"key": "k" * 129, "value": "v"}]), "InvalidParameterException"),
    "tag-value-300": (lambda r: r.update(tags=[{"key": "k", "value": "v" * 300}]), "InvalidParameterException"),
    "tag-aws-prefix": (lambda r: r.update(tags=[{"key": "AWS:team", "value": "v"}]), "InvalidParameterException"),
}


@pytest.mark.parametrize("case", list(TASK_DEFINITION_CASES))
def test_register_task_definition_refusals(aws: Aws, case: str) -> None:
    change, code = TASK_DEFINITION_CASES[case]
    family = f"refused-{uuid.uuid4().hex[:8]}"
    request = _task_definition(family)
    change(request)
    ecs = _ecs(aws)
    with pytest.raises(ecs.exceptions.ClientError) as caught:
        ecs.register_task_definition(**request)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"] == []


def test_a_valid_task_definition_at_the_limits_registers(aws: Aws) -> None:
    request = _task_definition(f"limits-{uuid.uuid4().hex[:8]}")
    request["containerDefinitions"] = [_container(portMappings=[], stopTimeout=120)] + [
        _container(f"c{i}", portMappings=[], essential=False, memoryReservation=50) for i in range(9)
    ]
    request["tags"] = [{"key": f"k{i}", "value": "v" * 256} for i in range(50)]
    arn = _ecs(aws).register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
    assert arn.endswith(":1")


# --------------------------------------------------------------------------------- services


def _other_vpc_subnet(aws: Aws) -> str:
    vpc = aws.ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    return str(aws.ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"])


def _target_group(aws: Aws, with_balancer: bool = True, target_type: str = "ip") -> str:
    elbv2 = aws.client("elbv2")
    subnets = [s["SubnetId"] for s in aws.ec2.describe_subnets()["Subnets"] if s["DefaultForAz"]][:2]
    vpc = aws.ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    name = f"tg-{uuid.uuid4().hex[:8]}"
    group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType=target_type)
    arn = str(group["TargetGroups"][0]["TargetGroupArn"])
    if with_balancer:
        balancer = elbv2.create_load_balancer(Name=f"lb-{uuid.uuid4().hex[:8]}", Subnets=subnets)
        elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"], Protocol="HTTP",
                              Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
    return arn


def _ec2_task_definition(aws: Aws) -> str:
    answer = aws.ecs.register_task_definition(
        family=f"ec2-{uuid.uuid4().hex[:8]}", networkMode="bridge", requiresCompatibilities=["EC2"],
        containerDefinitions=[{"name": "web", "image": PUBLIC_IMAGE, "memory": 128, "essential": True}],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


TG_ARN_MISSING = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nowhere/0123456789abcdef"

# Each case changes a valid Fargate CreateService request (in a new cluster, moto's default subnet).
SERVICE_CASES: dict[str, Any] = {
    "desired-count-2147483648": lambda r, aws: r.update(desiredCount=2147483648),
    "desired-count-above-quota": lambda r, aws: r.update(desiredCount=5001),
    "desired-count-negative": lambda r, aws: r.update(desiredCount=-1),
    "51-tags": lambda r, aws: r.update(tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]),
    "tag-value-300": lambda r, aws: r.update(tags=[{"key": "team", "value": "x" * 300}]),
    "target-group-not-an-arn": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": "not-an-arn", "containerName": "web", "containerPort": 80}]),
    "target-group-missing": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": TG_ARN_MISSING, "containerName": "web", "containerPort": 80}]),
    "target-group-without-load-balancer": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": _target_group(aws, with_balancer=False), "containerName": "web", "containerPort": 80}]),
    "target-group-instance-type-for-awsvpc": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": _target_group(aws, target_type="instance"), "containerName": "web",
         "containerPort": 80}]),
    "load-balancer-container-missing": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": _target_group(aws), "containerName": "api", "containerPort": 80}]),
    "load-balancer-port-missing": lambda r, aws: r.update(loadBalancers=[
        {"targetGroupArn": _target_group(aws), "containerName": "web", "containerPort": 8080}]),
    "subnet-missing": lambda r, aws: r.update(networkConfiguration={
        "awsvpcConfiguration": {"subnets": ["subnet-0000000000deadbee"]}}),
    "subnets-span-vpcs": lambda r, aws: r.update(networkConfiguration={
        "awsvpcConfiguration": {"subnets": [aws.subnet(), _other_vpc_subnet(aws)]}}),
    "security-group-missing": lambda r, aws: r.update(networkConfiguration={
        "awsvpcConfiguration": {"subnets": [aws.subnet()], "securityGroups": ["sg-0000000000deadbee"]}}),
    "placement-on-fargate": lambda r, aws: r.update(placementStrategy=[
        {"type": "spread", "field": "attribute:ecs.availability-zone"}]),
    "binpack-field-disk": lambda r, aws: (r.update(launchType="EC2", taskDefinition=_ec2_task_definition(aws),
                                                   placementStrategy=[{"type": "binpack", "field": "disk"}]),
                                          r.pop("networkConfiguration")),
    "member-of-without-expression": lambda r, aws: (r.update(launchType="EC2", taskDefinition=_ec2_task_definition(
        aws), placementConstraints=[{"type": "memberOf"}]), r.pop("networkConfiguration")),
    "capacity-provider-not-associated": lambda r, aws: (r.pop("launchType"), r.update(
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])),
    "launch-type-and-capacity-providers": lambda r, aws: r.update(
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}]),
}


def _service_request(aws: Aws, cluster: str, name: str) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "serviceName": name,
        "taskDefinition": aws.task_definition(f"svc-{uuid.uuid4().hex[:8]}"),
        "desiredCount": 1,
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    }


@pytest.mark.parametrize("case", list(SERVICE_CASES))
def test_create_service_refusals(aws: Aws, case: str) -> None:
    cluster = aws.cluster()
    request = _service_request(aws, cluster, "refused")
    SERVICE_CASES[case](request, aws)
    ecs = _ecs(aws)
    with pytest.raises(ecs.exceptions.ClientError) as caught:
        ecs.create_service(**request)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException", caught.value.response["Error"]
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == []


def test_capacity_providers_associated_with_the_cluster_are_accepted(aws: Aws) -> None:
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    aws.ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    request = _service_request(aws, cluster, "spot")
    request.pop("launchType")
    request["capacityProviderStrategy"] = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert aws.ecs.create_service(**request)["service"]["status"] == "ACTIVE"


def test_a_service_with_a_valid_load_balancer_is_created(aws: Aws) -> None:
    cluster = aws.cluster()
    request = _service_request(aws, cluster, "balanced")
    request["loadBalancers"] = [{"targetGroupArn": _target_group(aws), "containerName": "web", "containerPort": 80}]
    assert aws.ecs.create_service(**request)["service"]["loadBalancers"][0]["containerName"] == "web"


UPDATE_CASES: dict[str, dict[str, Any]] = {
    "desired-count-2147483648": {"desiredCount": 2147483648},
    "desired-count-above-quota": {"desiredCount": 5001},
    "placement-on-fargate": {"placementConstraints": [{"type": "distinctInstance"}]},
    "capacity-provider-not-associated": {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT",
                                                                       "weight": 1}]},
    "subnet-missing": {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0000000000deadbee"]}}},
    "target-group-not-an-arn": {"loadBalancers": [{"targetGroupArn": "not-an-arn", "containerName": "web",
                                                   "containerPort": 80}]},
}


@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_update_service_refusals_change_nothing(aws: Aws, case: str) -> None:
    cluster = aws.cluster()
    request = _service_request(aws, cluster, "web")
    aws.ecs.create_service(**request)
    before = aws.describe(cluster, "web")
    ecs = _ecs(aws)
    with pytest.raises(ecs.exceptions.ClientError) as caught:
        ecs.update_service(cluster=cluster, service="web", forceNewDeployment=True, **copy.deepcopy(UPDATE_CASES[case]))
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException", caught.value.response["Error"]
    after = aws.describe(cluster, "web")
    assert after["desiredCount"] == before["desiredCount"] == 1
    assert [d["id"] for d in after["deployments"]] == [d["id"] for d in before["deployments"]]
    assert after["networkConfiguration"] == before["networkConfiguration"]
    assert after.get("loadBalancers", []) == before.get("loadBalancers", [])
