"""`verify`: the HTTP probe against a real HTTP server on 127.0.0.1, its config, its outputs, the IAM
permission of the log tail, and the log tail itself against moto's CloudWatch Logs.

The simulated sandbox's public IPs (203.0.113.0/24) are refused without a connection: the last test
deploys to it with `verify` and gets "address not reachable".
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ecs.config import VerifyConfig, load_config, status_ranges
from ci_ecs.errors import ConfigError
from ci_ecs.iam import iam_policy
from ci_ecs.output import write_dotenv, write_github
from ci_ecs.tails import essential_tails
from ci_ecs.verify import MAX_BODY_BYTES, Target, unreachable_reason, verify_targets
from tests.conftest import require_tool

CONTAINERS = [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "port_mappings": [{"container_port": 80}]}]
BASE = {"cluster": "c", "service": {"name": "web"}, "task": {"family": "web", "containers": CONTAINERS}}


class _Handler(http.server.BaseHTTPRequestHandler):
    """/ok 200 "hello world", /missing 404, /moved 302 to another host, /big 1 MiB, /slow after 2 s;
    /flaky 503 for the first N requests of the server, then 200."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server: Any = self.server
        server.requests.append(self.path)
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/flaky" and server.flaky > 0:
            server.flaky -= 1
            return self._answer(503, b"not yet")
        answers = {"/ok": (200, b"hello world"), "/slow": (200, b"late"), "/flaky": (200, b"ready"),
                   "/escapes": (200, b"a" * 119 + b"\x1b[31mred" + b"b" * 50),
                   "/big": (200, b"x" * (1024 * 1024))}
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.99:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        status, body = answers.get(self.path, (404, b"<h1>Not Found</h1>\nnothing here"))
        return self._answer(status, body)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client read only what it wanted
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 (any port); proxies from the environment are kept out of the way."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    httpd: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.flaky = 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _verify(server: Any, path: str, **settings: Any) -> Any:
    config = VerifyConfig(path=path, within=settings.pop("within", 0), timeout=settings.pop("timeout", 3), **settings)
    return verify_targets([Target("127.0.0.1", task="arn:aws:ecs:us-east-1:1:task/c/t1")], config,
                          server.server_address[1])


def test_a_page_that_answers_passes_with_status_and_time(server: Any) -> None:
    result = _verify(server, "/ok", body="hello w.rld")
    assert result.ok
    (check,) = result.as_json()["checks"]
    assert check["url"] == f"http://127.0.0.1:{server.server_address[1]}/ok"
    assert check["status"] == 200 and check["error"] is None and isinstance(check["ms"], int)
    assert set(check) == {"url", "status", "ms", "error"}


def test_a_404_fails_with_url_status_and_start_of_body(server: Any) -> None:
    result = _verify(server, "/missing")
    assert not result.ok
    assert result.checks[0].status == 404
    message = result.message()
    assert f"127.0.0.1:{server.server_address[1]}/missing" in message
    assert "status 404, expected 200-399" in message
    assert '<h1>Not Found</h1>\\nnothing here' in message  # the body's start, one line
    assert result.failed_tasks() == ["arn:aws:ecs:us-east-1:1:task/c/t1"]


def test_body_mismatch_and_status_lists(server: Any) -> None:
    assert not _verify(server, "/ok", body="^goodbye").ok
    assert _verify(server, "/missing", status="404").ok
    assert not _verify(server, "/ok", status="201-204, 301").ok


def test_a_wrong_body_from_a_task_fails_at_once(server: Any) -> None:
    """A 200 whose body does not match, from a task of our deployment, is the release's own page: no retries."""
    started = time.monotonic()
    result = _verify(server, "/ok", body="^goodbye", within=10)
    assert not result.ok and time.monotonic() - started < 3
    assert server.requests == ["/ok"]
    assert result.message().endswith('body: "hello world"')


def test_a_wrong_body_from_a_load_balancer_is_retried(server: Any) -> None:
    """Behind a load balancer an old task may still answer: retried until `within`."""
    config = VerifyConfig(path="/ok", body="^goodbye", within=1.5, timeout=3)
    result = verify_targets([Target("127.0.0.1", label="load balancer")], config, server.server_address[1])
    assert not result.ok and len(server.requests) >= 2


def test_the_quoted_body_is_cut_before_escaping(server: Any) -> None:
    """The quote ends on a whole escape (never inside `\\x1b`) and says when it was cut."""
    result = _verify(server, "/escapes", status="201")
    message = result.message()
    assert message.endswith('body: "' + "a" * 119 + '\\x1b…"'), message


def test_a_redirect_is_the_answer_not_followed(server: Any) -> None:
    result = _verify(server, "/moved")
    assert result.ok and result.checks[0].status == 302  # 3xx is in the default 200-399
    assert server.requests == ["/moved"]  # nothing followed to the Location
    assert not _verify(server, "/moved", status="200").ok


def test_retries_until_the_target_answers_within(server: Any) -> None:
    server.flaky = 2
    result = _verify(server, "/flaky", within=10)
    assert result.ok and result.checks[0].status == 200
    assert server.requests == ["/flaky"] * 3


def test_gives_up_after_within_with_the_last_answer(server: Any) -> None:
    started = time.monotonic()
    result = _verify(server, "/missing", within=1.5)
    assert not result.ok and result.checks[0].status == 404
    assert 1.0 <= time.monotonic() - started < 5
    assert len(server.requests) >= 2


def test_per_request_timeout(server: Any) -> None:
    result = _verify(server, "/slow", timeout=0.5)
    assert not result.ok and result.checks[0].status is None
    assert "no answer" in str(result.checks[0].error)


def test_reads_at_most_a_bounded_body(server: Any) -> None:
    result = _verify(server, "/big", body="y")  # no match in the first MAX_BODY_BYTES: fails, quickly
    assert not result.ok and "does not match" in str(result.checks[0].error)
    assert len(result.checks[0].body) <= MAX_BODY_BYTES


def test_a_refused_connection_is_a_failed_check() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = verify_targets([Target("127.0.0.1")], VerifyConfig(within=0, timeout=2), port)
    assert not result.ok and "no answer" in str(result.checks[0].error)


def test_unreachable_addresses_fail_at_once_without_a_connection() -> None:
    started = time.monotonic()
    result = verify_targets([Target("203.0.113.9", task="t1"), Target(None, task="t2", label="task t2")],
                            VerifyConfig(within=30), 80)
    assert time.monotonic() - started < 1  # not retried for `within`: nothing can ever answer there
    assert not result.ok
    assert result.checks[0].error == ("address not reachable: 203.0.113.9 is in 203.0.113.0/24, a documentation "
                                      "range that is never routed")
    assert "no address" in str(result.checks[1].error)
    assert unreachable_reason("198.51.100.1") and unreachable_reason("2001:db8::5")
    assert unreachable_reason("10.0.0.5") is None and unreachable_reason("lb.example.com") is None


def test_no_task_is_a_failure() -> None:
    result = verify_targets([], VerifyConfig(), 80)
    assert not result.ok and "no running task" in str(result.checks[0].error)


# --- config ---------------------------------------------------------------------------------------

def test_verify_config_defaults_and_flags() -> None:
    config = load_config(None, {**BASE, "verify": {"path": "/health", "status": 200}})
    (target,) = config.targets()
    verify = config.verify_for(target)
    assert verify is not None and verify.path == "/health" and verify.status == "200"
    assert (verify.scheme, verify.port, verify.timeout, verify.within) == ("http", None, 5.0, 60.0)
    assert load_config(None, {**BASE, "verify": {"path": "/"}, "verify_enabled": False}).verify_for(target) is None
    flagged = load_config(None, {**BASE, "verify_enabled": True})
    assert flagged.verify_for(flagged.targets()[0]) == VerifyConfig()
    plain = load_config(None, BASE)
    assert plain.verify_for(plain.targets()[0]) is None  # nothing is probed unless verify is set
    assert load_config(None, BASE).deploy.log_lines == 20
    assert status_ranges("200-299, 404") == [(200, 299), (404, 404)]


@pytest.mark.parametrize(("verify", "message"), [
    ({"path": "health"}, "verify.path: "),
    ({"status": "2xx"}, "verify.status: "),
    ({"status": "399-200"}, "ends before it starts"),
    ({"body": "(unclosed"}, "verify.body: "),
    ({"scheme": "ftp"}, "verify.scheme: "),
    ({"within": -1}, "verify.within: "),
    ({"pth": "/"}, "did you mean 'path'"),
])
def test_bad_verify_settings_are_usage_errors(verify: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {**BASE, "verify": verify})
    assert message in str(caught.value)


def test_services_list_takes_verify_per_entry() -> None:
    entries = [{"task": {"family": "a", "containers": CONTAINERS}, "service": {"name": "a"},
                "verify": {"path": "/a"}},
               {"task": {"family": "b", "containers": CONTAINERS}, "service": {"name": "b"}}]
    config = load_config(None, {"cluster": "c", "services": entries})
    assert [config.verify_for(e) and config.verify_for(e).path for e in config.targets()] == ["/a", None]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="set verify in each entry"):
        load_config(None, {"cluster": "c", "services": entries, "verify": {}})


# --- outputs and policy ---------------------------------------------------------------------------

def test_verify_ok_in_github_outputs_and_dotenv(tmp_path: Path) -> None:
    result = {"cluster": "c", "service": "web", "verify": {"ok": True, "checks": []}}
    write_github(result, {"GITHUB_OUTPUT": str(tmp_path / "out")})
    assert "verify-ok<<" in (tmp_path / "out").read_text() and "\ntrue\n" in (tmp_path / "out").read_text()
    write_dotenv({**result, "verify": {"ok": False, "checks": []}}, tmp_path / "env")
    assert "CI_ECS_VERIFY_OK=false" in (tmp_path / "env").read_text().splitlines()
    write_dotenv({"cluster": "c", "service": "web", "verify": None}, tmp_path / "none")
    assert "CI_ECS_VERIFY_OK=" in (tmp_path / "none").read_text().splitlines()


def test_iam_policy_reads_the_task_log_groups() -> None:
    containers = [{**CONTAINERS[0], "logs": {"group": "/ecs/web", "stream_prefix": "web"}},
                  {"name": "side", "image": "busybox:1", "extra": {"logConfiguration": {
                      "logDriver": "awslogs",
                      "options": {"awslogs-group": "/ecs/side", "awslogs-region": "eu-west-1"}}}}]
    config = load_config(None, {**BASE, "region": "us-east-1", "task": {"family": "web", "containers": containers}})
    statements = {s["Sid"]: s for s in iam_policy(config, account_id="123456789012")["Statement"]}
    assert statements["LogsTail"]["Action"] == ["logs:GetLogEvents"]
    assert statements["LogsTail"]["Resource"] == ["arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/side:*",
                                                  "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*"]
    assert "LogsTail" not in {s["Sid"] for s in iam_policy(load_config(None, BASE))["Statement"]}


# --- the log tail, against moto's CloudWatch Logs --------------------------------------------------

def test_log_tail_of_essential_containers_only(moto_aws: dict[str, Any]) -> None:
    import boto3

    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/ecs/app")
    task_id = "0123456789abcdef"
    for container, count in (("app", 30), ("sidecar", 5)):
        stream = f"app/{container}/{task_id}"
        logs.create_log_stream(logGroupName="/ecs/app", logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName="/ecs/app", logStreamName=stream,
                            logEvents=[{"timestamp": now + i, "message": f"{container} line {i}"}
                                       for i in range(count)])
    awslogs = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app", "awslogs-stream-prefix": "app"}}
    definition = {"containerDefinitions": [
        {"name": "app", "essential": True, "logConfiguration": awslogs},
        {"name": "sidecar", "essential": False, "logConfiguration": awslogs},
        {"name": "quiet", "essential": True},  # no awslogs: nothing to read
    ]}
    task = {"taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/c/{task_id}", "taskDefinitionArn": "td:1"}
    described: list[str] = []
    tails = essential_tails([task], lambda arn: described.append(arn) or definition, logs, 20)
    assert described == ["td:1"]
    (tail,) = tails
    assert (tail.container, tail.group, tail.stream) == ("app", "/ecs/app", f"app/app/{task_id}")
    # The first 5 lines (a start-up error stays in view), then the newest 20, oldest first.
    assert tail.lines == [f"app line {i}" for i in range(5)] + ["…"] + [f"app line {i}" for i in range(10, 30)]
    assert tail.heading() == f"app: first 5 and last 20 line(s) of /ecs/app app/app/{task_id}"
    for lines in (25, 27):  # the two reads meet, or overlap: each line once, no gap
        whole = essential_tails([task], lambda arn: definition, logs, lines)[0]
        assert whole.lines == [f"app line {i}" for i in range(30 - lines)] + \
            [f"app line {i}" for i in range(30 - lines, 30)]
    assert essential_tails([task], lambda arn: definition, logs, 0) == []


# --- the simulated runtime: verify fails clearly, nothing is probed ---------------------------------

def test_verify_on_the_simulated_runtime_fails_clearly(tmp_path: Path) -> None:
    pytest.importorskip("moto.server")
    from ci_ecs.sandbox import Sandbox

    config = {**BASE, "region": "us-east-1", "cluster": "sim",
              "task": {"family": "web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                       "requires_compatibilities": ["FARGATE"], "containers": CONTAINERS},
              "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
              "verify": {"within": 30},
              "deploy": {"timeout": 60, "stable_seconds": 0}}
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.2, start_registry=False) as sb:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sb.env(),
               "HOME": str(tmp_path)}
        started = time.monotonic()
        run = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(tmp_path / "ci-ecs.yml"), "--output",
                              "json"], env=env, capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        skipped = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(tmp_path / "ci-ecs.yml"), "--output",
                                  "json", "--no-verify"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)
    (check,) = result["verify"]["checks"]
    assert check["status"] is None and check["error"].startswith("address not reachable: 203.0.113.")
    assert "address not reachable" in result["error"]
    assert elapsed < 25  # failed at once, not after `within`
    assert "nothing to roll back to" in result["error"]  # the service was created by this deploy
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["verify"] is None
