"""The sandbox's timing profiles (`--timing`, timing.py): ECS-like task start and stop, a load-balanced task draining
for its target group's deregistration delay, and one clock (`--minute-seconds`) for all of it, the rate-limit
refill included.

No timed upper bounds: the assertions read the order of the states seen and the timestamps the sandbox recorded
(createdAt, pullStartedAt, startedAt, stoppingAt, stoppedAt), which a busy machine can only make later.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ci_ecs.sandbox import Sandbox
from ci_ecs.sandbox.rate_limits import RateLimiter
from ci_ecs.sandbox.timing import ECS, timing_from_env, timing_of

from .conftest import wait_for

REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# A minute of 3 s: an AWS second lasts 0.05 s, so the ECS profile's 40 s task start lasts 2 s and its 5 s stop 0.25 s.
MINUTE_SECONDS = 3.0
SCALE = MINUTE_SECONDS / 60
EPSILON = 0.05  # the recorded timestamps are wall-clock, the sandbox's timers monotonic


def _client(sb: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sb.endpoint_url, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test", config=NO_RETRIES)


# The suite's poll-until-true, with room for the ECS-like profile's scaled waits.
_wait = functools.partial(wait_for, timeout=60, interval=0.05)


def _service(sb: Sandbox, name: str, **extra: Any) -> tuple[Any, str]:
    ecs, ec2 = _client(sb, "ecs"), _client(sb, "ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    ecs.create_cluster(clusterName=name)
    arn = ecs.register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=name, serviceName="web", taskDefinition=arn, desiredCount=1, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}}, **extra)
    return ecs, subnets[0]


def test_profiles_and_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert timing_of(None).name == "fast" and timing_of("ECS") is ECS
    with pytest.raises(ValueError, match="timing must be one of fast, ecs"):
        timing_of("slow")
    monkeypatch.setenv("CI_ECS_SANDBOX_TIMING", "ecs")
    assert timing_from_env() == "ecs"
    # ECS-like durations are AWS seconds on the sandbox's clock; a --task-start-seconds given wins, unscaled.
    assert ECS.start_seconds(0.1) == pytest.approx(4.0) and ECS.stop_seconds(0.1) == pytest.approx(0.5)
    assert ECS.start_seconds(0.1, explicit=0.3) == 0.3
    assert timing_of("fast").start_seconds(0.1) is None  # the fast profile keeps the sandbox's own (1 s)


def test_ecs_timing_a_task_takes_the_profiles_start_and_stop_by_the_sandboxs_clock() -> None:
    with Sandbox(timing="ecs", minute_seconds=MINUTE_SECONDS, start_registry=False, validate_responses=True) as sb:
        assert sb.task_start_seconds == pytest.approx(40 * SCALE)
        assert sb.rate_limiter.scale == pytest.approx(SCALE)
        ecs, _ = _service(sb, "ecslike")
        seen: list[str] = []

        def running() -> dict[str, Any] | None:
            arns = ecs.list_tasks(cluster="ecslike")["taskArns"]
            if not arns:
                return None
            task = ecs.describe_tasks(cluster="ecslike", tasks=arns)["tasks"][0]
            if not seen or seen[-1] != task["lastStatus"]:
                seen.append(task["lastStatus"])
            return task if task["lastStatus"] == "RUNNING" else None

        task = _wait(running)
        assert seen[-1] == "RUNNING" and seen == [s for s in ("PROVISIONING", "PENDING", "RUNNING") if s in seen]
        created = task["createdAt"].timestamp()
        # PENDING at a quarter of the start, RUNNING at its end (40 AWS seconds, 2 s here).
        assert task["pullStartedAt"].timestamp() - created >= 0.25 * 40 * SCALE - EPSILON
        assert task["startedAt"].timestamp() - created >= 40 * SCALE - EPSILON

        ecs.stop_task(cluster="ecslike", task=task["taskArn"])
        stopped = _wait(lambda: next((t for t in ecs.describe_tasks(cluster="ecslike", tasks=[task["taskArn"]])
                                      ["tasks"] if t["lastStatus"] == "STOPPED"), None))
        assert stopped["stoppedAt"].timestamp() - stopped["stoppingAt"].timestamp() >= 5 * SCALE - EPSILON


def test_fast_timing_is_unchanged() -> None:
    with Sandbox(task_start_seconds=0.3, minute_seconds=MINUTE_SECONDS, start_registry=False) as sb:
        assert sb.timing.name == "fast" and sb.task_start_seconds == 0.3  # not scaled by the clock
    assert Sandbox().task_start_seconds == 1.0


def test_a_load_balanced_task_drains_for_the_deregistration_delay_on_the_same_clock() -> None:
    with Sandbox(timing="ecs", minute_seconds=MINUTE_SECONDS, start_registry=False, validate_responses=True) as sb:
        elbv2, ec2 = _client(sb, "elbv2"), _client(sb, "ec2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        balancer = elbv2.create_load_balancer(Name="timing", Subnets=subnets)["LoadBalancers"][0]
        group = elbv2.create_target_group(Name="timing", Protocol="HTTP", Port=80, VpcId=vpc,
                                          TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        delay = 60  # AWS seconds: 3 s here
        elbv2.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
        elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
        ecs, _ = _service(sb, "drain", loadBalancers=[{"targetGroupArn": group, "containerName": "web",
                                                       "containerPort": 80}])

        def health() -> list[str]:
            found = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
            return [h["TargetHealth"]["State"] for h in found]

        _wait(lambda: health() == ["healthy"])
        arn = ecs.list_tasks(cluster="drain")["taskArns"][0]
        asked = time.time()
        ecs.stop_task(cluster="drain", task=arn)
        assert health() == ["draining"]
        assert ecs.describe_tasks(cluster="drain", tasks=[arn])["tasks"][0]["lastStatus"] != "STOPPED"
        stopped = _wait(lambda: next((t for t in ecs.describe_tasks(cluster="drain", tasks=[arn])["tasks"]
                                      if t["lastStatus"] == "STOPPED"), None))
        # The task is DEACTIVATING while its target drains for the deregistration delay; then it is STOPPING (ECS
        # stamps stoppingAt then) and the stop itself takes 5 AWS seconds: all on the sandbox's clock.
        assert stopped["stoppingAt"].timestamp() - asked >= delay * SCALE - EPSILON
        assert stopped["stoppedAt"].timestamp() - stopped["stoppingAt"].timestamp() >= 5 * SCALE - EPSILON


def test_the_rate_limit_refill_runs_on_the_sandboxs_clock() -> None:
    clock = [1000.0]
    limiter = RateLimiter("aws", clock=lambda: clock[0], scale=0.5)  # an AWS second lasts 0.5 s
    # Task definition modify actions: 20, then 1 a second (ECS API Reference, "Request throttling").
    assert [limiter.allow("1", REGION, "ecs", "RegisterTaskDefinition") for _ in range(21)].count(True) == 20
    clock[0] += 0.25  # half an AWS second
    assert not limiter.allow("1", REGION, "ecs", "RegisterTaskDefinition")
    clock[0] += 0.25  # a whole one (unscaled, half a token)
    assert limiter.allow("1", REGION, "ecs", "RegisterTaskDefinition")


def test_a_scaled_sandbox_refills_its_buckets_as_much_faster() -> None:
    # A minute of 30 s: an AWS second lasts 0.5 s, so RegisterTaskDefinition's bucket refills 2 tokens a real second.
    with Sandbox(minute_seconds=30, rate_limits="aws", start_registry=False) as sb:
        ecs = _client(sb, "ecs")

        def register() -> bool:
            try:
                ecs.register_task_definition(family="refill", containerDefinitions=[
                    {"name": "web", "image": "nginx", "memory": 128}])
            except ClientError as err:
                assert err.response["Error"]["Code"] == "ThrottlingException"
                return False
            return True

        assert not all(register() for _ in range(40))  # the bucket (20) runs out
        time.sleep(0.6)  # 1.2 AWS seconds: a token back (at an unscaled 1 token a second, 0.6 s would not do)
        assert register()
