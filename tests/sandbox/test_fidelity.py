"""Sandbox fidelity: responses checked against botocore's model, clean errors, bounded logs, spread."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ci_ecs.sandbox import Faults, scheduler
from ci_ecs.sandbox.faults import FaultInjector
from ci_ecs.sandbox.middleware import MAX_REQUEST_LOG, SandboxMiddleware

from .conftest import Aws, wait_for

ECS_AUTH = "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x"


def _middleware(body: dict[str, Any] | Exception) -> SandboxMiddleware:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if isinstance(body, Exception):
            raise body
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1")])
        return [json.dumps(body).encode()]

    return SandboxMiddleware(app, FaultInjector(Faults()), threading.RLock(), validate_responses=True)


def _call(middleware: SandboxMiddleware, operation: str) -> tuple[str, bytes]:
    seen: dict[str, str] = {}
    environ = {
        "HTTP_AUTHORIZATION": ECS_AUTH,
        "HTTP_X_AMZ_TARGET": f"AmazonEC2ContainerServiceV20141113.{operation}",
        "REQUEST_METHOD": "POST",
        "wsgi.input": io.BytesIO(b"{}"),
    }
    body = b"".join(middleware(environ, lambda status, headers, *_: seen.setdefault("status", status)))
    return seen["status"], body


def test_responses_are_checked_against_botocores_model() -> None:
    bad = {"services": [{"serviceName": "web", "runningCount": "2", "launchType": "LAMBDA"}], "failures": []}
    middleware = _middleware(bad)
    _call(middleware, "DescribeServices")
    violations = middleware.take_violations()
    assert any("services[0].runningCount: expected integer" in v for v in violations), violations
    assert any("services[0].launchType: 'LAMBDA' is not one of" in v for v in violations), violations
    good = _middleware({"services": [{"serviceName": "web", "runningCount": 2, "launchType": "FARGATE"}],
                        "failures": []})
    _call(good, "DescribeServices")
    assert good.take_violations() == []


def test_a_moto_crash_is_an_aws_shaped_500_and_a_violation(caplog: pytest.LogCaptureFixture) -> None:
    middleware = _middleware(KeyError("xx"))
    with caplog.at_level(logging.ERROR, logger="ci_ecs.sandbox.middleware"):
        status, body = _call(middleware, "ListClusters")
    assert status.startswith("500") and json.loads(body)["__type"] == "InternalFailure"
    assert middleware.take_violations() == ["ecs:ListClusters: moto raised (HTTP 500)"]
    assert "ecs:ListClusters failed inside moto" in caplog.text
    assert middleware.request_details[-1].status == 500


def test_request_log_is_bounded() -> None:
    middleware = _middleware({"clusterArns": []})
    for _ in range(MAX_REQUEST_LOG + 5):
        _call(middleware, "ListClusters")
    assert len(middleware.request_log) == len(middleware.request_details) == MAX_REQUEST_LOG


@pytest.mark.parametrize(("service", "call"), [("ecs", "list_clusters"), ("ec2", "describe_subnets")])
def test_unknown_region_is_a_clean_aws_error(aws: Aws, service: str, call: str) -> None:
    client = boto3.client(
        service,
        endpoint_url=aws.sb.endpoint_url,
        region_name="xx-nowhere-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(client.exceptions.ClientError) as caught:
        getattr(client, call)()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] in ("InvalidSignatureException", "SignatureDoesNotMatch")
    assert error["Error"]["Message"] == "Credential should be scoped to a valid region, not 'xx-nowhere-1'."
    assert aws.sb.request_details[-1].fault == "region"


def test_fargate_tasks_spread_across_the_services_subnets(aws: Aws) -> None:
    subnets = sorted(s["SubnetId"] for s in aws.ec2.describe_subnets()["Subnets"] if s["DefaultForAz"])[:3]
    assert len(subnets) == 3
    cluster = aws.cluster()
    aws.ecs.create_service(
        cluster=cluster,
        serviceName="spread",
        taskDefinition=aws.task_definition("spread"),
        desiredCount=6,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )
    aws.wait_stable(cluster, "spread")
    placed = Counter(
        d["value"]
        for t in aws.tasks(cluster, "spread")
        for d in t["attachments"][0]["details"]
        if d["name"] == "subnetId"
    )
    assert placed == dict.fromkeys(subnets, 2)
    zones = {t["availabilityZone"] for t in aws.tasks(cluster, "spread")}
    assert len(zones) == 3


def test_a_broken_service_is_logged_and_the_others_go_on(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = aws.cluster()
    td = aws.task_definition("broken")
    aws.service(cluster, "broken", td, desired=1)
    original = scheduler.reconcile_service

    def reconcile(backend: Any, service: Any, rt: Any) -> None:
        if service.name == "broken":
            raise RuntimeError("boom")
        original(backend, service, rt)

    monkeypatch.setattr(scheduler, "reconcile_service", reconcile)
    with caplog.at_level(logging.ERROR, logger="ci_ecs.sandbox.scheduler"):
        aws.service(cluster, "fine", td, desired=1)
        aws.wait_stable(cluster, "fine")
        wait_for(lambda: "sandbox scheduler: service broken" in caplog.text, what="the log line")
    record = next(r for r in caplog.records if "service broken" in r.getMessage())
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])


def test_tasks_spread_across_availability_zones_not_subnets(aws: Aws) -> None:
    # Two subnets in one AZ and one in another: 4 tasks go 2 and 2 across the AZs (ECS Developer Guide,
    # "Balancing an Amazon ECS service across Availability Zones"), not 3 and 1 as a spread over subnets would.
    defaults = {s["AvailabilityZone"]: s for s in aws.ec2.describe_subnets()["Subnets"] if s["DefaultForAz"]}
    zone_a, zone_b = sorted(defaults)[:2]
    extra = aws.ec2.create_subnet(VpcId=defaults[zone_a]["VpcId"], CidrBlock="172.31.200.0/24",
                                  AvailabilityZone=zone_a)["Subnet"]["SubnetId"]
    subnets = [defaults[zone_a]["SubnetId"], extra, defaults[zone_b]["SubnetId"]]
    cluster = aws.cluster()
    aws.ecs.create_service(
        cluster=cluster, serviceName="zones", taskDefinition=aws.task_definition("zones"), desiredCount=4,
        launchType="FARGATE", availabilityZoneRebalancing="ENABLED",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )
    aws.wait_stable(cluster, "zones")
    assert Counter(t["availabilityZone"] for t in aws.tasks(cluster, "zones")) == {zone_a: 2, zone_b: 2}
