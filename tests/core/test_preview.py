"""`ci-ecs preview` (issue 25 item 3): names, durations and the `preview:` config (pure), and the real command on
the simulated sandbox: idempotent up, down of nothing, and the failure paths (bad id, bad host, a full priority
range, resources of the preview's name without its tag), each exit 2 with nothing written (sandbox request log)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.config.preview import PreviewConfig
from ci_ecs.errors import ConfigError
from ci_ecs.preview.naming import (
    PREVIEW_TAG,
    age_text,
    check_id,
    check_name_length,
    parse_duration,
    render_host,
    target_group_name,
)
from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool

REGION = "us-east-1"
WRITES = ("Create", "Update", "Register", "Deregister", "Delete", "Put", "Tag", "Untag", "Modify", "Stop", "Run",
          "Add", "Remove", "Set")


# ---------------------------------------------------------------------------------------------- pure


@pytest.mark.parametrize("good", ["42", "feature-login", "A1", "a" * 63])
def test_ids_a_pull_request_number_or_a_branch_slug(good: str) -> None:
    assert check_id(good) == good


@pytest.mark.parametrize("bad", ["", "-42", "42-", "feature/login", "a_b", "a.b", "a" * 64, "pr 1"])
def test_bad_ids_are_config_errors_naming_id(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_id(bad)
    assert caught.value.key == "--id"


def test_target_group_names_fit_32_characters_and_differ_per_cluster_service_and_id() -> None:
    names = {target_group_name(cluster, service, preview_id)
             for cluster in ("c1", "c2") for service in ("web", "api") for preview_id in ("7", "a" * 63)}
    assert len(names) == 8
    for name in names:
        assert len(name) <= 32 and name.startswith("pr-") and not name.endswith("-") and "--" not in name


def test_a_name_longer_than_ecs_takes_is_refused_naming_id() -> None:
    assert check_name_length("web", "42", "service") == "web-pr-42"
    with pytest.raises(ConfigError) as caught:
        check_name_length("s" * 250, "42", "service")
    assert caught.value.key == "--id" and "255" in caught.value.message


@pytest.mark.parametrize(("template", "problem"), [
    ("pr-{id}.example.c0m", "only letters may follow the last '.'"),
    ("pr-{id}", "at least one '.'"),
    ("pr_{id}.example.com", "only letters, digits"),
    ("*.{id}.example.com", "only letters, digits"),
    ("pr-{id}." + "a" * 60 + "." + "b" * 60 + ".com", "at most 128"),
    ("pr-{id}..example.com", "1 to 63 characters"),
])
def test_host_templates_are_checked_as_elb_checks_host_header_values(template: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        render_host(template, "42")
    assert caught.value.key == "preview.host" and problem in caught.value.message


def test_hosts_are_lower_case() -> None:
    assert render_host("PR-{id}.Preview.Example.com", "Feature-X") == "pr-feature-x.preview.example.com"


@pytest.mark.parametrize(("text", "seconds"), [("0s", 0), ("90m", 5400), ("72h", 259200), ("3d", 259200),
                                               ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "3", "3w", "-1h", "h"])
def test_bad_durations_name_older_than(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration(bad)
    assert caught.value.key == "--older-than"


def test_age_text() -> None:
    assert [age_text(s) for s in (5, 60, 7200, 90000)] == ["5s", "1m", "2h", "1d"]


LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2"


@pytest.mark.parametrize(("section", "message"), [
    ({"listener_arn": LISTENER, "host": "pr.example.com"}, "has no {id}"),
    ({"listener_arn": LISTENER}, "preview.listener_arn needs preview.host"),
    ({"host": "pr-{id}.example.com"}, "preview.host needs preview.listener_arn"),
    ({"listener_arn": LISTENER, "host": "pr-{id}.example.com", "priority": {"min": 10, "max": 9}}, "below"),
    ({"listener_arn": LISTENER, "host": "pr-{id}.example.com", "priority": {"min": 0, "max": 9}}, "min"),
    ({"listener_arn": LISTENER, "host": "pr-{id}.example.com", "priority": {"min": 1, "max": 50001}}, "max"),
    ({"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1", "host": "a.{id}.com"},
     "listener_arn"),
    ({"ttl_hours": 0}, "ttl_hours"),
])
def test_bad_preview_sections(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        PreviewConfig.model_validate(section)
    assert message in str(caught.value)


def test_a_preview_section_round_trips_with_its_defaults() -> None:
    preview = PreviewConfig.model_validate(yaml.safe_load(
        f"listener_arn: {LISTENER}\nhost: pr-{{id}}.preview.example.com\npriority: {{min: 1000, max: 1999}}\n"))
    assert (preview.priority.min, preview.priority.max, preview.ttl_hours, preview.desired_count) == \
        (1000, 1999, 72.0, None)


# ---------------------------------------------------------------------------------------------- sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.2, validate_responses=True,
                 runtime="simulated") as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test")


class Previews:
    """One cluster, one shared ALB listener, and the real `ci-ecs preview` command."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path, priority: dict[str, int] | None = None) -> None:
        self.sandbox, self.tmp_path = sandbox, tmp_path
        self.elb, ec2 = _client(sandbox, "elbv2"), _client(sandbox, "ec2")
        self.ecs = _client(sandbox, "ecs")
        self.cluster = f"p-{uuid.uuid4().hex[:8]}"
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        lb = self.elb.create_load_balancer(Name=f"lb-{self.cluster}", Subnets=subnets)["LoadBalancers"][0]
        listener = self.elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]
        self.listener = str(listener["ListenerArn"])
        self.config = {
            "region": REGION, "cluster": self.cluster,
            "task": {"family": "web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"],
                     "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     "containers": [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                     "port_mappings": [{"container_port": 80}]}]},
            "service": {"name": "web", "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True},
            "preview": {"listener_arn": self.listener, "host": "pr-{id}.preview.example.com",
                        "priority": priority or {"min": 100, "max": 199}, "desired_count": 1},
            "deploy": {"timeout": 60, "stable_seconds": 0},
        }

    def run(self, *args: str, config: dict[str, Any] | None = None, endpoint: str | None = None) -> Run:
        (self.tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config or self.config))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))},
               **self.sandbox.env(), "HOME": str(self.tmp_path)}
        if endpoint is not None:
            env["AWS_ENDPOINT_URL"] = endpoint
        ci_ecs = require_tool("ci-ecs", Path(sys.executable).parent / "ci-ecs")
        done = subprocess.run([ci_ecs, "preview", *args, "-c", "ci-ecs.yml"], cwd=self.tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        sys.stderr.write(done.stderr)
        return Run(done.returncode, done.stdout, done.stderr)

    def writes(self) -> list[str]:
        return [f"{c.service}:{c.operation}" for c in self.sandbox.request_log if c.operation.startswith(WRITES)]

    def rules(self) -> list[dict[str, Any]]:
        return [r for r in self.elb.describe_rules(ListenerArn=self.listener)["Rules"] if not r["IsDefault"]]


@pytest.fixture
def previews(sandbox: Sandbox, tmp_path: Path) -> Previews:
    return Previews(sandbox, tmp_path)


def test_up_twice_writes_nothing_the_second_time_and_down_removes_everything(previews: Previews) -> None:
    first = previews.run("up", "--id", "7", "--output", "json")
    assert first.code == 0, first.stderr
    assert first.json["previewId"] == "7" and first.json["previewUrl"] == "http://pr-7.preview.example.com"
    assert first.json["service"] == "web-pr-7" and first.json["serviceAction"] == "created"
    service = previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-7"],
                                             include=["TAGS"])["services"][0]
    tags = {t["key"]: t["value"] for t in service["tags"]}
    assert tags[PREVIEW_TAG] == "7" and tags["ci-ecs:preview-created"].endswith("Z")
    assert service["desiredCount"] == 1 and service["propagateTags"] == "SERVICE"
    [rule] = previews.rules()
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == ["pr-7.preview.example.com"]
    assert rule["Priority"] == "100"

    previews.sandbox.clear_request_log()
    second = previews.run("up", "--id", "7", "--output", "json")
    assert second.code == 0, second.stderr
    assert previews.writes() == [] and second.json["serviceAction"] == "unchanged"
    after = previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-7"],
                                           include=["TAGS"])["services"][0]
    assert {t["key"]: t["value"] for t in after["tags"]} == tags  # the creation time is never rewritten

    listed = previews.run("list", "--output", "json")
    assert [(p["id"], p["service"], p["url"]) for p in listed.json["previews"]] == \
        [("7", "web-pr-7", "http://pr-7.preview.example.com")]

    down = previews.run("down", "--id", "7", "--output", "json")
    assert down.code == 0, down.stderr
    assert sorted(r["type"] for r in down.json["removed"]) == \
        ["listenerRule", "service", "targetGroup", "taskDefinition"]
    assert previews.rules() == []
    assert previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-7"])["services"][0][
        "status"] == "INACTIVE"
    assert previews.ecs.list_task_definitions(familyPrefix="web-pr-7", status="ACTIVE")["taskDefinitionArns"] == []
    assert not [g for g in previews.elb.describe_target_groups()["TargetGroups"]
                if g["TargetGroupName"].startswith("pr-7-")]
    assert previews.run("list", "--output", "json").json["previews"] == []


def test_down_ends_at_its_timeout_when_aws_does_not_answer(previews: Previews) -> None:
    """`--timeout` bounds down as it bounds deploy: a DeleteRule the proxy holds for 30 s ends the run at the
    timeout, exit 4 (before, down set no deadline and waited for the answer)."""
    from tests.e2e.proxy import FaultProxy

    assert previews.run("up", "--id", "9").code == 0
    with FaultProxy(previews.sandbox.endpoint_url) as proxy:
        proxy.add("DeleteRule", "delay", seconds=30, calls={1})
        started = time.monotonic()
        down = previews.run("down", "--id", "9", "--timeout", "3", "--output", "json", endpoint=proxy.url)
        seconds = time.monotonic() - started
    assert down.code == 4, down.stderr
    assert seconds < 3 + 4, f"down took {seconds:.1f} s"  # the timeout, plus the process's start and exit
    assert "Traceback" not in down.stderr
    assert previews.run("down", "--id", "9").code == 0  # what the timeout left is removed by the next down


def test_down_of_a_preview_that_is_not_there_exits_0(previews: Previews) -> None:
    previews.sandbox.clear_request_log()
    run = previews.run("down", "--id", "404", "--output", "json")
    assert run.code == 0, run.stderr
    assert run.json == {"previewId": "404", "removed": []} and previews.writes() == []


@pytest.mark.parametrize(("args", "key"), [(("--id", "feature/login"), "--id"), (("--id", "-1"), "--id")])
def test_a_bad_id_exits_2_with_nothing_written(previews: Previews, args: tuple[str, ...], key: str) -> None:
    previews.sandbox.clear_request_log()
    run = previews.run("up", *args)
    assert run.code == 2 and f"{key}:" in run.stderr and "Traceback" not in run.stderr
    assert previews.writes() == []


def test_a_bad_host_template_exits_2_with_nothing_written(previews: Previews) -> None:
    config = {**previews.config, "preview": {**previews.config["preview"], "host": "pr-{id}.example.c0m"}}
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "8", config=config)
    assert run.code == 2 and "preview.host:" in run.stderr, run.stderr
    assert previews.writes() == [] and previews.rules() == []


def test_a_full_priority_range_exits_2_with_nothing_written(sandbox: Sandbox, tmp_path: Path) -> None:
    previews = Previews(sandbox, tmp_path, priority={"min": 50, "max": 50})
    group = previews.elb.create_target_group(Name=f"other-{previews.cluster}", Protocol="HTTP", Port=80,
                                             VpcId=_client(sandbox, "ec2").describe_vpcs()["Vpcs"][0]["VpcId"],
                                             TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    previews.elb.create_rule(ListenerArn=previews.listener, Priority=50, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["other.example.com"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}])
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "9")
    assert run.code == 2 and "preview.priority:" in run.stderr, run.stderr
    assert previews.writes() == [] and len(previews.rules()) == 1


def test_a_service_of_the_preview_name_without_the_tag_is_refused_not_deleted(previews: Previews) -> None:
    ec2 = _client(previews.sandbox, "ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    previews.ecs.create_cluster(clusterName=previews.cluster)
    previews.ecs.register_task_definition(
        family="someone-else", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27"}])
    previews.ecs.create_service(cluster=previews.cluster, serviceName="web-pr-5", taskDefinition="someone-else",
                                desiredCount=1, launchType="FARGATE", networkConfiguration={
                                    "awsvpcConfiguration": {"subnets": [subnet], "assignPublicIp": "ENABLED"}})
    previews.sandbox.clear_request_log()
    up = previews.run("up", "--id", "5")
    assert up.code == 2 and "not tagged ci-ecs:preview=5" in up.stderr, up.stderr
    down = previews.run("down", "--id", "5")
    assert down.code == 2 and "not tagged ci-ecs:preview=5" in down.stderr, down.stderr
    assert previews.writes() == []
    service = previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-5"])["services"][0]
    assert service["status"] == "ACTIVE" and service["desiredCount"] == 1


def test_a_target_group_of_the_preview_name_without_the_tag_is_refused_not_deleted(previews: Previews) -> None:
    name = target_group_name(previews.cluster, "web", "6")
    vpc = _client(previews.sandbox, "ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    arn = previews.elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc,
                                           TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    previews.sandbox.clear_request_log()
    up = previews.run("up", "--id", "6")
    assert up.code == 2 and f"target group {name}" in up.stderr, up.stderr
    down = previews.run("down", "--id", "6")
    assert down.code == 2 and "not tagged ci-ecs:preview=6" in down.stderr, down.stderr
    assert previews.writes() == []
    assert previews.elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]


def test_gc_removes_previews_older_than_the_duration_only(previews: Previews) -> None:
    config = {**previews.config, "preview": {"desired_count": 1}}  # no load balancer: the task's own address
    run = previews.run("up", "--id", "11", "--output", "json", config=config)
    assert run.code == 0, run.stderr
    assert run.json["previewUrl"] == run.json["serviceUrl"] and run.json["previewUrl"].startswith("http://203.0.113.")
    kept = previews.run("gc", "--older-than", "1h", "--output", "json", config=config)
    assert kept.code == 0 and kept.json["removed"] == [] and [k["previewId"] for k in kept.json["kept"]] == ["11"]
    gone = previews.run("gc", "--older-than", "0s", "--output", "json", config=config)
    assert gone.code == 0, gone.stderr
    assert [r["previewId"] for r in gone.json["removed"]] == ["11"]
    assert previews.run("list", "--output", "json", config=config).json["previews"] == []


def test_a_bad_preview_section_exits_2_naming_its_key(previews: Previews) -> None:
    config = {**previews.config, "preview": {**previews.config["preview"], "priority": {"min": 10, "max": 9}}}
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "12", config=config)
    assert run.code == 2 and "preview.priority" in run.stderr and "below" in run.stderr, run.stderr
    assert previews.writes() == []


def test_the_preflight_reports_every_problem_at_once(previews: Previews) -> None:
    """A service name that would pass 255 characters with the id, and a host ELB refuses: both, in one run."""
    config = {**previews.config, "service": {**previews.config["service"], "name": "s" * 252},
              "preview": {**previews.config["preview"], "host": "pr-{id}.example.c0m"}}
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "13", "--output", "json", config=config)
    assert run.code == 2, run.stderr
    assert {p["key"] for p in run.json["problems"]} == {"--id", "preview.host"}
    assert previews.writes() == []


def test_a_priority_taken_meanwhile_is_priority_in_use_and_the_next_one_is_taken(
        previews: Previews, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `up` at once: the other one's rule lands on the priority this one chose between its DescribeRules and
    its CreateRule. The other rule is made for real (the sandbox answers PriorityInUse, as ELB does); a botocore
    event handler only decides when."""
    from ci_ecs.aws import ClientFactory, aws_settings
    from ci_ecs.config import load_config
    from ci_ecs.preview.up import preview_up

    for key, value in previews.sandbox.env().items():
        monkeypatch.setenv(key, value)
    (previews.tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(previews.config))
    config = load_config(str(previews.tmp_path / "ci-ecs.yml"), {})
    factory = ClientFactory(aws_settings(config))
    vpc = _client(previews.sandbox, "ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    other = previews.elb.create_target_group(Name=f"o-{previews.cluster}", Protocol="HTTP", Port=80, VpcId=vpc,
                                             TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    taken: list[int] = []

    def the_other_up(params: dict[str, Any], **_: Any) -> None:
        if not taken:
            taken.append(int(params["Priority"]))
            previews.elb.create_rule(ListenerArn=params["ListenerArn"], Priority=params["Priority"], Conditions=[
                {"Field": "host-header", "HostHeaderConfig": {"Values": ["pr-other.preview.example.com"]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": other}])

    factory.client("elbv2").meta.events.register("provide-client-params.*.CreateRule", the_other_up)
    result = preview_up(config, "21", base_dir=previews.tmp_path, factory=factory)
    assert result["previewUrl"] == "http://pr-21.preview.example.com" and taken == [100]
    hosts = {r["Priority"]: r["Conditions"][0]["HostHeaderConfig"]["Values"][0] for r in previews.rules()}
    assert hosts == {"100": "pr-other.preview.example.com", "101": "pr-21.preview.example.com"}


def test_iam_policy_covers_the_calls_previews_make(tmp_path: Path) -> None:
    from ci_ecs.iam import iam_policy

    config_path = tmp_path / "ci-ecs.yml"
    config_path.write_text(yaml.safe_dump({
        "region": REGION, "cluster": "web",
        "task": {"family": "site", "containers": [{"name": "web", "image": "nginx:1", "port_mappings": [
            {"container_port": 80}]}]},
        "service": {"name": "site"},
        "preview": {"listener_arn": LISTENER, "host": "pr-{id}.preview.example.com"}}))
    from ci_ecs.config import load_config

    policy = iam_policy(load_config(str(config_path), {}), account_id="123456789012")
    allowed: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in statement["Action"]:
            allowed.setdefault(action, set()).update(resources)
    service = "arn:aws:ecs:us-east-1:123456789012:service/web/site-pr-*"
    for action in ("ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices",
                   "ecs:ListTagsForResource", "ecs:TagResource"):
        assert service in allowed[action], action
    assert "arn:aws:ecs:us-east-1:123456789012:task-definition/site-pr-*:*" in allowed["ecs:TagResource"]
    assert allowed["ecs:DeregisterTaskDefinition"] == {"*"} and allowed["ecs:DeleteTaskDefinitions"] == {"*"}
    assert "ecs:ListServices" in allowed
    groups = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/pr-*/*"
    for action in ("elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
                   "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:AddTags"):
        assert groups in allowed[action], action
    rules = LISTENER.replace(":listener/", ":listener-rule/") + "/*"
    assert LISTENER in allowed["elasticloadbalancing:CreateRule"]
    for action in ("elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
                   "elasticloadbalancing:AddTags"):
        assert rules in allowed[action], action
    for action in ("DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeLoadBalancers",
                   "DescribeTargetGroupAttributes", "DescribeTags"):
        assert "*" in allowed[f"elasticloadbalancing:{action}"], action


def test_a_native_task_file_with_tags_of_its_own_gets_the_preview_tag_too(previews: Previews) -> None:
    """Before: a definition with tags of its own was registered without `ci-ecs:preview`, so `down` left it."""
    import json

    (previews.tmp_path / "taskdef.json").write_text(json.dumps({
        "family": "native", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
        "memory": "512", "tags": [{"key": "team", "value": "web"}],
        "containerDefinitions": [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                  "portMappings": [{"containerPort": 80}]}]}))
    config = {**previews.config, "task": {"file": "taskdef.json"}, "preview": {"desired_count": 1}}
    up = previews.run("up", "--id", "14", "--output", "json", config=config)
    assert up.code == 0, up.stderr
    tags = previews.ecs.describe_task_definition(taskDefinition=up.json["taskDefinitionArn"],
                                                 include=["TAGS"])["tags"]
    assert {t["key"]: t["value"] for t in tags} == {"team": "web", PREVIEW_TAG: "14"}
    down = previews.run("down", "--id", "14", "--output", "json", config=config)
    assert down.code == 0 and "taskDefinition" in [r["type"] for r in down.json["removed"]], down.stdout
    assert previews.ecs.list_task_definitions(familyPrefix="native-pr-14", status="ACTIVE")["taskDefinitionArns"] == []
