"""Without the service-deployment API (moto has none; older endpoints answer UnknownOperationException),
deploy follows the deployment by its id, and says so at --debug."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ci_ecs.ecs import EcsGateway
from ci_ecs.follow.service_deployment import find_service_deployment

DEPLOYMENT = {"id": "ecs-svc/1234567890123456789", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:"
              "task-definition/web:2", "createdAt": datetime(2025, 1, 1, tzinfo=timezone.utc)}


def test_moto_without_the_api_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    with mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        ecs.create_cluster(clusterName="c")
        with caplog.at_level(logging.DEBUG, logger="ci_ecs"):
            assert find_service_deployment(EcsGateway(ecs), "c", "web", DEPLOYMENT) is None
    assert "ListServiceDeployments is not available" in caplog.text


def test_an_endpoint_answering_unknown_operation_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    # Stubber: neither moto nor the sandbox can answer UnknownOperationException as an older ECS endpoint does.
    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stub:
        stub.add_client_error("list_service_deployments", service_error_code="UnknownOperationException",
                              http_status_code=400)
        with caplog.at_level(logging.DEBUG, logger="ci_ecs"):
            assert find_service_deployment(EcsGateway(ecs), "c", "web", DEPLOYMENT) is None
    assert "UnknownOperationException" in caplog.text


def test_other_errors_are_not_swallowed() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stub:  # Stubber: an AccessDenied on this one call only
        stub.add_client_error("list_service_deployments", service_error_code="AccessDeniedException",
                              http_status_code=400)
        with pytest.raises(Exception, match="AccessDenied"):
            find_service_deployment(EcsGateway(ecs), "c", "web", DEPLOYMENT)


def test_a_service_deployment_older_than_ours_is_not_followed() -> None:
    # Stubber: the sandbox always names the deployment UpdateService started; an endpoint whose answer named the
    # previous (long SUCCESSFUL) one must not make the new deployment look done.
    from ci_ecs.follow.service_deployment import ServiceDeploymentUnavailable, follow_service_deployment

    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/old"
    with Stubber(ecs) as stub:
        stub.add_response("describe_service_deployments", {"serviceDeployments": [
            {"serviceDeploymentArn": arn, "status": "SUCCESSFUL",
             "createdAt": datetime(2024, 12, 1, tzinfo=timezone.utc)}]}, {"serviceDeploymentArns": [arn]})
        with pytest.raises(ServiceDeploymentUnavailable, match="created before deployment"):
            follow_service_deployment(EcsGateway(ecs), "c", "web", DEPLOYMENT["id"], arn, timeout=5,
                                      created_after=DEPLOYMENT["createdAt"], sleep=lambda _: None)
