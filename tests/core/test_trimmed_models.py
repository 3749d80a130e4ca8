"""The trimmed EC2 model (ci_ecs/data) is botocore's, cut to ci-ecs's operations, and clients use it."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.data.make_models import EC2_OPERATIONS, trimmed
from ci_ecs.network import default_subnets

DATA = Path(__file__).resolve().parents[2] / "ci_ecs" / "data"


def test_trimmed_model_is_what_the_installed_botocore_gives() -> None:
    version, model, pages = trimmed("ec2", EC2_OPERATIONS)
    folder = DATA / "ec2" / version
    assert json.loads((folder / "service-2.json").read_text()) == model
    assert json.loads((folder / "paginators-1.json").read_text()) == pages


def test_factory_ec2_client_uses_the_trimmed_model_and_still_answers(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        ec2 = ClientFactory(AwsSettings(region="us-east-1")).client("ec2")
        assert sorted(ec2.meta.service_model.operation_names) == sorted(EC2_OPERATIONS)
        subnets = default_subnets(ec2)
        full = boto3.client("ec2", region_name="us-east-1")  # botocore's full model: the same answer
        expected = [s["SubnetId"] for s in full.describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    assert subnets and sorted(subnets) == sorted(expected)
