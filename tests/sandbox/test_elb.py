"""The sandbox's forwarding load balancers without Docker: the simulated runtime (whose tasks are never
connected to), loopback HTTP servers of the test's own as targets, and the routing rules as pure functions.
Every request goes to 127.0.0.0/8; a recorder on socket.connect (passing every call through) proves it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from ci_ecs.sandbox import Sandbox
from ci_ecs.sandbox.elb import routing
from ci_ecs.sandbox.elb.health import PASSED, Outcome, TargetState, matcher_accepts

REGION = "us-east-1"
TEST_NET_3 = ipaddress.ip_network("203.0.113.0/24")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # A minute of 0.6 s: an AWS second is 0.01 s (health check intervals, deregistration delays).
    with Sandbox(task_start_seconds=0.2, validate_responses=True, start_registry=False, minute_seconds=0.6) as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _client(sandbox: Sandbox, name: str) -> Any:
    return boto3.client(name, endpoint_url=sandbox.endpoint_url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address this process connects a TCP socket to (the call itself goes through unchanged)."""
    seen: list[str] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            seen.append(str(address[0]))
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with opener.open(request, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


def _wait(condition: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status = 200 if self.path != "/health" or self.server.healthy else 500  # type: ignore[attr-defined]
        body = f"{self.server.word} {self.path} {self.headers.get('X-Forwarded-For')}".encode()  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.fixture
def page_server() -> Iterator[Callable[..., int]]:
    """Starts loopback HTTP servers answering '<word> <path> <X-Forwarded-For>'; /health fails when unhealthy."""
    servers: list[ThreadingHTTPServer] = []

    def start(word: str, healthy: bool = True, address: str = "127.0.0.1") -> int:
        server = ThreadingHTTPServer((address, 0), _Page)
        server.word, server.healthy = word, healthy  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Balancer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.elbv2 = _client(sandbox, "elbv2")
        ec2 = _client(sandbox, "ec2")
        self.vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        self.subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        self.lb = self.elbv2.create_load_balancer(Name=f"lb-{time.monotonic_ns() % 10**8}",
                                                  Subnets=self.subnets)["LoadBalancers"][0]
        self.dns = str(self.lb["DNSName"])

    def group(self, name: str, port: int = 80, **health: Any) -> str:
        return str(self.elbv2.create_target_group(Name=f"{name}-{time.monotonic_ns() % 10**8}", Protocol="HTTP",
                                                  Port=port, VpcId=self.vpc, TargetType="ip",
                                                  **health)["TargetGroups"][0]["TargetGroupArn"])

    def listen(self, group: str, port: int = 80) -> str:
        return str(self.elbv2.create_listener(LoadBalancerArn=self.lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                              DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
                                              )["Listeners"][0]["ListenerArn"])

    def states(self, group: str) -> dict[str, str]:
        found = self.elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return {f"{h['Target']['Id']}:{h['Target']['Port']}": h["TargetHealth"]["State"] for h in found}


def test_simulated_tasks_are_registered_reported_healthy_and_never_connected_to(
        sandbox: Sandbox, connections: list[str]) -> None:
    balancer = Balancer(sandbox)
    group = balancer.group("sim")
    balancer.listen(group)
    ecs = _client(sandbox, "ecs")
    cluster = f"sim-{time.monotonic_ns() % 10**8}"
    ecs.create_cluster(clusterName=cluster)
    family = ecs.register_task_definition(
        family=cluster, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=family, desiredCount=2,
                       launchType="FARGATE",
                       loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 80}],
                       networkConfiguration={"awsvpcConfiguration": {"subnets": balancer.subnets,
                                                                     "assignPublicIp": "ENABLED"}})

    def completed() -> bool:
        service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
        return bool(service["deployments"][0]["rolloutState"] == "COMPLETED")

    _wait(completed)
    tasks = ecs.describe_tasks(cluster=cluster, tasks=ecs.list_tasks(cluster=cluster)["taskArns"])["tasks"]
    private = {d["value"] for t in tasks for d in t["attachments"][0]["details"] if d["name"] == "privateIPv4Address"}
    assert balancer.states(group) == {f"{ip}:80": "healthy" for ip in private}  # the simulated health
    assert _get(f"http://{balancer.dns}/")[0] == 503  # nothing answers for a simulated task

    ecs.stop_task(cluster=cluster, task=tasks[0]["taskArn"])
    assert "draining" in balancer.states(group).values()
    _wait(lambda: ecs.describe_tasks(cluster=cluster, tasks=[tasks[0]["taskArn"]])["tasks"][0]["lastStatus"]
          == "STOPPED")

    assert connections  # the recorder saw this test's own calls
    assert not [a for a in connections if ipaddress.ip_address(a) in TEST_NET_3]
    assert all(ipaddress.ip_address(a).is_loopback for a in connections), set(connections)


def test_routing_health_fail_open_and_alb_errors(sandbox: Sandbox, page_server: Callable[..., int],
                                                 connections: list[str]) -> None:
    balancer = Balancer(sandbox)
    # moto keys a group's targets by Id: one address per target (127.0.0.2 is loopback too).
    good, sick = page_server("good"), page_server("sick", False, "127.0.0.2")
    group = balancer.group("web", HealthCheckPath="/health", HealthyThresholdCount=2, UnhealthyThresholdCount=2)
    listener = balancer.listen(group, port=8080)
    balancer.elbv2.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old/*"]}}], Actions=[
        {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", "Path": "/new"}}])
    url = f"http://{balancer.dns}:8080"
    assert _get(url)[0] == 503  # no registered target

    balancer.elbv2.register_targets(TargetGroupArn=group, Targets=[
        {"Id": "127.0.0.1", "Port": good}, {"Id": "127.0.0.2", "Port": sick}])
    _wait(lambda: balancer.states(group) == {f"127.0.0.1:{good}": "healthy", f"127.0.0.2:{sick}": "unhealthy"})
    answers = {_get(f"{url}/x")[1] for _ in range(6)}
    assert answers == {"good /x 127.0.0.1"}  # only the healthy target; X-Forwarded-For is the client

    balancer.elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.1", "Port": good}])
    _wait(lambda: f"127.0.0.1:{good}" not in balancer.states(group))  # drained (300 s × 0.01)
    assert _get(f"{url}/x") == (200, "sick /x 127.0.0.1")  # only unhealthy targets: ALB fails open
    assert [_get(f"{url}/x")[0] for _ in range(3)] == [200, 200, 200]

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # a port nothing listens on
    balancer.elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.2", "Port": sick}])
    balancer.elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.1", "Port": port}])
    _wait(lambda: balancer.states(group) == {f"127.0.0.1:{port}": "unhealthy"})
    assert _get(f"{url}/x")[0] == 502  # the target refuses the connection

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{url}/old/page?a=1", timeout=5)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"] == f"http://{balancer.dns}:8080/new?a=1"
    assert all(ipaddress.ip_address(a).is_loopback for a in connections)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_a_listener_follows_delete_and_the_dns_name_is_its_address(sandbox: Sandbox,
                                                                   page_server: Callable[..., int]) -> None:
    balancer = Balancer(sandbox)
    assert ipaddress.ip_address(balancer.dns).is_loopback
    group = balancer.group("gone")
    listener = balancer.listen(group, port=8081)
    assert sandbox.load_balancer_endpoints()[balancer.dns] == {8081: f"http://{balancer.dns}:8081"}
    balancer.elbv2.delete_listener(ListenerArn=listener)
    with pytest.raises(urllib.error.URLError):
        _get(f"http://{balancer.dns}:8081/")


def test_a_listener_whose_port_is_taken_answers_on_a_free_port_it_reports(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    balancer = Balancer(sandbox)
    squatter = socket.socket()
    squatter.bind((balancer.dns, 8082))  # another program holds the port on that address
    squatter.listen()
    try:
        balancer.elbv2.create_listener(
            LoadBalancerArn=balancer.lb["LoadBalancerArn"], Protocol="HTTP", Port=8082, DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "mapped"}}])
        url = sandbox.load_balancer_endpoints()[balancer.dns][8082]
        assert url.startswith(f"http://{balancer.dns}:") and not url.endswith(":8082")
        assert _get(f"{url}/") == (200, "mapped")
        assert f"the listener answers on {url}" in caplog.text
    finally:
        squatter.close()


# ------------------------------------------------------------------------- pure: rules and health


@pytest.mark.parametrize(("conditions", "request_", "matches"), [
    ([{"Field": "host-header", "Values": ["*.example.com"]}], routing.Request("GET", "A.Example.COM", "/"), True),
    ([{"Field": "host-header", "Values": ["*.example.com"]}], routing.Request("GET", "example.com", "/"), False),
    ([{"Field": "path-pattern", "Values": ["/api/?/*"]}], routing.Request("GET", "h", "/api/v/x"), True),
    ([{"Field": "path-pattern", "Values": ["/api/*"]}], routing.Request("GET", "h", "/API/x"), False),
    ([{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}],
     routing.Request("GET", "h", "/"), False),
    ([{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["b*"]}}],
     routing.Request("GET", "h", "/", headers={"x-env": "Beta"}), True),
    ([{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}],
     routing.Request("GET", "h", "/", query="a=1&v=2"), True),
    ([{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
     routing.Request("GET", "h", "/", source_ip="127.0.0.1"), False),
    # Conditions of a rule all have to match.
    ([{"Field": "host-header", "Values": ["a.example.com"]}, {"Field": "path-pattern", "Values": ["/x"]}],
     routing.Request("GET", "a.example.com", "/y"), False),
])
def test_rule_conditions(conditions: list[dict[str, Any]], request_: routing.Request, matches: bool) -> None:
    rule = type("Rule", (), {"priority": 1, "conditions": conditions})()
    assert (routing.choose_rule([rule], request_) is rule) is matches


def test_rules_in_priority_order_default_last() -> None:
    def rule(priority: Any, host: str | None) -> Any:
        conditions = [{"Field": "host-header", "Values": [host]}] if host else []
        return type("Rule", (), {"priority": priority, "conditions": conditions})()

    default, broad, narrow = rule("default", None), rule(20, "*.example.com"), rule(3, "a.example.com")
    rules = [default, broad, narrow]
    assert routing.choose_rule(rules, routing.Request("GET", "a.example.com", "/")) is narrow
    assert routing.choose_rule(rules, routing.Request("GET", "b.example.com", "/")) is broad
    assert routing.choose_rule(rules, routing.Request("GET", "other", "/")) is default


def test_weighted_forward_in_proportion() -> None:
    import random

    rng = random.Random(7)
    picks = [routing.pick_target_group([("blue", 90), ("green", 10)], rng) for _ in range(2000)]
    assert 0.85 < picks.count("blue") / len(picks) < 0.95
    assert routing.pick_target_group([("blue", 0), ("green", 0)]) is None


def test_target_health_transitions() -> None:
    state = TargetState("tg", "10.0.0.1", 80)
    failed = Outcome(False, "Target.Timeout", "Request timed out")
    state.record(PASSED, healthy_threshold=5, unhealthy_threshold=2)
    assert state.state == "healthy"  # a new target passes one check to be healthy
    state.record(failed, 5, 2)
    assert state.state == "healthy"
    state.record(failed, 5, 2)
    assert (state.state, state.reason) == ("unhealthy", "Target.Timeout")
    for _ in range(4):
        state.record(PASSED, 5, 2)
    assert state.state == "unhealthy"
    state.record(PASSED, 5, 2)
    assert state.state == "healthy"
    assert [matcher_accepts("200-299", s) for s in (200, 299, 300)] == [True, True, False]


def test_delete_rule_answers_as_elb_does_and_a_forwarded_group_is_in_use(sandbox: Sandbox) -> None:
    """ELB API reference: DeleteRule answers RuleNotFound for a rule that does not exist and OperationNotPermitted
    for a listener's default rule (moto returned quietly for both); DeleteTargetGroup answers ResourceInUse while a
    rule forwards to the group, and deletes it once the rule is gone."""
    import botocore.exceptions

    elbv2, ec2 = _client(sandbox, "elbv2"), _client(sandbox, "ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    lb = elbv2.create_load_balancer(Name="rules-delete", Subnets=subnets)["LoadBalancers"][0]
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
    group = elbv2.create_target_group(Name="rules-delete", Protocol="HTTP", Port=80, VpcId=lb["VpcId"],
                                      TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    rule = elbv2.create_rule(ListenerArn=listener, Priority=5, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}])["Rules"][0]["RuleArn"]
    default = next(r["RuleArn"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if r["IsDefault"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        elbv2.delete_rule(RuleArn=default)
    assert caught.value.response["Error"]["Code"] == "OperationNotPermitted"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        elbv2.delete_target_group(TargetGroupArn=group)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    elbv2.delete_rule(RuleArn=rule)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        elbv2.delete_rule(RuleArn=rule)
    assert caught.value.response["Error"]["Code"] == "RuleNotFound"
    elbv2.delete_target_group(TargetGroupArn=group)
    # DeleteTargetGroup's documented errors are ResourceInUse only: a group deleted already is no error
    elbv2.delete_target_group(TargetGroupArn=group)
    assert [r["IsDefault"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"]] == [True]


@pytest.mark.parametrize(("host", "priority"), [
    ("pr-1.example.c0m", 7),      # only letters after the last "."
    ("pr-1", 7),                  # at least one "."
    ("pr_1.example.com", 7),      # not a character host conditions take
    ("a" * 125 + ".com", 7),      # 129 characters (moto's own check)
    ("pr-1.example.com", 50001),  # priority beyond 50000
])
def test_create_rule_refuses_what_elb_refuses(sandbox: Sandbox, host: str, priority: int) -> None:
    """ELB API reference: HostHeaderConditionConfig.Values (at most 128 characters, a '.', only letters after the last
    one; the user guide's characters) and CreateRule's Priority range 1-50000: ValidationError, no rule made."""
    import botocore.exceptions

    elbv2, ec2 = _client(sandbox, "elbv2"), _client(sandbox, "ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    name = f"refuse-{priority}-{len(host)}-{host[:4].replace('_', 'u').replace('.', 'd')}"
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        elbv2.create_rule(ListenerArn=listener, Priority=priority, Conditions=[
            {"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert [r["IsDefault"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"]] == [True]
    elbv2.create_rule(ListenerArn=listener, Priority=7, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["pr-1.Example.com", "*.example.com"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
