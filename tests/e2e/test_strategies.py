"""`ci-ecs deploy` with ECS's deployment strategies, end to end on the sandbox with a real ELBv2 load
balancer (moto's), two target groups and listener rules; bake-time minutes last MINUTE_SECONDS."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ci_ecs.sandbox import Sandbox
from tests.conftest import require_tool
from tests.e2e.conftest import TASK_START_SECONDS, Deployer

MINUTE_SECONDS = 0.5
GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
NEXT_IMAGE = "public.ecr.aws/nginx/nginx:1.28"
ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRole"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The e2e sandbox, with bake-time minutes of half a second; responses checked against botocore."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True, minute_seconds=MINUTE_SECONDS) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


class Balancer:
    """A load balancer with two target groups, a production and a test listener rule (moto's ELBv2)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.elbv2 = _client(sandbox, "elbv2")
        ec2 = _client(sandbox, "ec2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        suffix = uuid.uuid4().hex[:6]
        lb = self.elbv2.create_load_balancer(Name=f"lb-{suffix}", Subnets=subnets)["LoadBalancers"][0]
        self.blue, self.green = (self.elbv2.create_target_group(
            Name=f"tg-{n}-{suffix}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
        )["TargetGroups"][0]["TargetGroupArn"] for n in ("a", "b"))
        rules = []
        for port in (80, 8080):
            listener = self.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": self.blue}])["Listeners"][0]
            rules.append(self.elbv2.create_rule(
                ListenerArn=listener["ListenerArn"], Priority=1,
                Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                    {"TargetGroupArn": self.blue, "Weight": 100}, {"TargetGroupArn": self.green, "Weight": 0}]}}],
            )["Rules"][0]["RuleArn"])
        self.production_rule, self.test_rule = rules

    def config(self) -> list[dict[str, Any]]:
        """`service.load_balancers` with `advanced`."""
        return [{"target_group_arn": self.blue, "container_name": "web", "container_port": 8080,
                 "advanced": {"alternate_target_group_arn": self.green,
                              "production_listener_rule": self.production_rule,
                              "test_listener_rule": self.test_rule, "role_arn": ROLE}}]

    def production(self) -> dict[str, int]:
        """{target group: weight} of the production rule."""
        rule = self.elbv2.describe_rules(RuleArns=[self.production_rule])["Rules"][0]
        return {g["TargetGroupArn"]: g["Weight"] for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}


def _strategy(deployer: Deployer, balancer: Balancer, **service: Any) -> dict[str, Any]:
    return deployer.config(load_balancers=balancer.config(), **service)


def test_blue_green_deploy_follows_the_service_deployment(deployer: Deployer) -> None:
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="BLUE_GREEN", bake_time_minutes=2)
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    run = deployer.run(config, "--image", NEXT_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["serviceDeploymentStatus"] == "SUCCESSFUL"
    assert result["serviceDeploymentArn"].startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/")
    assert result["rolloutState"] == "COMPLETED"
    assert balancer.production() == {balancer.blue: 0, balancer.green: 100}
    assert deployer.service()["taskDefinition"].endswith(":2")


def test_blue_green_missing_image_rolls_back_exit_1(deployer: Deployer) -> None:
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="BLUE_GREEN", bake_time_minutes=1,
                       circuit_breaker={"enable": True, "rollback": True})
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    registry = deployer.sandbox.registry or "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    run = deployer.run(config, "--image", f"{registry}/nothing-here:1.0")
    assert run.code == 1, run.stderr
    result = run.json
    assert result["error"] and result["serviceDeploymentStatus"] == "ROLLBACK_SUCCESSFUL"
    assert "CannotPullContainerError" in run.stderr
    assert deployer.service()["taskDefinition"].endswith(":1")  # the old revision serves
    assert balancer.production()[balancer.blue] == 100


def test_canary_alarm_during_the_bake_exit_1_naming_the_alarm(deployer: Deployer) -> None:
    cloudwatch = _client(deployer.sandbox, "cloudwatch")
    alarm = f"web-5xx-{uuid.uuid4().hex[:6]}"
    cloudwatch.put_metric_alarm(AlarmName=alarm, MetricName="HTTPCode_Target_5XX_Count",
                                Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60, EvaluationPeriods=1,
                                Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="CANARY", bake_time_minutes=1,
                       canary={"percent": 10, "bake_time_minutes": 30},
                       alarms={"names": [alarm], "rollback": True})
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0

    def fire() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and balancer.production().get(balancer.green) != 10:
            time.sleep(0.1)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx during the canary")

    firing = threading.Thread(target=fire)
    firing.start()
    run = deployer.run(config, "--image", NEXT_IMAGE)
    firing.join()
    assert run.code == 1, run.stderr
    assert alarm in run.json["error"]
    assert run.json["serviceDeploymentStatus"] == "ROLLBACK_SUCCESSFUL"
    assert deployer.service()["taskDefinition"].endswith(":1")


def test_linear_three_steps_and_wait_until_traffic_shifted(deployer: Deployer) -> None:
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="LINEAR", bake_time_minutes=60,
                       linear={"step_percent": 40, "step_bake_time_minutes": 1})
    config["deploy"]["timeout"] = 20
    assert deployer.run(config, "--image", GOOD_IMAGE, "--wait-until", "traffic-shifted").code == 0
    started = time.monotonic()
    run = deployer.run(config, "--image", NEXT_IMAGE, "--wait-until", "traffic-shifted")
    assert run.code == 0, run.stderr
    assert time.monotonic() - started < 60 * MINUTE_SECONDS  # returned long before the 60-minute bake ended
    result = run.json
    assert result["serviceDeploymentStatus"] == "IN_PROGRESS" and result["lifecycleStage"] == "BAKE_TIME"
    assert any("bake is still running" in w for w in result["warnings"])
    described = deployer.ecs.describe_service_deployments(serviceDeploymentArns=[result["serviceDeploymentArn"]])
    assert described["serviceDeployments"][0]["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100


def test_pause_hook_released_with_ci_ecs_continue(deployer: Deployer, tmp_path: Path) -> None:
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="BLUE_GREEN", bake_time_minutes=0)
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    config["service"]["lifecycle_hooks"] = [{"stages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    ci_ecs = require_tool("ci-ecs")
    outcome: dict[str, Any] = {}

    def release() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = subprocess.run([ci_ecs, "continue", "-c", str(tmp_path / "ci-ecs.yml"), "--output", "json"],
                                  env=deployer.env, capture_output=True, text=True, timeout=60)
            outcome["stderr"] = done.stderr
            if done.returncode == 0:
                outcome["continue"] = done.stdout
                return
            time.sleep(0.3)

    releasing = threading.Thread(target=release)
    releasing.start()
    run = deployer.run(config, "--image", NEXT_IMAGE)
    releasing.join()
    assert run.code == 0, f"continue: {outcome.get('stderr')}"
    assert '"lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"' in outcome["continue"]


def test_pause_hook_times_out_exit_4_naming_the_stage(deployer: Deployer) -> None:
    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="BLUE_GREEN", bake_time_minutes=0)
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    config["service"]["lifecycle_hooks"] = [{"stages": ["PRE_SCALE_UP"]}]
    config["deploy"]["timeout"] = 4
    run = deployer.run(config, "--image", NEXT_IMAGE)
    assert run.code == 4, run.stderr
    assert "PRE_SCALE_UP" in run.json["error"] and "ci-ecs continue" in run.json["error"]


@pytest.mark.parametrize(("service", "key"), [
    ({"strategy": "CANARY"}, "load_balancers"),
    ({"strategy": "BLUE_GREEN", "canary": {"percent": 5}}, "service.canary"),
    ({"strategy": "LINEAR", "linear": {"step_percent": 2}}, "step_percent"),
    ({"strategy": "CANARY", "canary": {"percent": 5.05}}, "percent"),
    ({"strategy": "BLUE_GREEN", "bake_time_minutes": 1441}, "bake_time_minutes"),
    ({"strategy": "BLUE_GREEN", "lifecycle_hooks": [{"stages": ["BAKE_TIME"]}]}, "stages"),
    ({"strategy": "BLUE_GREEN", "load_balancers": [{"target_group_arn": "arn:tg", "container_name": "web",
                                                    "container_port": 8080}]}, "advanced"),
    ({"alarms": {"names": []}}, "names"),
])
def test_bad_strategy_settings_exit_2_naming_the_key(deployer: Deployer, service: dict[str, Any], key: str) -> None:
    balancer_free = deployer.config(**service)
    run = deployer.run(balancer_free, "--image", GOOD_IMAGE)
    assert run.code == 2, run.stderr
    assert key in run.stderr
    clusters = deployer.ecs.list_clusters()["clusterArns"]
    assert not any(arn.endswith(f"/{deployer.cluster}") for arn in clusters)  # nothing written


def test_iam_policy_covers_the_strategy(deployer: Deployer, tmp_path: Path) -> None:
    import json

    import yaml

    balancer = Balancer(deployer.sandbox)
    config = _strategy(deployer, balancer, strategy="CANARY", alarms={"names": ["web-5xx"]},
                       lifecycle_hooks=[{"target_arn": "arn:aws:lambda:us-east-1:123456789012:function:check",
                                         "role_arn": "arn:aws:iam::123456789012:role/hookRole",
                                         "stages": ["POST_TEST_TRAFFIC_SHIFT"]}])
    config["task"]["containers"][0]["image"] = GOOD_IMAGE
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([require_tool("ci-ecs"), "iam-policy", "-c", str(path), "--account-id", "123456789012"],
                          env=deployer.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    statements = {s["Sid"]: s for s in json.loads(done.stdout)["Statement"]}
    assert "ecs:ListServiceDeployments" in statements["EcsServiceDeployments"]["Action"]
    assert statements["PassEcsInfrastructureRoles"]["Resource"] == [ROLE, "arn:aws:iam::123456789012:role/hookRole"]
    assert statements["DeploymentAlarms"]["Action"] == ["cloudwatch:DescribeAlarms"]


# ------------------------------------------------------------------ ROLLING, through the same API (issue 15)


def test_rolling_deploy_follows_its_service_deployment(deployer: Deployer) -> None:
    """A rolling deploy is followed through the service-deployment API too: the ARN comes from UpdateService's
    currentServiceDeployment (no ListServiceDeployments), and it is the deployment of our task definition."""
    config = deployer.config()
    first = deployer.run(config, "--image", GOOD_IMAGE)
    assert first.code == 0, first.stderr
    deployer.sandbox.clear_request_log()
    run = deployer.run(config, "--image", NEXT_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["serviceDeploymentStatus"] == "SUCCESSFUL" and result["rolloutState"] == "COMPLETED"
    assert result["serviceDeploymentArn"] != first.json["serviceDeploymentArn"]
    calls = [c.operation for c in deployer.sandbox.request_log]
    assert "DescribeServiceDeployments" in calls and "ListServiceDeployments" not in calls
    # ECS's own record agrees: the newest service deployment is that ARN, and its target runs our revision.
    newest = deployer.ecs.list_service_deployments(cluster=deployer.cluster, service="web")["serviceDeployments"][0]
    assert newest["serviceDeploymentArn"] == result["serviceDeploymentArn"]
    revision = deployer.ecs.describe_service_revisions(
        serviceRevisionArns=[newest["targetServiceRevisionArn"]])["serviceRevisions"][0]
    assert revision["taskDefinition"] == result["taskDefinitionArn"]
    assert deployer.service()["currentServiceDeployment"] == result["serviceDeploymentArn"]


def test_rolling_circuit_breaker_rollback_reported_when_ecs_starts_it(deployer: Deployer) -> None:
    """ECS's circuit breaker rolls back: exit 1 as soon as the service deployment says ROLLBACK_*, ci-ecs starts
    no rollback of its own (one UpdateService), and ECS brings the old revision back."""
    config = deployer.config(circuit_breaker={"enable": True, "rollback": True})
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    registry = deployer.sandbox.registry or "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    deployer.sandbox.clear_request_log()
    run = deployer.run(config, "--image", f"{registry}/nothing-here:1.0")
    assert run.code == 1, run.stderr
    result = run.json
    assert result["serviceDeploymentStatus"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")
    assert [c.operation for c in deployer.sandbox.request_log].count("UpdateService") == 1
    assert "CannotPullContainerError" in run.stderr
    sd = deployer.ecs.describe_service_deployments(
        serviceDeploymentArns=[result["serviceDeploymentArn"]])["serviceDeployments"][0]
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sd["deploymentCircuitBreaker"]["failureCount"] >= sd["deploymentCircuitBreaker"]["threshold"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        service = deployer.service()
        if service["taskDefinition"].endswith(":1") and len(service["deployments"]) == 1 \
                and service["runningCount"] == 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"ECS did not roll back: {deployer.service()['deployments']}")


def test_desired_count_change_alone_waits_for_the_new_tasks(deployer: Deployer) -> None:
    """A desired-count change starts no service deployment: its scaling is followed by the ECS deployment, and
    the deploy returns only once the new tasks run."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    run = deployer.run(deployer.config(desired_count=4), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    assert run.json["taskDefinitionRegistered"] is False
    service = deployer.service()
    assert service["desiredCount"] == 4 and service["runningCount"] == 4
    assert len(deployer.ecs.list_service_deployments(cluster=deployer.cluster, service="web")
               ["serviceDeployments"]) == 1


def test_rolling_deploy_without_describe_service_deployments_permission_falls_back(deployer: Deployer) -> None:
    """A deploy policy written before rolling deployments were followed this way lacks
    ecs:DescribeServiceDeployments (the sandbox answers AccessDeniedException as IAM does): the rolling
    deployment is followed by its id, and the result says which permission to add."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.set_faults(denied_operations="ecs:DescribeServiceDeployments")
    try:
        run = deployer.run(deployer.config(), "--image", NEXT_IMAGE)
    finally:
        deployer.sandbox.set_faults(denied_operations=())
    assert run.code == 0, run.stderr
    result = run.json
    assert result["rolloutState"] == "COMPLETED" and result["serviceDeploymentArn"] is None
    assert any("ecs:DescribeServiceDeployments" in w for w in result["warnings"])
    assert deployer.service()["taskDefinition"].endswith(":2")


def test_iam_policy_grants_every_call_of_a_rolling_deploy(deployer: Deployer) -> None:
    """`ci-ecs iam-policy` for the config covers each ECS call a rolling deploy makes on the sandbox."""
    config = deployer.config()
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    assert deployer.run(config, "--image", NEXT_IMAGE).code == 0
    called = {f"ecs:{c.operation}" for c in deployer.sandbox.request_log if c.service == "ecs"}
    config["task"]["containers"][0]["image"] = NEXT_IMAGE  # iam-policy takes no --image
    path = deployer.tmp_path / "policy.yml"
    path.write_text(json.dumps(config))
    policy = subprocess.run([require_tool("ci-ecs"), "iam-policy", "-c", str(path)], env=deployer.env,
                            capture_output=True, text=True, check=True)
    granted = {a for s in json.loads(policy.stdout)["Statement"] for a in s["Action"]}
    assert "ecs:DescribeServiceDeployments" in called
    assert called - granted == set()
