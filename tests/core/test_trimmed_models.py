"""The trimmed botocore data (ci_ecs/data) is botocore's, cut to what ci-ecs calls, and clients use it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
from moto import mock_aws

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.data.make_models import EC2_OPERATIONS, SERVICES, endpoints, trimmed
from ci_ecs.network import default_subnets

PACKAGE = Path(__file__).resolve().parents[2] / "ci_ecs"
DATA = PACKAGE / "data"


def _cut_from_this_botocore() -> bool:
    import botocore

    return (DATA / "BOTOCORE_VERSION").read_text().strip() == botocore.__version__


def test_trimmed_data_is_used_only_with_the_botocore_it_was_cut_from() -> None:
    """Another botocore release (a newer one on a fresh machine) keeps its own full, current data."""
    factory = ClientFactory(AwsSettings(region="us-east-1"))
    paths = factory.session().get_component("data_loader").search_paths
    assert (str(DATA) in paths) is _cut_from_this_botocore()


def test_trimmed_data_is_what_the_installed_botocore_gives() -> None:
    if not _cut_from_this_botocore():
        # Not used with this botocore (previous test); `python -m ci_ecs.data.make_models` refreshes it.
        factory = ClientFactory(AwsSettings(region="us-east-1"))
        assert str(DATA) not in factory.session().get_component("data_loader").search_paths
        return
    for service in SERVICES:
        version, model, pages = trimmed(service, EC2_OPERATIONS if service == "ec2" else None)
        folder = DATA / service / version
        assert json.loads((folder / "service-2.json").read_text()) == model, service
        if pages is not None:
            assert json.loads((folder / "paginators-1.json").read_text()) == pages
        assert model["operations"] and "documentation" not in json.dumps(model["operations"])
    assert json.loads((DATA / "endpoints.json").read_text()) == endpoints()


def test_every_client_ci_ecs_makes_is_in_the_trimmed_data() -> None:
    named = {m for path in PACKAGE.glob("*.py")
             for m in re.findall(r'\bclient\("([a-z0-9-]+)"', path.read_text())}
    assert named and named <= set(SERVICES)


def test_factory_clients_use_the_trimmed_data_and_still_answer(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        factory = ClientFactory(AwsSettings(region="us-east-1"))
        ec2 = factory.client("ec2")
        if _cut_from_this_botocore():
            assert sorted(ec2.meta.service_model.operation_names) == sorted(EC2_OPERATIONS)
            assert ec2.meta.service_model.operation_model("DescribeSubnets").documentation == ""
        else:  # another botocore: its own full model
            assert set(EC2_OPERATIONS) < set(ec2.meta.service_model.operation_names)
        assert factory.client("ecs").meta.endpoint_url == "https://ecs.us-east-1.amazonaws.com"
        subnets = default_subnets(ec2)
        full = boto3.client("ec2", region_name="us-east-1")  # botocore's full model: the same answer
        expected = [s["SubnetId"] for s in full.describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    assert subnets and sorted(subnets) == sorted(expected)
