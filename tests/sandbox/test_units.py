"""Pure pieces of the sandbox, without a server."""

from __future__ import annotations

import io

import pytest

from ci_ecs.sandbox import Faults
from ci_ecs.sandbox.ecr import parse_image, pull_error
from ci_ecs.sandbox.faults import FaultInjector
from ci_ecs.sandbox.middleware import error_response, identify, parse_credential_scope
from ci_ecs.sandbox.service_state import circuit_breaker_threshold
from ci_ecs.sandbox.strategies.rolling import rolling_bounds


def test_faults_from_env() -> None:
    faults = Faults.from_env(
        {
            "CI_ECS_SANDBOX_THROTTLE_RATE": "0.2",
            "CI_ECS_SANDBOX_FAIL_OPERATIONS": "RegisterTaskDefinition, ecs:UpdateService",
            "CI_ECS_SANDBOX_FAIL_TIMES": "2",
            "CI_ECS_SANDBOX_TASK_START_SECONDS": "3",
        }
    )
    assert faults == Faults(0.2, ("RegisterTaskDefinition", "ecs:UpdateService"), 2, 3.0)
    assert Faults.from_env({}) == Faults()
    with pytest.raises(ValueError):
        Faults(throttle_rate=1.5)


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)])
def test_throttle_rate_is_exact_and_deterministic(rate: float, expected: int) -> None:
    injector = FaultInjector(Faults(throttle_rate=rate))
    assert sum(injector.decide("ecs", "ListClusters") == "throttle" for _ in range(100)) == expected


def test_5xx_matching_and_first_n() -> None:
    injector = FaultInjector(Faults(error_5xx_operations=("ecs:CreateService", "DescribeImages"), error_5xx_times=1))
    assert injector.decide("ecs", "CreateService") == "5xx"
    assert injector.decide("ecs", "CreateService") is None
    assert injector.decide("ecr", "DescribeImages") == "5xx"
    assert injector.decide("ecs", "DescribeImages") == "5xx"  # no service prefix: any service
    assert injector.decide("ec2", "CreateService") is None


def test_identify_json_and_query_protocols() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=x"
    assert parse_credential_scope(auth) == ("eu-west-1", "ecs")
    environ = {"HTTP_AUTHORIZATION": auth, "HTTP_X_AMZ_TARGET": "AmazonEC2ContainerServiceV20141113.CreateService"}
    assert identify(environ) == ("ecs", "CreateService", "eu-west-1")
    body = b"Action=DescribeSubnets&Version=2016-11-15"
    environ = {
        "HTTP_AUTHORIZATION": auth.replace("/ecs/", "/ec2/"),
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert identify(environ) == ("ec2", "DescribeSubnets", "eu-west-1")
    assert environ["wsgi.input"].read() == body  # still readable by moto


def test_error_shapes() -> None:
    status, headers, body = error_response("ecs", "throttle")
    assert status.startswith("400") and b'"__type": "ThrottlingException"' in body
    status, _, body = error_response("ec2", "throttle")
    assert b"<Code>RequestLimitExceeded</Code>" in body and body.startswith(b"<Response>")
    status, _, body = error_response("sts", "5xx")
    assert status.startswith("503") and b"<ErrorResponse>" in body


def test_parse_image() -> None:
    ref = parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:abc")
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "team/app",
        None,
        "sha256:abc",
    )
    assert parse_image("localhost:5000/app").reference == "latest"
    assert parse_image("library/nginx:1.27").host == ""


def test_images_outside_the_sandbox_ecr_are_pullable() -> None:
    assert pull_error("docker.io/library/nginx:1.27", "123456789012", "us-east-1", None) is None
    assert pull_error("public.ecr.aws/nginx/nginx", "123456789012", "us-east-1", None) is None


def test_breaker_threshold_and_bounds() -> None:
    assert [circuit_breaker_threshold(n) for n in (0, 1, 5, 6, 7, 399, 400, 10_000)] == [3, 3, 3, 3, 4, 200, 200, 200]
    assert rolling_bounds(4, {}) == (4, 8)
    assert rolling_bounds(1, {"minimumHealthyPercent": 0, "maximumPercent": 100}) == (0, 1)
    assert rolling_bounds(3, {"minimumHealthyPercent": 50, "maximumPercent": 150}) == (2, 4)
