"""`ci-ecs preview` on the sandbox's docker runtime (issue 25's done-when): two previews brought up at once answer
their own pages through one shared listener, each by its host header; a second `up` writes nothing; `down` of one
leaves the other serving and nothing of its own behind (rules, target groups, services, task definitions);
`gc --older-than 0s` removes the rest; an Express preview's URL answers. Every request is a real HTTP request to
a loopback address (the load balancer's DNS name)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ecs.preview.naming import PREVIEW_TAG
from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool
from tests.e2e.test_elb_docker import EXECUTION_ROLE, PAGE_SCRIPT, REGION, Balancer, _client, _get, _image

pytestmark = [pytest.mark.docker, pytest.mark.registry]

INFRA_ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
MINUTE_SECONDS = 3.0  # one AWS second is 0.05 s: health checks, deregistration delays, the Express canary's bakes
WRITES = ("Create", "Update", "Register", "Deregister", "Delete", "Put", "Tag", "Untag", "Modify", "Stop", "Run",
          "Add", "Remove", "Set", "Start", "Submit")


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
    uri = _client(sandbox, "ecr").create_repository(repositoryName="preview-pages")["repository"]["repositoryUri"]
    out = {}
    for page in ("one", "two", "three"):
        local = _image(docker_client, tmp_path_factory.mktemp(f"page-{page}"), page, f"ci-ecs-preview/{page}:1")
        docker_client.images.get(local).tag(uri, page)
        docker_client.images.push(uri, page)
        out[page] = f"{uri}:{page}"
    return out


def _run(sandbox: Sandbox, folder: Path, config: dict[str, Any], *args: str) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("AWS_", "CI_ECS_")) and k.lower() not in ("http_proxy", "https_proxy")},
           **sandbox.env(), "HOME": str(folder), "NO_PROXY": "*"}
    ci_ecs = require_tool("ci-ecs", Path(sys.executable).parent / "ci-ecs")
    done = subprocess.run([ci_ecs, "preview", *args, "-c", "ci-ecs.yml"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def _page(balancer: Balancer, host: str) -> tuple[int, str]:
    status, body = _get(f"http://{balancer.dns}/index.html", host)
    return status, (body.splitlines() or [""])[0]


def _wait_page(balancer: Balancer, host: str, page: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen = _page(balancer, host)
    while seen != (200, page) and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = _page(balancer, host)
    assert seen == (200, page), (host, seen)


def test_two_previews_share_a_listener_down_and_gc_leave_nothing(sandbox: Sandbox, pages: dict[str, str],
                                                                 tmp_path: Path) -> None:
    balancer = Balancer(sandbox)
    cluster = f"pv-{uuid.uuid4().hex[:8]}"
    ecs = _client(sandbox, "ecs")
    config = {
        "region": REGION, "cluster": cluster,
        "task": {"family": "site", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                 "requires_compatibilities": ["FARGATE"], "execution_role_arn": EXECUTION_ROLE,
                 "containers": [{"name": "web", "entry_point": ["/bin/sh", "-c"], "command": [PAGE_SCRIPT],
                                 "working_dir": "/www", "port_mappings": [{"container_port": 80}],
                                 "stop_timeout": 2}]},
        "service": {"name": "site", "desired_count": 2, "launch_type": "FARGATE", "assign_public_ip": True},
        "preview": {"listener_arn": balancer.listener["ListenerArn"], "host": "pr-{id}.preview.example.com",
                    "priority": {"min": 1000, "max": 1999}, "desired_count": 1, "deregistration_delay": 5},
        "verify": {"path": "/index.html", "within": 30, "timeout": 3},
        "deploy": {"timeout": 150, "stable_seconds": 0},
    }
    # Two `up` at once (two pull requests pushed together): both pick priority 1000 first; ELB answers
    # PriorityInUse to one, which takes the next free priority.
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda args: _run(sandbox, tmp_path / args[0], config, "up", "--id", args[0],
                                               "--image", pages[args[1]], "--output", "json"),
                             [("1", "one"), ("2", "two")]))
    for run in runs:
        assert run.code == 0, run.stderr[-3000:]
        assert run.json["verify"]["ok"] is True  # fetched through the listener with the preview's Host
    assert [r.json["previewUrl"] for r in runs] == ["http://pr-1.preview.example.com",
                                                    "http://pr-2.preview.example.com"]
    rules = [r for r in balancer.elbv2.describe_rules(ListenerArn=balancer.listener["ListenerArn"])["Rules"]
             if not r["IsDefault"]]
    assert sorted(r["Priority"] for r in rules) == ["1000", "1001"]
    for host, page in (("pr-1.preview.example.com", "one"), ("pr-2.preview.example.com", "two")):
        for _ in range(5):
            assert _page(balancer, host) == (200, page)
    assert _page(balancer, "pr-3.preview.example.com")[0] == 404  # the listener's default: no preview 3

    sandbox.clear_request_log()
    again = _run(sandbox, tmp_path / "1", config, "up", "--id", "1", "--image", pages["one"], "--output", "json")
    assert again.code == 0, again.stderr[-3000:]
    assert [c for c in sandbox.request_log if c.operation.startswith(WRITES)] == []
    assert again.json["serviceAction"] == "unchanged" and again.json["verify"]["ok"] is True

    down = _run(sandbox, tmp_path / "1", config, "down", "--id", "1", "--output", "json")
    assert down.code == 0, down.stderr[-3000:]
    assert sorted(r["type"] for r in down.json["removed"]) == ["listenerRule", "service", "targetGroup",
                                                                "taskDefinition"]
    for _ in range(5):
        assert _page(balancer, "pr-2.preview.example.com") == (200, "two")
        assert _page(balancer, "pr-1.preview.example.com")[0] == 404
    left = [r for r in balancer.elbv2.describe_rules(ListenerArn=balancer.listener["ListenerArn"])["Rules"]
            if not r["IsDefault"]]
    assert [r["Conditions"][0]["HostHeaderConfig"]["Values"] for r in left] == [["pr-2.preview.example.com"]]
    groups = [g["TargetGroupName"] for g in balancer.elbv2.describe_target_groups()["TargetGroups"]]
    assert not [g for g in groups if g.startswith("pr-1-")] and [g for g in groups if g.startswith("pr-2-")]
    services = ecs.describe_services(cluster=cluster, services=["site-pr-1", "site-pr-2"])["services"]
    assert {s["serviceName"]: s["status"] for s in services} == {"site-pr-1": "INACTIVE", "site-pr-2": "ACTIVE"}
    for status in ("ACTIVE", "INACTIVE"):
        assert ecs.list_task_definitions(familyPrefix="site-pr-1", status=status)["taskDefinitionArns"] == []
    assert ecs.list_task_definitions(familyPrefix="site-pr-2")["taskDefinitionArns"]
    assert not [t for t in ecs.list_tasks(cluster=cluster, serviceName="site-pr-1")["taskArns"]]

    listed = _run(sandbox, tmp_path / "1", config, "list", "--output", "json")
    assert [(p["id"], p["url"]) for p in listed.json["previews"]] == [("2", "http://pr-2.preview.example.com")]

    gc = _run(sandbox, tmp_path / "1", config, "gc", "--older-than", "0s", "--output", "json")
    assert gc.code == 0, gc.stderr[-3000:]
    assert [r["previewId"] for r in gc.json["removed"]] == ["2"]
    assert _page(balancer, "pr-2.preview.example.com")[0] == 404
    assert [r for r in balancer.elbv2.describe_rules(ListenerArn=balancer.listener["ListenerArn"])["Rules"]
            if not r["IsDefault"]] == []
    assert not [g for g in balancer.elbv2.describe_target_groups()["TargetGroups"]
                if g["TargetGroupName"].startswith("pr-")]
    assert ecs.list_task_definitions(familyPrefix="site-pr-")["taskDefinitionArns"] == []
    assert _run(sandbox, tmp_path / "1", config, "list", "--output", "json").json["previews"] == []


def test_an_express_preview_answers_on_its_url_and_down_removes_it(sandbox: Sandbox, pages: dict[str, str],
                                                                   tmp_path: Path) -> None:
    name = f"xp-{uuid.uuid4().hex[:6]}"
    config = {
        "region": REGION,
        "express": {"service_name": name, "primary_container": {
            "container_port": 80, "command": ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]},
                    "health_check_path": "/index.html",
                    "scaling_target": {"min_task_count": 1, "max_task_count": 2},
                    "execution_role_arn": EXECUTION_ROLE, "infrastructure_role_arn": INFRA_ROLE},
        # The sandbox's Express listener is HTTP (no certificates); on AWS it is HTTPS, verify's default scheme.
        "verify": {"scheme": "http", "path": "/index.html", "body": "three", "within": 60},
        "preview": {"ttl_hours": 24},
        "deploy": {"timeout": 240},
    }
    up = _run(sandbox, tmp_path, config, "up", "--id", "9", "--image", pages["three"], "--output", "json")
    assert up.code == 0, up.stderr[-3000:]
    assert up.json["service"] == f"{name}-pr-9" and up.json["verify"]["ok"] is True
    url = up.json["previewUrl"]
    assert url == up.json["serviceUrl"] and url.startswith("http://")
    status, body = _get(url.rstrip("/") + "/index.html")
    assert (status, body.splitlines()[0]) == (200, "three")
    tags = {t["key"]: t["value"] for t in _client(sandbox, "ecs").describe_services(
        cluster="default", services=[f"{name}-pr-9"], include=["TAGS"])["services"][0]["tags"]}
    assert tags[PREVIEW_TAG] == "9"

    listed = _run(sandbox, tmp_path, config, "list", "--output", "json")
    assert [(p["id"], p["url"]) for p in listed.json["previews"]] == [("9", url)]
    down = _run(sandbox, tmp_path, config, "down", "--id", "9", "--output", "json")
    assert down.code == 0, down.stderr[-3000:]
    assert [r["type"] for r in down.json["removed"]] == ["expressService"]
    assert _run(sandbox, tmp_path, config, "list", "--output", "json").json["previews"] == []
