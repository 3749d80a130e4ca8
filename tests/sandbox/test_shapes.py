"""The test-mode response check (ci_ecs/sandbox/shapes.py) has teeth: each bad answer below is one a
lenient client would swallow and AWS never sends. The responses are hand-written bodies fed to the
checker (no sandbox needed): the checker is the unit under test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ci_ecs.sandbox import shapes

JSON_HEADERS = [("Content-Type", "application/x-amz-json-1.1")]
SERVICE = {"serviceName": "web", "runningCount": 2, "launchType": "FARGATE",
           "deployments": [{"id": "ecs-svc/1", "rolloutState": "COMPLETED"}]}


def check(operation: str, body: Any, status: int = 200, service: str = "ecs") -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return shapes.check_response(service, operation, status, JSON_HEADERS, raw)


def test_a_good_answer_passes() -> None:
    assert check("DescribeServices", {"services": [SERVICE], "failures": []}) == []
    assert check("ListTasks", {"taskArns": []}) == []
    assert check("DescribeServices", {"services": [{**SERVICE, "createdAt": 1700000000.5}], "failures": []}) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "DescribeServices.services: missing (AWS always sends it)"),
        ({"services": [{**SERVICE, "serviceNme": "x"}], "failures": []},
         "DescribeServices.services[0].serviceNme: not a member of Service"),
        ({"services": [{**SERVICE, "deployments": [{"id": "d", "rolloutStat": "COMPLETED"}]}], "failures": []},
         "DescribeServices.services[0].deployments[0].rolloutStat: not a member of Deployment"),
        ({"services": [SERVICE], "failures": [], "nextToken": "x"},
         "DescribeServices.nextToken: not a member of DescribeServicesResponse"),
        ({"services": [{**SERVICE, "runningCount": "2"}], "failures": []},
         "DescribeServices.services[0].runningCount: expected integer, got str"),
        ({"services": [{**SERVICE, "runningCount": 2**31}], "failures": []},
         "DescribeServices.services[0].runningCount: 2147483648 does not fit a 32-bit integer"),
        ({"services": [{**SERVICE, "runningCount": True}], "failures": []},
         "DescribeServices.services[0].runningCount: expected integer, got bool"),
        ({"services": [{**SERVICE, "launchType": "LAMBDA"}], "failures": []},
         "DescribeServices.services[0].launchType: 'LAMBDA' is not one of"),
        ({"services": [{**SERVICE, "tags": [{"key": "k" * 129, "value": "v"}]}], "failures": []},
         "DescribeServices.services[0].tags[0].key: length 129 above the model's maximum 128"),
        ({"services": [{**SERVICE, "tags": [{"key": str(i), "value": ""} for i in range(51)]}], "failures": []},
         "DescribeServices.services[0].tags: length 51 above the model's maximum 50"),
        ({"services": [{**SERVICE, "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True}}}],
          "failures": []},
         "deploymentCircuitBreaker.rollback: required member missing"),
        ({"services": [{**SERVICE, "createdAt": "yesterday"}], "failures": []},
         "DescribeServices.services[0].createdAt: expected a timestamp"),
        ({"services": [{**SERVICE, "platformVersion": None}], "failures": []},
         "DescribeServices.services[0].platformVersion: null"),
        ({"services": {"web": SERVICE}, "failures": []}, "DescribeServices.services: expected a list, got dict"),
        (b"<html>oops</html>", "DescribeServices: the body is not JSON"),
    ],
    ids=["empty", "misspelled", "misspelled-nested", "unknown-top", "string-number", "int32-overflow", "bool-number",
         "enum", "tag-key-length", "tag-count", "required", "timestamp", "null", "list-type", "not-json"],
)
def test_each_bad_answer_is_found(body: Any, expected: str) -> None:
    problems = check("DescribeServices", body)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        ("ClusterNotFoundException", True),  # modelled for DescribeServices
        ("InvalidParameterException", True),
        ("ThrottlingException", True),  # common to every AWS API
        ("AccessDeniedException", True),
        ("ServiceUnavailable", True),
        ("RepositoryNotFoundException", False),  # ECR's, not ECS's
        ("ServiceNotFoundException", False),  # ECS models it, but not for DescribeServices
        ("ResourceNotFoundException", False),
    ],
)
def test_error_codes_must_be_modelled_or_common(code: str, allowed: bool) -> None:
    headers = [*JSON_HEADERS, ("x-amzn-ErrorType", f"{code}:")]
    body = json.dumps({"__type": code, "message": "no"}).encode()
    problems = shapes.check_response("ecs", "DescribeServices", 400, headers, body)
    assert (problems == []) is allowed, problems
    if not allowed:
        assert f"error code {code!r} is neither one DescribeServices models" in problems[0]


def test_an_error_without_a_code_is_found() -> None:
    assert shapes.check_response("ecs", "ListClusters", 400, JSON_HEADERS, b"{}") == [
        "ListClusters: HTTP 400 without an error code"
    ]


def test_query_protocol_errors_are_checked_against_the_model() -> None:
    body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code><Message>x</Message>"
            b"</Error><RequestId>1</RequestId></ErrorResponse>")
    headers = [("Content-Type", "text/xml")]
    assert shapes.check_response("elasticloadbalancing", "DescribeTargetGroups", 400, headers, body) == []
    wrong = body.replace(b"TargetGroupNotFound", b"TargetGroupMissing")
    problems = shapes.check_response("elasticloadbalancing", "DescribeTargetGroups", 400, headers, wrong)
    assert problems and "'TargetGroupMissing'" in problems[0]


EC2_SUBNETS = (
    b'<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId>'
    b"<subnetSet><item><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId>{extra}</item></subnetSet>"
    b"</DescribeSubnetsResponse>"
)


def test_ec2_answers_are_checked_for_unknown_elements() -> None:
    headers = [("Content-Type", "text/xml")]
    good = EC2_SUBNETS.replace(b"{extra}", b"<availabilityZone>us-east-1a</availabilityZone>")
    assert shapes.check_response("ec2", "DescribeSubnets", 200, headers, good) == []
    bad = EC2_SUBNETS.replace(b"{extra}", b"<availabiltyZone>us-east-1a</availabiltyZone>")
    problems = shapes.check_response("ec2", "DescribeSubnets", 200, headers, bad)
    assert problems == ["DescribeSubnets.Subnets[0].availabiltyZone: not a member of Subnet"]
    wrong_item = EC2_SUBNETS.replace(b"<item>", b"<member>").replace(b"</item>", b"</member>").replace(b"{extra}", b"")
    assert "list element <member>, not <item>" in shapes.check_response(
        "ec2", "DescribeSubnets", 200, headers, wrong_item)[0]


def test_query_answers_are_checked_for_unknown_elements() -> None:
    body = (b"<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
            b"<TargetGroupArn>arn</TargetGroupArn><TargetTyp>ip</TargetTyp></member></TargetGroups>"
            b"</DescribeTargetGroupsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
            b"</DescribeTargetGroupsResponse>")
    problems = shapes.check_response("elasticloadbalancing", "DescribeTargetGroups", 200,
                                     [("Content-Type", "text/xml")], body)
    assert problems == ["DescribeTargetGroups.TargetGroups[0].TargetTyp: not a member of TargetGroup"]
