"""What a deploy of many services keeps in memory (issue 27, "Memory"): the peak itself is a benchmark figure
(bench/ scenario 8); these check the mechanisms behind it, on real parts."""

from __future__ import annotations

import datetime
import platform

import botocore.session
from moto import mock_aws

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.memory import limit_malloc_arenas


def _timestamps(value: object) -> list[datetime.datetime]:
    if isinstance(value, datetime.datetime):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _timestamps(v)]
    if isinstance(value, list):
        return [t for v in value for t in _timestamps(v)]
    return []


def test_answers_timestamps_share_one_zone_and_keep_botocores_values(monkeypatch) -> None:
    """botocore's own parser builds a tzlocal() per timestamp (~0.4 KB each, tens of thousands in a 100-service
    deploy); the factory's clients parse the same instants in the same zone with one zone object. Fails before
    the change: every timestamp had a zone object of its own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        ecs = ClientFactory(AwsSettings(region="us-east-1")).client("ecs")
        ecs.create_cluster(clusterName="c")
        ecs.register_task_definition(family="f",
                                     containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
        for name in ("a", "b"):
            ecs.create_service(cluster="c", serviceName=name, taskDefinition="f", desiredCount=0)
        ours = ecs.describe_services(cluster="c", services=["a", "b"])["services"]
        plain = botocore.session.Session().create_client("ecs", region_name="us-east-1")
        theirs = plain.describe_services(cluster="c", services=["a", "b"])["services"]
    stamps, expected = _timestamps(ours), _timestamps(theirs)
    assert len(stamps) >= 4 and len(stamps) == len(expected)
    assert stamps == expected  # the same instants
    assert [t.utcoffset() for t in stamps] == [t.utcoffset() for t in expected]  # in the same zone
    assert len({id(t.tzinfo) for t in stamps}) == 1
    assert len({id(t.tzinfo) for t in expected}) == len(expected)  # botocore's own: one zone object each


def test_malloc_arenas_are_limited_where_glibc_runs_the_process() -> None:
    """glibc takes the limit (mallopt returns 1); elsewhere it is left as it is."""
    assert limit_malloc_arenas() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")


def test_described_and_updated_services_keep_only_the_events_shown() -> None:
    """ECS sends up to 100 events with each service (newest first); a deploy of 100 services kept them all in each
    service's description and update answer, while only the newest EVENTS_SHOWN are ever shown. botocore's
    Stubber stands in for ECS here (it validates the shapes): neither moto nor the sandbox gives a service 100
    events without 100 deployments. Fails before the change: 100 events kept."""
    from botocore.stub import Stubber

    from ci_ecs.ecs import EcsGateway
    from ci_ecs.follow.state import EVENTS_SHOWN

    client = botocore.session.Session().create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    events = [{"id": f"e{i}", "createdAt": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
               "message": f"(service web) event {i}"} for i in range(100)]
    service = {"serviceName": "web", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/web",
               "status": "ACTIVE", "events": events}
    gateway = EcsGateway(client)
    with Stubber(client) as stub:
        stub.add_response("describe_services", {"services": [service], "failures": []})
        stub.add_response("update_service", {"service": service})
        stub.add_response("describe_services", {"services": [service], "failures": []})
        found = gateway.find_services("c", ["web"]) or {}
        updated = gateway.update_service({"cluster": "c", "service": "web", "desiredCount": 1})
        one = gateway.describe_service("c", "web") or {}
    for kept in (found["web"], updated, one):
        assert [e["id"] for e in kept["events"]] == [f"e{i}" for i in range(EVENTS_SHOWN)]
    assert len(service["events"]) == 100  # the answer itself is left as it was
