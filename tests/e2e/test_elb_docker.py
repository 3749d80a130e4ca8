"""Load balancers that forward, on the sandbox's docker runtime: real containers behind the sandbox's
ALB, reached only through the load balancer's loopback address (its DNSName). Every check is a real
HTTP request through the listener; traffic goes only to 127.0.0.0/8.

- a service behind an ALB answers through the DNSName, `ci-ecs deploy`'s verify fetches through it,
  DescribeTargetHealth reports the tasks' private IPs as healthy;
- two host-header rules route to two services;
- after a blue/green deploy of a new image, every request through the listener gets the new page;
- a stopped task drains (deregistration delay) and gets no requests meanwhile, then leaves the group.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool

pytestmark = [pytest.mark.docker, pytest.mark.registry]

REGION = "us-east-1"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRole"
MINUTE_SECONDS = 6.0  # one AWS second is 0.1 s here: health check intervals, deregistration delays, bake times
# The page: the image's own /www/index.html, then the task's hostname (its container id) on a line.
PAGE_SCRIPT = 'hostname >> index.html && exec /bin/busybox httpd -f -p 80 -h .'


def _image(docker_client: Any, context: Path, page: str, tag: str) -> str:
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, context / "busybox")
    (context / "index.html").write_text(page + "\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n"
                                        "COPY index.html /www/index.html\n")
    docker_client.images.build(path=str(context), tag=tag, rm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str]) -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="docker",
                 docker_host=docker_env["DOCKER_HOST"], minute_seconds=MINUTE_SECONDS) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


@pytest.fixture(scope="module")
def pages(sandbox: Sandbox, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Three images in the sandbox's ECR, each with a page of its own: {page: image URI}."""
    if sandbox.registry is None:
        require_tool("docker-registry")
        pytest.fail(f"the sandbox has no registry: {sandbox.registry_note}")
    uri = _client(sandbox, "ecr").create_repository(repositoryName="elb-pages")["repository"]["repositoryUri"]
    out = {}
    for page in ("alpha", "beta", "gamma"):
        local = _image(docker_client, tmp_path_factory.mktemp(f"page-{page}"), page, f"ci-ecs-elb-test/{page}:1")
        docker_client.images.get(local).tag(uri, page)
        docker_client.images.push(uri, page)
        out[page] = f"{uri}:{page}"
    return out


def _client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    address = urllib.parse.urlsplit(url).hostname or ""
    assert ipaddress.ip_address(address).is_loopback, url  # never anything but 127.0.0.0/8
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with opener.open(request, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


class Balancer:
    """An ALB with an HTTP :80 listener whose default action is a fixed 404, made with boto3."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.elbv2 = _client(sandbox, "elbv2")
        ec2 = _client(sandbox, "ec2")
        self.vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        self.suffix = uuid.uuid4().hex[:6]
        self.lb = self.elbv2.create_load_balancer(Name=f"lb-{self.suffix}", Subnets=subnets)["LoadBalancers"][0]
        self.dns = str(self.lb["DNSName"])
        self.listener = self.elbv2.create_listener(
            LoadBalancerArn=self.lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no rule"}}])["Listeners"][0]
        self.priority = 0

    def target_group(self, name: str, delay_seconds: int = 10) -> str:
        arn = str(self.elbv2.create_target_group(
            Name=f"{name}-{self.suffix}", Protocol="HTTP", Port=80, VpcId=self.vpc, TargetType="ip",
            HealthCheckPath="/index.html", HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=5,
        )["TargetGroups"][0]["TargetGroupArn"])
        self.elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay_seconds)}])
        return arn

    def rule(self, conditions: list[dict[str, Any]], groups: dict[str, int]) -> str:
        self.priority += 1
        return str(self.elbv2.create_rule(
            ListenerArn=self.listener["ListenerArn"], Priority=self.priority, Conditions=conditions,
            Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups.items()]}}],
        )["Rules"][0]["RuleArn"])

    def health(self, group: str) -> list[dict[str, Any]]:
        return list(self.elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"])

    def pages(self, count: int, host: str | None = None) -> list[str]:
        """The first line of `count` answers through the listener (the image's page)."""
        out = []
        for _ in range(count):
            status, body = _get(f"http://{self.dns}/", host)
            assert status == 200, (status, body)
            out.append(body.splitlines()[0])
        return out


class Deploys:
    """Configs for one cluster, deployed with the real `ci-ecs` command against the docker sandbox."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.cluster = f"e-{uuid.uuid4().hex[:8]}"
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith(("AWS_", "CI_ECS_")) and k.lower() not in ("http_proxy", "https_proxy")},
                    **sandbox.env(), "HOME": str(tmp_path), "NO_PROXY": "*"}
        self.ecs = _client(sandbox, "ecs")

    def config(self, service: str, load_balancers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        container = {"name": "web", "entry_point": ["/bin/sh", "-c"], "command": [PAGE_SCRIPT],
                     "working_dir": "/www", "port_mappings": [{"container_port": 80}], "stop_timeout": 2}
        return {
            "region": REGION,
            "cluster": self.cluster,
            "task": {"family": f"{self.cluster}-{service}", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"], "execution_role_arn": EXECUTION_ROLE,
                     "containers": [container]},
            "service": {"name": service, "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True,
                        "load_balancers": load_balancers, **extra},
            "verify": {"within": 20, "timeout": 3, "path": "/index.html"},
            "deploy": {"timeout": 120, "stable_seconds": 0},
        }

    def run(self, config: dict[str, Any], image: str) -> Run:
        path = self.tmp_path / "ci-ecs.yml"
        path.write_text(yaml.safe_dump(config))
        completed = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image", image,
                                    "--output", "json"],
                                   env=self.env, capture_output=True, text=True, timeout=240)
        sys.stderr.write(completed.stderr)
        return Run(completed.returncode, completed.stdout, completed.stderr)

    def tasks(self, service: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName=service)["taskArns"]
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]) if arns else []


@pytest.fixture
def deploys(sandbox: Sandbox, tmp_path: Path) -> Deploys:
    return Deploys(sandbox, tmp_path)


def _forward(group: str) -> list[dict[str, Any]]:
    return [{"target_group_arn": group, "container_name": "web", "container_port": 80}]


def test_a_service_behind_an_alb_answers_through_its_dns_name(deploys: Deploys, pages: dict[str, str]) -> None:
    balancer = Balancer(deploys.sandbox)
    assert ipaddress.ip_address(balancer.dns).is_loopback  # the DNSName is the address: curl works as is
    group = balancer.target_group("web")
    balancer.rule([{"Field": "path-pattern", "Values": ["/*"]}], {group: 1})

    run = deploys.run(deploys.config("web", _forward(group)), pages["alpha"])

    assert run.code == 0, run.stderr
    assert run.json["loadBalancerDns"] == balancer.dns
    assert "probing the load balancer" in run.stderr  # verify fetched through the load balancer
    tasks = [t for t in deploys.tasks("web") if t["lastStatus"] == "RUNNING"]
    private_ips = sorted(d["value"] for t in tasks for d in t["attachments"][0]["details"]
                         if d["name"] == "privateIPv4Address")
    health = balancer.health(group)
    assert sorted(h["Target"]["Id"] for h in health) == private_ips  # ECS registers the ENI's private IP
    assert {h["Target"]["Port"] for h in health} == {80}
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    answers = [_get(f"http://{balancer.dns}/")[1].splitlines() for _ in range(6)]
    assert {lines[0] for lines in answers} == {"alpha"}
    assert len({lines[1] for lines in answers}) == 2  # both tasks answer (round robin)


def test_two_host_header_rules_route_to_two_services(deploys: Deploys, pages: dict[str, str]) -> None:
    balancer = Balancer(deploys.sandbox)
    first, second = balancer.target_group("one"), balancer.target_group("two")
    balancer.rule([{"Field": "host-header", "HostHeaderConfig": {"Values": ["one.example.com"]}}], {first: 1})
    balancer.rule([{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.two.example.com"]}}], {second: 1})

    for service, group, page in (("one", first, "alpha"), ("two", second, "beta")):
        config = deploys.config(service, _forward(group))
        del config["verify"]  # verify fetches the DNS name without a Host header: the default rule's 404
        assert deploys.run(config, pages[page]).code == 0

    assert set(balancer.pages(4, host="one.example.com")) == {"alpha"}
    assert set(balancer.pages(4, host="pr-7.TWO.example.com")) == {"beta"}  # wildcard, any case
    assert _get(f"http://{balancer.dns}/", "three.example.com") == (404, "no rule")  # the default action


def test_blue_green_serves_only_the_new_image_after_the_shift(deploys: Deploys, pages: dict[str, str]) -> None:
    balancer = Balancer(deploys.sandbox)
    blue, green = balancer.target_group("blue", delay_seconds=5), balancer.target_group("green", delay_seconds=5)
    production = balancer.rule([{"Field": "path-pattern", "Values": ["/*"]}], {blue: 100, green: 0})
    load_balancers = [{**_forward(blue)[0], "advanced": {
        "alternate_target_group_arn": green, "production_listener_rule": production, "role_arn": INFRA_ROLE}}]
    config = deploys.config("web", load_balancers, strategy="BLUE_GREEN", bake_time_minutes=0)
    assert deploys.run(config, pages["alpha"]).code == 0
    assert set(balancer.pages(10)) == {"alpha"}

    run = deploys.run(config, pages["gamma"])

    assert run.code == 0, run.stderr
    assert run.json["serviceDeploymentStatus"] == "SUCCESSFUL"
    assert set(balancer.pages(30)) == {"gamma"}  # real requests, not the listener's weights
    weights = balancer.elbv2.describe_rules(RuleArns=[production])["Rules"][0]["Actions"][0]
    shifted_to = [g["TargetGroupArn"] for g in weights["ForwardConfig"]["TargetGroups"] if g["Weight"] == 100]
    new_ips = sorted(d["value"] for t in deploys.tasks("web") if t["lastStatus"] == "RUNNING"
                     for d in t["attachments"][0]["details"] if d["name"] == "privateIPv4Address")
    serving = [h for h in balancer.health(shifted_to[0]) if h["TargetHealth"]["State"] == "healthy"]
    assert sorted(h["Target"]["Id"] for h in serving) == new_ips  # green's targets are the new tasks


def test_a_stopped_task_drains_and_gets_no_more_requests(deploys: Deploys, pages: dict[str, str]) -> None:
    balancer = Balancer(deploys.sandbox)
    group = balancer.target_group("drain", delay_seconds=40)  # 4 s here
    balancer.rule([{"Field": "path-pattern", "Values": ["/*"]}], {group: 1})
    assert deploys.run(deploys.config("web", _forward(group)), pages["alpha"]).code == 0
    tasks = [t for t in deploys.tasks("web") if t["lastStatus"] == "RUNNING"]
    victim = tasks[0]
    victim_ip = next(d["value"] for d in victim["attachments"][0]["details"] if d["name"] == "privateIPv4Address")
    victim_host = victim["containers"][0]["runtimeId"][:12]  # the container's hostname, on the page
    answers = {_get(f"http://{balancer.dns}/")[1].splitlines()[1] for _ in range(6)}
    assert victim_host in answers

    deploys.ecs.stop_task(cluster=deploys.cluster, task=victim["taskArn"], reason="drain test")
    started = time.monotonic()

    state = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in balancer.health(group)}
    assert state[victim_ip] == "draining"
    described = deploys.ecs.describe_tasks(cluster=deploys.cluster, tasks=[victim["taskArn"]])["tasks"][0]
    assert (described["desiredStatus"], described["lastStatus"]) == ("STOPPED", "DEACTIVATING")
    answers = {_get(f"http://{balancer.dns}/")[1].splitlines()[1] for _ in range(10)}
    assert victim_host not in answers  # draining: no new requests...
    eni_id = next(d["value"] for d in victim["attachments"][0]["details"] if d["name"] == "networkInterfaceId")
    eni = _client(deploys.sandbox, "ec2").describe_network_interfaces(NetworkInterfaceIds=[eni_id])
    address = eni["NetworkInterfaces"][0]["Association"]["PublicIp"]
    assert _get(f"http://{address}/")[1].splitlines()[1] == victim_host  # ...while its container still runs
    assert time.monotonic() - started < 3.5, "the checks above took longer than the delay"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = deploys.ecs.describe_tasks(cluster=deploys.cluster, tasks=[victim["taskArn"]])["tasks"][0]
        if described["lastStatus"] == "STOPPED":
            break
        time.sleep(0.2)
    assert described["lastStatus"] == "STOPPED"
    assert time.monotonic() - started >= 3.5  # not before the deregistration delay (40 s × 0.1)
    assert victim_ip not in {h["Target"]["Id"] for h in balancer.health(group)}
    assert described["stoppedReason"] == "drain test"


def test_a_task_failing_the_load_balancers_health_checks_is_replaced(deploys: Deploys, pages: dict[str, str]) -> None:
    balancer = Balancer(deploys.sandbox)
    group = balancer.target_group("sick")
    balancer.elbv2.modify_target_group(TargetGroupArn=group, HealthCheckPath="/missing")  # busybox httpd: 404
    balancer.rule([{"Field": "path-pattern", "Values": ["/*"]}], {group: 1})
    config = deploys.config("web", _forward(group), circuit_breaker={"enable": True, "rollback": False})
    del config["verify"]

    run = deploys.run(config, pages["alpha"])

    assert run.code == 1, run.stderr  # the tasks never pass: ECS's circuit breaker fails the deployment
    stopped = deploys.ecs.list_tasks(cluster=deploys.cluster, serviceName="web", desiredStatus="STOPPED")["taskArns"]
    reasons = {t["stoppedReason"] for t in deploys.ecs.describe_tasks(cluster=deploys.cluster,
                                                                       tasks=stopped)["tasks"]}
    assert f"Task failed ELB health checks in (target-group {group})" in reasons
    states = {h["TargetHealth"].get("Reason") for h in balancer.health(group)
              if h["TargetHealth"]["State"] == "unhealthy"}
    assert states <= {"Target.ResponseCodeMismatch"}
