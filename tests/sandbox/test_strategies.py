"""The sandbox's service-deployment API and deployment strategies, through boto3 and the aws CLI.

Traffic moves on real listener rules in moto's ELBv2 (a load balancer, two target groups, a
production and a test rule); alarms are moto's CloudWatch alarms set with SetAlarmState.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ci_ecs.sandbox import Sandbox
from tests.sandbox.conftest import REGION, TASK_START_SECONDS, Aws, wait_for

MINUTE_SECONDS = 0.5
ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRole"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A sandbox where a bake-time minute lasts half a second."""
    with Sandbox(task_start_seconds=TASK_START_SECONDS, validate_responses=True, minute_seconds=MINUTE_SECONDS) as sb:
        yield sb


class Balancer:
    """An ALB with two target groups, a production listener rule and a test listener rule."""

    def __init__(self, aws: Aws) -> None:
        self.elbv2 = aws.client("elbv2")
        vpc = aws.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in aws.ec2.describe_subnets()["Subnets"][:2]]
        suffix = uuid.uuid4().hex[:6]
        lb = self.elbv2.create_load_balancer(Name=f"lb-{suffix}", Subnets=subnets)["LoadBalancers"][0]
        self.blue, self.green = (
            self.elbv2.create_target_group(
                Name=f"tg-{name}-{suffix}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
            )["TargetGroups"][0]["TargetGroupArn"]
            for name in ("a", "b")
        )
        rules = []
        for port in (80, 8080):
            listener = self.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": self.blue}],
            )["Listeners"][0]
            rule = self.elbv2.create_rule(
                ListenerArn=listener["ListenerArn"], Priority=1,
                Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                    {"TargetGroupArn": self.blue, "Weight": 100}, {"TargetGroupArn": self.green, "Weight": 0}]}}],
            )["Rules"][0]
            rules.append(rule["RuleArn"])
        self.production_rule, self.test_rule = rules

    def load_balancers(self) -> list[dict[str, Any]]:
        """The service's loadBalancers with advancedConfiguration."""
        return [{
            "targetGroupArn": self.blue, "containerName": "web", "containerPort": 80,
            "advancedConfiguration": {
                "alternateTargetGroupArn": self.green, "productionListenerRule": self.production_rule,
                "testListenerRule": self.test_rule, "roleArn": ROLE,
            },
        }]

    def weights(self, rule_arn: str) -> dict[str, int]:
        """{target group ARN: weight} of a rule's forward action, as DescribeRules gives it."""
        rule = self.elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
        groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {g["TargetGroupArn"]: int(g["Weight"]) for g in groups}


def _service(aws: Aws, balancer: Balancer, configuration: dict[str, Any], desired: int = 2) -> tuple[str, str]:
    cluster = aws.cluster()
    family = f"{cluster}-web"
    aws.ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=aws.task_definition(family), desiredCount=desired,
        launchType="FARGATE", loadBalancers=balancer.load_balancers(), deploymentConfiguration=configuration,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()], "assignPublicIp": "ENABLED"}},
    )
    first = _latest(aws, cluster)
    wait_for(lambda: _describe(aws, first)["status"] == "SUCCESSFUL", timeout=30, what="first deployment")
    return cluster, family


def _latest(aws: Aws, cluster: str) -> str:
    briefs = aws.ecs.list_service_deployments(cluster=cluster, service="web")["serviceDeployments"]
    return str(briefs[0]["serviceDeploymentArn"])


def _describe(aws: Aws, arn: str) -> dict[str, Any]:
    return dict(aws.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0])


def _update(aws: Aws, cluster: str, family: str, image: str = "public.ecr.aws/nginx/nginx:1.28",
            **extra: Any) -> str:
    aws.ecs.update_service(
        cluster=cluster, service="web", taskDefinition=aws.task_definition(family, image=image), **extra
    )
    return _latest(aws, cluster)


def _wait_final(aws: Aws, arn: str, timeout: float = 40) -> dict[str, Any]:
    final = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
    return dict(wait_for(lambda: (d := _describe(aws, arn))["status"] in final and d, timeout=timeout, what=arn))


def test_rolling_deployments_appear_in_the_service_deployment_api(aws: Aws) -> None:
    cluster = aws.cluster()
    family = f"{cluster}-web"
    aws.service(cluster, "web", aws.task_definition(family), desired=2)
    first = _latest(aws, cluster)
    assert _wait_final(aws, first)["status"] == "SUCCESSFUL"
    second = _update(aws, cluster, family)
    assert second != first
    described = _wait_final(aws, second)
    assert described["status"] == "SUCCESSFUL"
    assert described["deploymentConfiguration"].get("strategy", "ROLLING") == "ROLLING"
    assert described["sourceServiceRevisions"][0]["arn"] == _describe(aws, first)["targetServiceRevision"]["arn"]
    # the target revision names the task definition the deployment started (DescribeServiceRevisions)
    revision = aws.ecs.describe_service_revisions(serviceRevisionArns=[described["targetServiceRevision"]["arn"]])
    service = aws.describe(cluster, "web")
    assert revision["serviceRevisions"][0]["taskDefinition"] == service["taskDefinition"]
    # our tasks carry the ECS deployment id as startedBy; the ECS deployment lists them too
    assert {t["startedBy"] for t in aws.tasks(cluster, "web")} == {service["deployments"][0]["id"]}
    statuses = aws.ecs.list_service_deployments(cluster=cluster, service="web", status=["SUCCESSFUL"])
    assert len(statuses["serviceDeployments"]) == 2


def test_blue_green_moves_the_listener_rules_bakes_then_stops_blue(aws: Aws) -> None:
    balancer = Balancer(aws)
    cluster, family = _service(aws, balancer, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 4})
    # the first deployment put production on the service's target group
    assert balancer.weights(balancer.production_rule) == {balancer.blue: 100, balancer.green: 0}
    serving = balancer.blue
    arn = _update(aws, cluster, family)
    stages = set()

    def baking() -> bool:
        described = _describe(aws, arn)
        stages.add(described.get("lifecycleStage"))
        return described.get("lifecycleStage") == "BAKE_TIME"

    wait_for(baking, timeout=30, what="BAKE_TIME")
    assert balancer.weights(balancer.production_rule) == {serving: 0, balancer.green: 100}
    assert balancer.weights(balancer.test_rule) == {serving: 0, balancer.green: 100}
    # during the bake both revisions run: the full green set beside blue
    assert len(aws.tasks(cluster, "web")) == 4
    described = _wait_final(aws, arn)
    assert described["status"] == "SUCCESSFUL"
    assert {"SCALE_UP", "BAKE_TIME"} <= stages
    assert len(aws.tasks(cluster, "web")) == 2


def test_blue_green_with_a_missing_image_rolls_back_and_blue_keeps_serving(aws: Aws) -> None:
    balancer = Balancer(aws)
    configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1,
                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    cluster, family = _service(aws, balancer, configuration)
    before = aws.describe(cluster, "web")["taskDefinition"]
    production_before = balancer.weights(balancer.production_rule)
    missing = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/nothing-{uuid.uuid4().hex[:6]}:1"
    arn = _update(aws, cluster, family, image=missing)
    described = _wait_final(aws, arn)
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert described["rollback"]["serviceRevisionArn"] == described["sourceServiceRevisions"][0]["arn"]
    service = aws.describe(cluster, "web")
    assert service["taskDefinition"] == before
    assert balancer.weights(balancer.production_rule) == production_before
    assert {t["taskDefinitionArn"] for t in aws.tasks(cluster, "web")} == {before}


def test_canary_alarm_during_the_bake_rolls_back_naming_the_alarm(aws: Aws) -> None:
    cloudwatch = aws.client("cloudwatch")
    alarm = f"errors-{uuid.uuid4().hex[:6]}"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    balancer = Balancer(aws)
    configuration = {
        "strategy": "CANARY", "bakeTimeInMinutes": 1,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 20},
        "alarms": {"alarmNames": [alarm], "enable": True, "rollback": True},
    }
    cluster, family = _service(aws, balancer, configuration)
    serving = max(balancer.weights(balancer.production_rule).items(), key=lambda kv: kv[1])[0]
    arn = _update(aws, cluster, family)
    wait_for(lambda: balancer.weights(balancer.production_rule)[serving] == 90, timeout=30, what="canary 10%")
    assert _describe(aws, arn)["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    described = _wait_final(aws, arn)
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert described["alarms"]["triggeredAlarmNames"] == [alarm]
    assert balancer.weights(balancer.production_rule)[serving] == 100


def test_linear_shifts_in_three_steps_visible_in_describe(aws: Aws) -> None:
    balancer = Balancer(aws)
    configuration = {"strategy": "LINEAR", "bakeTimeInMinutes": 0,
                     "linearConfiguration": {"stepPercent": 40.0, "stepBakeTimeInMinutes": 2}}
    cluster, family = _service(aws, balancer, configuration)
    arn = _update(aws, cluster, family)
    seen: list[float] = []

    def done() -> bool:
        described = _describe(aws, arn)
        weight = described["targetServiceRevision"].get("requestedProductionTrafficWeight")
        if weight is not None and (not seen or seen[-1] != weight):
            seen.append(weight)
        return described["status"] == "SUCCESSFUL"

    wait_for(done, timeout=40, interval=0.05, what="linear deployment")
    assert [w for w in seen if w > 0] == [40.0, 80.0, 100.0]


def test_pause_hook_waits_for_continue(aws: Aws) -> None:
    balancer = Balancer(aws)
    configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}
    cluster, family = _service(aws, balancer, configuration)
    hooks = [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    arn = _update(aws, cluster, family, deploymentConfiguration={**configuration, "lifecycleHooks": hooks})

    def paused() -> dict[str, Any] | None:
        hooks = _describe(aws, arn).get("lifecycleHookDetails") or []
        return next((h for h in hooks if h["status"] == "AWAITING_ACTION"), None)

    hook = wait_for(paused, timeout=30, what="paused hook")
    assert hook["targetType"] == "PAUSE"
    assert _describe(aws, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    with pytest.raises(ClientError) as refused:
        aws.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="nope", action="CONTINUE")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    aws.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    assert _wait_final(aws, arn)["status"] == "SUCCESSFUL"


@pytest.mark.parametrize(
    ("configuration", "balancers"),
    [
        ({"strategy": "BLUE_GREEN", "canaryConfiguration": {"canaryPercent": 5.0}}, True),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.05}}, True),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}}, True),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepBakeTimeInMinutes": 1441}}, True),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2000}, True),
        ({"strategy": "CANARY"}, False),
        ({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["BAKE_TIME"]}]},
         True),
    ],
)
def test_refuses_what_ecs_refuses(aws: Aws, configuration: dict[str, Any], balancers: bool) -> None:
    balancer = Balancer(aws)
    cluster = aws.cluster()
    with pytest.raises(ClientError) as refused:
        aws.ecs.create_service(
            cluster=cluster, serviceName="web", taskDefinition=aws.task_definition(f"{cluster}-web"),
            desiredCount=1, launchType="FARGATE", deploymentConfiguration=configuration,
            loadBalancers=balancer.load_balancers() if balancers else [],
            networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert aws.ecs.describe_services(cluster=cluster, services=["web"])["services"] == []


def test_aws_cli_lists_and_describes_service_deployments(aws: Aws, sandbox: Sandbox, require_tool: Any) -> None:
    cli = require_tool("aws")
    cluster = aws.cluster()
    aws.service(cluster, "web", aws.task_definition(f"{cluster}-web"), desired=1)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **sandbox.env()}
    listed = json.loads(subprocess.run(
        [cli, "ecs", "list-service-deployments", "--cluster", cluster, "--service", "web", "--output", "json"],
        env=env, check=True, capture_output=True, text=True, timeout=60).stdout)
    arn = listed["serviceDeployments"][0]["serviceDeploymentArn"]
    described = json.loads(subprocess.run(
        [cli, "ecs", "describe-service-deployments", "--service-deployment-arns", arn, "--output", "json"],
        env=env, check=True, capture_output=True, text=True, timeout=60).stdout)
    assert described["serviceDeployments"][0]["serviceDeploymentArn"] == arn
