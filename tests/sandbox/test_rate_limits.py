"""`--rate-limits aws`: ECS's and EC2's documented token buckets, as a plain boto3 client sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ci_ecs.sandbox import Sandbox, shapes
from ci_ecs.sandbox.middleware import error_response
from ci_ecs.sandbox.rate_limits import ECS_BUCKETS, RateLimiter, bucket_for

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter("aws", clock=clock)
    # Service modify actions: capacity 50, refill 5 a second (ECS API Reference, "Request throttling").
    allowed = [limiter.allow("1", "us-east-1", "ecs", "UpdateService") for _ in range(51)]
    assert allowed.count(True) == 50 and allowed[-1] is False
    clock.now += 1.0
    assert [limiter.allow("1", "us-east-1", "ecs", "CreateService") for _ in range(6)] == [True] * 5 + [False]
    clock.now += 100.0  # refilled to capacity, never beyond it
    assert [limiter.allow("1", "us-east-1", "ecs", "DeleteService") for _ in range(51)].count(True) == 50


def test_buckets_are_per_category_account_and_region() -> None:
    limiter = RateLimiter("aws", clock=FakeClock())
    for _ in range(20):  # Task definition modify actions: 20
        assert limiter.allow("1", "us-east-1", "ecs", "RegisterTaskDefinition")
    assert not limiter.allow("1", "us-east-1", "ecs", "DeregisterTaskDefinition")  # the same bucket
    assert limiter.allow("1", "us-east-1", "ecs", "DescribeTaskDefinition")  # another category
    assert limiter.allow("1", "eu-west-1", "ecs", "RegisterTaskDefinition")  # another region
    assert limiter.allow("2", "us-east-1", "ecs", "RegisterTaskDefinition")  # another account
    assert all(limiter.allow("1", "us-east-1", "ecr", "DescribeImages") for _ in range(1000))  # no documented bucket


def test_the_table_and_ec2_categories() -> None:
    assert (ECS_BUCKETS["DescribeServices"].capacity, ECS_BUCKETS["DescribeServices"].refill_per_second) == (100, 20)
    assert ECS_BUCKETS["ListTasks"] is ECS_BUCKETS["DescribeTasks"]
    assert bucket_for("ec2", "DescribeNetworkInterfaces", {}).capacity == 50  # type: ignore[union-attr]
    assert bucket_for("ec2", "DescribeNetworkInterfaces",
                      {"Filter.1.Name": ["x"]}).capacity == 100  # type: ignore[union-attr]
    assert bucket_for("ec2", "CreateSecurityGroup").refill_per_second == 5  # type: ignore[union-attr]
    assert RateLimiter("none").allow("1", "us-east-1", "ecs", "UpdateService")
    with pytest.raises(ValueError):
        RateLimiter("fast")


def test_the_throttle_answer_is_the_shape_botocore_models() -> None:
    status, headers, body = error_response("ecs", "throttle")
    assert status.startswith("400 ")
    assert shapes.check_response("ecs", "DescribeServices", 400, headers, body) == []
    status, headers, body = error_response("ec2", "throttle")
    assert shapes.check_response("ec2", "DescribeNetworkInterfaces", int(status.split()[0]), headers, body) == []


@pytest.fixture(scope="module")
def limited() -> Iterator[Sandbox]:
    with Sandbox(task_start_seconds=0.3, validate_responses=True, start_registry=False, rate_limits="aws") as sb:
        yield sb


def _client(sb: Sandbox, name: str, config: Config = NO_RETRIES, region: str = "us-east-1") -> Any:
    return boto3.client(name, endpoint_url=sb.endpoint_url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=config)


def test_a_burst_beyond_the_bucket_gets_throttling_exception_then_refills(limited: Sandbox) -> None:
    ecs = _client(limited, "ecs")
    limited.clear_request_log()
    outcomes: list[str] = []
    for _ in range(30):  # Cluster modify actions: 20 tokens, 1 a second
        try:
            ecs.create_cluster(clusterName="limited")  # the same cluster again: no change
            outcomes.append("ok")
        except ClientError as err:
            # What ECS answers (API Reference, "Request throttling"): HTTP 400 ThrottlingException "Rate exceeded",
            # which botocore parses as a throttle.
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert err.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            outcomes.append("throttled")
    assert 20 <= outcomes.count("ok") < 30 and outcomes[-1] == "throttled"
    assert {d.fault for d in limited.request_details if d.status == 400} == {"rate-limit"}
    assert ecs.list_clusters()["clusterArns"]  # another category's bucket is full
    _client(limited, "ecs", region="us-west-2").create_cluster(clusterName="limited")  # another region's too
    time.sleep(1.1)  # a token back
    assert ecs.create_cluster(clusterName="limited")["cluster"]["clusterName"] == "limited"
    assert limited.take_violations() == []


def test_botocore_standard_retries_get_through_the_bucket(limited: Sandbox) -> None:
    ec2 = _client(limited, "ec2")
    for _ in range(200):  # empty the "Unfiltered and unpaginated" bucket (50, 10 a second)
        try:
            ec2.describe_network_interfaces()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "RequestLimitExceeded"
            break
    else:
        pytest.fail("the EC2 bucket never ran dry")
    retrying = _client(limited, "ec2", Config(retries={"mode": "standard", "total_max_attempts": 5}))
    assert "NetworkInterfaces" in retrying.describe_network_interfaces()
