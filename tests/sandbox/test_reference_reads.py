"""The reads pre-flight makes (ci_ecs/preflight/references.py) answered by the sandbox as AWS answers them: the
error codes of the EC2 and ELBv2 API references for IDs and ARNs that do not exist, and the `subnet-id` /
`group-id` filters that leave a missing ID out of the answer. Every response is checked against botocore's model
by the sandbox fixture."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.preflight.references import PlannedService, check_references
from ci_ecs.sandbox import Sandbox
from tests.sandbox.conftest import REGION, Aws

MISSING_SUBNET = "subnet-0a1b2c3d4e5f60718"
MISSING_GROUP = "sg-0123456789abcdef0"


def _code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


def test_missing_ids_answer_the_documented_error_codes(aws: Aws) -> None:
    # EC2 API reference, "Error codes": InvalidSubnetID.NotFound, InvalidGroup.NotFound; ELBv2 API reference,
    # DescribeTargetGroups errors: TargetGroupNotFound.
    assert _code(aws.ec2.describe_subnets, SubnetIds=[MISSING_SUBNET]) == "InvalidSubnetID.NotFound"
    assert _code(aws.ec2.describe_security_groups, GroupIds=[MISSING_GROUP]) == "InvalidGroup.NotFound"
    elbv2 = aws.client("elbv2")
    missing_tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcdef"
    assert _code(elbv2.describe_target_groups, TargetGroupArns=[missing_tg]) == "TargetGroupNotFound"


def test_filters_leave_missing_ids_out(aws: Aws) -> None:
    subnet = aws.subnet()
    found = aws.ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [subnet, MISSING_SUBNET]}])["Subnets"]
    assert [s["SubnetId"] for s in found] == [subnet]
    group = aws.ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    found = aws.ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group, MISSING_GROUP]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [group]


def test_check_references_against_the_sandbox(sandbox: Sandbox, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    elbv2 = aws.client("elbv2")
    tg = elbv2.create_target_group(Name="refs-instance", Protocol="HTTP", Port=80, VpcId=vpc,
                                   TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    definition = {"family": "refs", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
                  "containerDefinitions": [{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}]}
    request = {"cluster": "refs", "serviceName": "refs", "desiredCount": 1, "launchType": "FARGATE",
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": [aws.subnet(), MISSING_SUBNET],
                                                                "securityGroups": [MISSING_GROUP]}},
               "loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}]}
    factory = ClientFactory(AwsSettings(region=REGION, endpoint_url=sandbox.endpoint_url))
    problems = check_references(factory, cluster="refs", cluster_providers=None,
                                services=[PlannedService("", definition, request, True, None)])
    assert [p.key for p in problems] == ["service.subnets", "service.security_groups",
                                         "service.load_balancers[0].target_group_arn"]
