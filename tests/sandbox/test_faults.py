"""Fault injection as a plain boto3 client sees it: throttling, 5xx, and no side effects."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import Aws

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def test_throttling_is_observable_without_retries(aws: Aws) -> None:
    ecs = aws.client("ecs", NO_RETRIES)
    aws.sb.set_faults(throttle_rate=0.5)
    outcomes = []
    for _ in range(10):
        try:
            ecs.list_clusters()
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert err.response["Error"]["Message"] == "Rate exceeded"
    assert outcomes.count("ThrottlingException") == 5
    assert outcomes.count("ok") == 5
    throttled = [d for d in aws.sb.request_details if d.fault == "throttle"]
    assert throttled and throttled[-1].operation == "ListClusters"


def test_ec2_throttling_uses_the_query_protocol_shape(aws: Aws) -> None:
    ec2 = aws.client("ec2", NO_RETRIES)
    aws.sb.set_faults(throttle_rate=1.0)
    aws.sb.clear_request_log()
    with pytest.raises(ClientError) as caught:
        ec2.describe_subnets()
    # EC2 throttles with RequestLimitExceeded over HTTP 503, in its XML error shape (botocore parsed it).
    assert caught.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert [(d.service, d.operation, d.status, d.fault) for d in aws.sb.request_details] == [
        ("ec2", "DescribeSubnets", 503, "throttle")
    ]


def test_a_throttled_call_has_no_side_effect(aws: Aws) -> None:
    ecs = aws.client("ecs", NO_RETRIES)
    aws.sb.set_faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as caught:
        ecs.create_cluster(clusterName="throttled-away")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    aws.sb.set_faults(throttle_rate=0.0)
    assert aws.ecs.describe_clusters(clusters=["throttled-away"])["clusters"] == []


def test_throttling_is_retried_by_botocore(aws: Aws) -> None:
    aws.sb.set_faults(throttle_rate=0.5)
    aws.sb.clear_request_log()
    ecs = aws.client("ecs", Config(retries={"max_attempts": 5, "mode": "standard"}))
    retries = [ecs.list_clusters()["ResponseMetadata"]["RetryAttempts"] for _ in range(4)]
    # Every second request is throttled (a deterministic accumulator): the first call goes through, each
    # later one is throttled once and succeeds on botocore's retry.
    assert retries == [0, 1, 1, 1]
    statuses = [(d.status, d.fault) for d in aws.sb.request_details if d.operation == "ListClusters"]
    assert statuses == [(200, None)] + [(400, "throttle"), (200, None)] * 3


def test_5xx_on_an_operation_has_no_side_effect(aws: Aws) -> None:
    ecs = aws.client("ecs", NO_RETRIES)
    aws.sb.set_faults(error_5xx_operations="ecs:RegisterTaskDefinition")
    with pytest.raises(ClientError) as caught:
        ecs.register_task_definition(
            family="five-xx", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert aws.ecs.list_task_definitions(familyPrefix="five-xx")["taskDefinitionArns"] == []
    faulted = [(d.operation, d.status, d.fault) for d in aws.sb.request_details if d.fault]
    assert faulted[-1] == ("RegisterTaskDefinition", 503, "5xx")
    assert ecs.list_clusters()["ResponseMetadata"]["HTTPStatusCode"] == 200  # other operations are untouched


def test_5xx_first_n_times_then_retries_succeed_with_one_side_effect(aws: Aws) -> None:
    aws.sb.set_faults(error_5xx_operations=["RegisterTaskDefinition"], error_5xx_times=2)
    aws.sb.clear_request_log()
    ecs = aws.client("ecs", Config(retries={"max_attempts": 5, "mode": "standard"}))
    ecs.register_task_definition(
        family="retried", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )
    calls = [c for c in aws.sb.request_log if c == ("ecs", "RegisterTaskDefinition")]
    assert len(calls) == 3
    assert [d.status for d in aws.sb.request_details if d.operation == "RegisterTaskDefinition"] == [503, 503, 200]
    arns = aws.ecs.list_task_definitions(familyPrefix="retried")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[-1] for a in arns] == ["1"]
