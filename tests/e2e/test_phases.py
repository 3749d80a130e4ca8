"""Where the time went (issue 27): the phases in `ci-ecs deploy --output json`, end to end on the sandbox.

Each deploy's phases are ordered, sequential (each starts where the one before ended) and cover its wall time
(their seconds add up to durationSeconds); the rollout is split by the stages ECS reports.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool
from tests.e2e.conftest import Deployer
from tests.e2e.test_strategies import MINUTE_SECONDS, Balancer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
NEXT_IMAGE = "public.ecr.aws/nginx/nginx:1.28"
# ServiceDeployment.lifecycleStage's values (ECS API reference, ServiceDeployment).
LIFECYCLE_STAGES = {"RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
                    "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                    "BAKE_TIME", "CLEAN_UP"}


# Tasks take long enough to start that the first poll (1 s after the update) sees them starting.
TASK_START_SECONDS = 1.5


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The e2e sandbox, with bake-time minutes of MINUTE_SECONDS; responses checked against botocore."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True, minute_seconds=MINUTE_SECONDS) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def assert_cover(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The phases are ordered, without gap or overlap, from the deploy's start to its end; returns them."""
    phases = result["phases"]
    assert phases, result
    assert phases[0]["start"] < 0.05, phases[0]
    for before, after in zip(phases, phases[1:], strict=False):
        assert after["start"] == before["end"], (before, after)
    for phase in phases:
        assert phase["end"] >= phase["start"] and phase["seconds"] == pytest.approx(phase["end"] - phase["start"],
                                                                                     abs=0.002), phase
    total = sum(p["seconds"] for p in phases)
    # What is left is the result's own bookkeeping after the last phase ended (milliseconds).
    assert total == pytest.approx(result["durationSeconds"], abs=0.1), (total, result["durationSeconds"])
    return phases


def test_rolling_image_change_phases_cover_the_wall_time(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    run = deployer.run(deployer.config(), "--image", NEXT_IMAGE)
    assert run.code == 0, run.stderr
    phases = assert_cover(run.json)
    names = [p["name"] for p in phases]
    assert names[:4] == ["preflight", "image", "register", "service-update"], names
    assert names[-2:] == ["addresses", "stable-window"], names
    stages = [p["stage"] for p in phases if p["name"] == "rollout"]
    # A rolling deployment's stages from the task counts: the new tasks start first (1.5 s: the first poll, 1 s
    # after the update, sees them starting unless the machine is very busy), then the old ones go.
    order = ["tasks-starting", "tasks-running", "old-tasks-draining"]
    assert stages and set(stages) <= set(order) and stages == sorted(stages, key=order.index), stages
    assert all(p.get("waitedOn") for p in phases if p["name"] in ("rollout", "stable-window")), phases
    # The stable window is the default 5 s counted from RUNNING: what is left of it after COMPLETED was seen.
    window = next(p for p in phases if p["name"] == "stable-window")
    assert 0.3 < window["seconds"] < 5.5, window


def test_blue_green_rollout_phases_name_the_lifecycle_stages(deployer: Deployer) -> None:
    balancer = Balancer(deployer.sandbox)
    # A bake of 6 sandbox minutes (3 s) is seen by a poll or two: its phase is measured, not guessed.
    config = deployer.config(load_balancers=balancer.config(), strategy="BLUE_GREEN", bake_time_minutes=6)
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    run = deployer.run(config, "--image", NEXT_IMAGE)
    assert run.code == 0, run.stderr
    phases = assert_cover(run.json)
    rollout = [p for p in phases if p["name"] == "rollout"]
    stages = [p["stage"] for p in rollout]
    assert set(stages) <= LIFECYCLE_STAGES, stages
    assert "BAKE_TIME" in stages, stages
    bake = next(p for p in rollout if p["stage"] == "BAKE_TIME")
    assert bake["waitedOn"] == "bake time (6 min)"
    # The bake lasts 3 s; its phase runs from the poll that first saw it to the one that saw it end.
    assert 0.5 < bake["seconds"] < 3 + 2 * 1.5, bake
    assert len(stages) == len(set(stages)), stages  # each stage once, in ECS's order
    order = [s for s in ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
                         "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                         "BAKE_TIME", "CLEAN_UP") if s in stages]
    assert stages == order


def test_a_failing_deploy_that_rolls_back_has_a_rollback_phase(deployer: Deployer) -> None:
    """No circuit breaker: ci-ecs sees the tasks fail (an image missing from the sandbox's ECR) and puts the old
    revision back; its result's phases end with the log tails and the rollback, still covering the wall time."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    registry = deployer.sandbox.registry or "000000000000.dkr.ecr.us-east-1.amazonaws.com"
    run = deployer.run(deployer.config(), "--image", f"{registry}/nothing-here:1.0")
    assert run.code == 1, run.stderr
    phases = assert_cover(run.json)
    names = [p["name"] for p in phases]
    assert "rollback" in names and names.index("rollback") > names.index("rollout"), names
    rollback = phases[names.index("rollback")]
    assert rollback["waitedOn"].startswith("the service back on ") and rollback["seconds"] > TASK_START_SECONDS
    assert run.json["rolledBackTo"].endswith(rollback["waitedOn"].rsplit(" ", 1)[-1])


def test_services_list_each_service_has_its_own_phases_after_the_shared_ones(deployer: Deployer) -> None:
    base = deployer.config()
    entries = [{"task": {**base["task"], "family": f"{deployer.cluster}-{name}"},
                "service": {**base["service"], "name": name, "desired_count": 1}} for name in ("api", "worker")]
    config = {"cluster": deployer.cluster, "services": entries,
              "deploy": {"timeout": 60, "parallelism": 2, "stable_seconds": 0}}
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    total = assert_cover(result)
    assert [p["name"] for p in total] == ["preflight", "image", "services"]
    assert total[-1]["waitedOn"] == "2 services, 2 at a time"
    for service in result["services"]:
        own = service["phases"]
        assert own[:2] == total[:2]  # the shared part, as the whole deploy measured it
        assert own[2]["start"] == total[2]["start"] and [p["name"] for p in own[2:5]] == [
            "register", "service-update", "rollout"], own
        for before, after in zip(own, own[1:], strict=False):
            assert after["start"] == before["end"], (before, after)
        # Each service's phases end when its own result was made, within the whole deploy.
        assert own[-1]["end"] <= total[-1]["end"] and own[-1]["end"] == pytest.approx(service["durationSeconds"],
                                                                                       abs=0.1)


def test_rolling_draining_names_the_target_groups_deregistration_delay(deployer: Deployer) -> None:
    """Old tasks leave the target group over its deregistration delay (280 s, on the sandbox's clock: a minute is
    MINUTE_SECONDS) before ECS stops them: the draining stage lasts that long and its phase says why."""
    balancer = Balancer(deployer.sandbox)
    balancer.elbv2.modify_target_group_attributes(TargetGroupArn=balancer.blue, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "280"}])
    config = deployer.config(load_balancers=[{"target_group_arn": balancer.blue, "container_name": "web",
                                              "container_port": 8080}])
    config["deploy"]["stable_seconds"] = 0
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    run = deployer.run(config, "--image", NEXT_IMAGE)
    assert run.code == 0, run.stderr
    # The one read it takes (per target group), and `ci-ecs iam-policy` for the config grants it.
    elb = [c.operation for c in deployer.sandbox.request_log if c.service == "elasticloadbalancing"]
    assert elb.count("DescribeTargetGroupAttributes") == 1, elb
    config["task"]["containers"][0]["image"] = NEXT_IMAGE  # iam-policy takes no --image
    (deployer.tmp_path / "policy.yml").write_text(json.dumps(config))
    policy = subprocess.run([require_tool("ci-ecs"), "iam-policy", "-c", str(deployer.tmp_path / "policy.yml")],
                            env=deployer.env, capture_output=True, text=True, check=True)
    granted = {a for s in json.loads(policy.stdout)["Statement"] for a in s["Action"]}
    assert {f"elasticloadbalancing:{op}" for op in elb} <= granted, granted
    phases = assert_cover(run.json)
    draining = [p for p in phases if p.get("stage") == "old-tasks-draining"]
    assert len(draining) == 1, phases
    name = balancer.blue.split("/")[-2]
    assert draining[0]["waitedOn"] == f"old tasks deregistering: target group {name} deregistration delay 280 s"
    assert draining[0]["deregistrationDelaySeconds"] == 280
    # 2.3 s here; its phase starts at the poll that first saw it (polls come about 1.25 s apart then).
    delay = 280 * MINUTE_SECONDS / 60
    assert delay - 1.5 < draining[0]["seconds"] < delay + 2 * 1.5, draining
