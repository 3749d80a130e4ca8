"""Issue 17: the services of one deploy are described together (≤ 10 per DescribeServices call)."""

from __future__ import annotations

import threading
from typing import Any

from ci_ecs.ecs import BatchingEcsGateway, EcsGateway


def _counted(client: Any) -> list[int]:
    calls: list[int] = []
    client.meta.events.register("before-parameter-build.ecs.DescribeServices", lambda params, **_: calls.append(
        len(params["services"])))
    return calls


def _services(ecs: Any, names: list[str]) -> None:
    ecs.create_cluster(clusterName="c")
    arn = ecs.register_task_definition(family="f", containerDefinitions=[
        {"name": "w", "image": "nginx", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    for name in names:
        ecs.create_service(cluster="c", serviceName=name, taskDefinition=arn, desiredCount=0)


def test_find_services_asks_ten_at_a_time_and_says_when_the_cluster_is_missing(moto_aws: dict[str, Any]) -> None:
    ecs = moto_aws["ecs"]
    names = [f"s{i:02d}" for i in range(12)]
    _services(ecs, names[:11])
    calls = _counted(ecs)
    found = EcsGateway(ecs).find_services("c", names)
    assert found is not None and sorted(found) == names[:11]  # s11 is missing: left out
    assert calls == [10, 2]
    assert EcsGateway(ecs).find_services("no-such-cluster", names[:1]) is None


def test_threads_polling_together_share_one_describe_services(moto_aws: dict[str, Any]) -> None:
    ecs = moto_aws["ecs"]
    names = ["a", "b", "c"]
    _services(ecs, names)
    gateway = BatchingEcsGateway(ecs, "c", tolerance=5.0)
    for name in names:  # each service's wait asks once: from then on the batch names all three
        assert gateway.describe_service("c", name)["serviceName"] == name
    calls = _counted(ecs)
    start = threading.Barrier(len(names))
    seen: dict[str, Any] = {}

    def poll(name: str) -> None:
        start.wait()
        seen[name] = gateway.describe_service("c", name)

    gateway._described.clear()  # a new poll round: nothing fresh yet
    threads = [threading.Thread(target=poll, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: s["serviceName"] for n, s in seen.items()} == {n: n for n in names}
    assert calls == [3]  # one call for the three services


def test_waits_of_one_deploy_wake_on_one_grid() -> None:
    """`align` lengthens each sleep to end on the deploy's shared grid (at most one grid step longer), so the
    services' polls fall on the same instants and share their batched calls."""
    import time

    gateway = BatchingEcsGateway(None, "c", grid=1.0)
    for delay in (0.05, 0.25, 1.0, 1.3, 4.99):
        before = time.monotonic()
        aligned = gateway.align(delay)
        wake = before + aligned - gateway._epoch
        assert delay - 1e-3 <= aligned <= delay + 1.0 + 1e-3
        assert abs(wake - round(wake)) < 0.01  # a whole second from the deploy's start
    assert gateway.align(0.0) == 0.0
