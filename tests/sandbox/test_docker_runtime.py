"""The sandbox's docker runtime against a real Docker engine (testing.md's private dockerd): tasks
are containers, their ports answer on loopback public IPs, health checks, dependsOn, secrets,
awslogs, exit codes and clean-up are the engine's real ones.

Images are built FROM scratch with Debian's static busybox (no image can be pulled here); the
page image goes through the sandbox's ECR registry, so the engine pulls it as Fargate would.
Traffic goes only to 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ci_ecs.sandbox import Sandbox
from ci_ecs.sandbox.runtimes.docker import LABEL_INSTANCE

from .conftest import EXECUTION_ROLE, REGION, Aws, require_registry, require_tool, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.registry]

PAGE_SCRIPT = (
    'echo "<p>$GREETING $SSM_WORD $SECRET_WORD</p>" > index.html && echo "serving $(pwd) on 80" '
    "&& exec /bin/busybox httpd -f -p 80 -h ."
)
HEALTHY_CHECK = {
    "command": ["CMD-SHELL", "/bin/busybox wget -q -O /dev/null http://127.0.0.1/ || exit 1"],
    "interval": 5,
    "timeout": 2,
    "retries": 2,
}


@pytest.fixture(scope="module")
def busybox_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A FROM scratch image with busybox as /bin/busybox and /bin/sh (for CMD-SHELL health checks)."""
    busybox = require_tool("busybox", hint="Debian busybox-static")
    context = tmp_path_factory.mktemp("busybox-image")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\n")
    tag = "ci-ecs-sandbox-test/busybox:1"
    docker_client.images.build(path=str(context), tag=tag, rm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def sandbox(docker_env: dict[str, str], busybox_image: str) -> Iterator[Sandbox]:
    """This module's sandbox runs tasks as containers on the private engine."""
    with Sandbox(
        task_start_seconds=0.3, validate_responses=True, runtime="docker", docker_host=docker_env["DOCKER_HOST"]
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def page_image(sandbox: Sandbox, docker_client: Any, busybox_image: str) -> str:
    """The busybox image pushed to the sandbox's ECR (a repository created through the ECR API)."""
    require_registry(sandbox)
    aws = Aws(sandbox)
    uri = aws.ecr.create_repository(repositoryName="page")["repository"]["repositoryUri"]
    docker_client.images.get(busybox_image).tag(uri, "1")
    docker_client.images.push(uri, "1")
    return f"{uri}:1"


def _register(aws: Aws, family: str, containers: list[dict[str, Any]]) -> str:
    answer = aws.ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=EXECUTION_ROLE,
        containerDefinitions=containers,
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def _run_task(aws: Aws, cluster: str, task_definition: str) -> str:
    answer = aws.ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()], "assignPublicIp": "ENABLED"}},
    )
    return str(answer["tasks"][0]["taskArn"])


def _task(aws: Aws, cluster: str, arn: str) -> dict[str, Any]:
    return dict(aws.ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0])


def _stopped(aws: Aws, cluster: str, arn: str, timeout: float = 60) -> dict[str, Any]:
    return dict(wait_for(lambda: (t := _task(aws, cluster, arn))["lastStatus"] == "STOPPED" and t,
                         timeout=timeout, interval=0.3, what=f"task {arn} STOPPED"))


def _public_ip(aws: Aws, task: dict[str, Any]) -> tuple[str, str]:
    """(public IP, private IP) of an awsvpc task, read the ECS way: ENI → DescribeNetworkInterfaces."""
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    eni = aws.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])
    interface = eni["NetworkInterfaces"][0]
    return interface["Association"]["PublicIp"], interface["PrivateIpAddress"]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a loopback URL the test built
        return answer.status, answer.read().decode()


def _log_messages(aws: Aws, group: str, stream: str) -> list[str]:
    events = aws.client("logs").get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in events["events"]]


def _secrets(aws: Aws) -> tuple[str, str]:
    """A Secrets Manager secret (JSON) and an SSM SecureString, created through the sandbox's APIs."""
    suffix = uuid.uuid4().hex[:6]
    secret_arn = aws.client("secretsmanager").create_secret(
        Name=f"page-{suffix}", SecretString=json.dumps({"word": "sesame"})
    )["ARN"]
    parameter = f"/page/{suffix}/word"
    aws.client("ssm").put_parameter(Name=parameter, Value="open", Type="SecureString")
    return secret_arn, parameter


def test_service_tasks_serve_their_page_on_loopback_public_ips(aws: Aws, page_image: str) -> None:
    cluster = aws.cluster()
    secret_arn, parameter = _secrets(aws)
    group = f"/ecs/page-{uuid.uuid4().hex[:6]}"
    task_definition = _register(aws, "page", [{
        "name": "web",
        "image": page_image,
        "essential": True,
        "entryPoint": ["/bin/sh", "-c"],
        "command": [PAGE_SCRIPT],
        "workingDirectory": "/www",
        "environment": [{"name": "GREETING", "value": "hello"}],
        "secrets": [
            {"name": "SECRET_WORD", "valueFrom": f"{secret_arn}:word::"},
            {"name": "SSM_WORD", "valueFrom": parameter},
        ],
        "portMappings": [{"containerPort": 80}],
        "healthCheck": HEALTHY_CHECK,
        "stopTimeout": 2,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "page",
            "awslogs-create-group": "true"}},
    }])
    aws.service(cluster, "page", task_definition, desired=2)
    # COMPLETED once both tasks are HEALTHY (the services-stable waiter only counts RUNNING tasks).
    wait_for(lambda: aws.describe(cluster, "page")["deployments"][0]["rolloutState"] == "COMPLETED",
             timeout=60, interval=0.3, what="the deployment COMPLETED")

    tasks = aws.tasks(cluster, "page")
    assert len(tasks) == 2
    addresses = set()
    for task in tasks:
        assert task["lastStatus"] == "RUNNING"
        assert task["healthStatus"] == "HEALTHY"
        (container,) = task["containers"]
        assert container["healthStatus"] == "HEALTHY"
        assert container["runtimeId"]
        public_ip, private_ip = _public_ip(aws, task)
        address = ipaddress.ip_address(public_ip)
        assert address.is_loopback and public_ip != "127.0.0.1"
        assert not ipaddress.ip_address(private_ip).is_loopback  # the subnet's address, as in ECS
        addresses.add(public_ip)
        status, body = _get(f"http://{public_ip}:80/")
        assert status == 200
        assert body.strip() == "<p>hello open sesame</p>"
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        assert "serving /www on 80" in _log_messages(aws, group, f"page/web/{task_id}")
    assert len(addresses) == 2  # a loopback address per task


def test_essential_container_exit_code_and_log(aws: Aws, busybox_image: str) -> None:
    cluster = aws.cluster()
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    group = f"/ecs/crash-{uuid.uuid4().hex[:6]}"
    aws.client("logs").create_log_group(logGroupName=group)
    task_definition = _register(aws, "crash", [{
        "name": "app",
        "image": busybox_image,  # a local image of the engine, used as is
        "essential": True,
        "entryPoint": ["/bin/sh", "-c"],
        "command": [f'echo "{marker} uid=$(/bin/busybox id -u) cwd=$(pwd)"; exit 7'],
        "user": "1000",
        "workingDirectory": "/work",
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "crash"}},
    }])
    arn = _run_task(aws, cluster, task_definition)
    task = _stopped(aws, cluster, arn)
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["containers"][0]["exitCode"] == 7
    task_id = arn.rsplit("/", 1)[-1]
    assert f"{marker} uid=1000 cwd=/work" in _log_messages(aws, group, f"crash/app/{task_id}")


def test_tasks_that_cannot_start_say_why_as_ecs_does(aws: Aws, busybox_image: str, sandbox: Sandbox) -> None:
    cluster = aws.cluster()
    registry = require_registry(sandbox)
    base = {"name": "app", "image": busybox_image, "essential": True, "command": ["/bin/busybox", "sleep", "30"]}
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    cases = {
        "secret": {**base, "secrets": [{"name": "PASSWORD", "valueFrom": arn}]},
        "parameter": {**base, "secrets": [{"name": "TOKEN", "valueFrom": "/no/such/parameter"}]},
        "log-group": {**base, "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/missing", "awslogs-region": REGION, "awslogs-stream-prefix": "x"}}},
        "image": {**base, "image": f"{registry}/page-missing:1"},
    }
    arns = {name: _run_task(aws, cluster, _register(aws, f"nostart-{name}", [c])) for name, c in cases.items()}
    tasks = {name: _stopped(aws, cluster, arn) for name, arn in arns.items()}
    for task in tasks.values():
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["containers"][0].get("exitCode") is None
    assert tasks["secret"]["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secret from asm")
    assert "ResourceNotFoundException" in tasks["secret"]["stoppedReason"]
    assert tasks["parameter"]["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth")
    assert "/no/such/parameter" in tasks["parameter"]["stoppedReason"]
    assert tasks["log-group"]["stoppedReason"].startswith("ResourceInitializationError: failed to validate logger args")
    assert "The specified log group does not exist" in tasks["log-group"]["stoppedReason"]
    # The engine's own pull error (the registry's "manifest unknown"), as CannotPullContainerError.
    assert tasks["image"]["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "page-missing" in tasks["image"]["stoppedReason"]
    assert "CannotPullContainerError" in tasks["image"]["containers"][0]["reason"]


def test_failing_health_check_replaces_the_task_and_counts(aws: Aws, busybox_image: str) -> None:
    cluster = aws.cluster()
    task_definition = _register(aws, "sick", [{
        "name": "app",
        "image": busybox_image,
        "essential": True,
        "command": ["/bin/busybox", "sleep", "300"],
        "healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2, "retries": 1},
        "stopTimeout": 1,
    }])
    aws.service(cluster, "sick", task_definition, desired=1)

    def stopped_unhealthy() -> list[dict[str, Any]]:
        tasks = aws.tasks(cluster, "sick", desired_status="STOPPED")
        return [t for t in tasks if t.get("stoppedReason") == "Task failed container health checks"]

    (stopped, *_) = wait_for(stopped_unhealthy, timeout=60, interval=0.5, what="a task stopped as unhealthy")
    assert stopped["healthStatus"] == "UNHEALTHY"
    assert stopped["containers"][0]["healthStatus"] == "UNHEALTHY"
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    deployment = aws.describe(cluster, "sick")["deployments"][0]
    assert deployment["failedTasks"] >= 1
    assert deployment["rolloutState"] == "IN_PROGRESS"  # never COMPLETED: its tasks are not healthy
    replacement = wait_for(lambda: [t for t in aws.tasks(cluster, "sick") if t["taskArn"] != stopped["taskArn"]],
                           timeout=30, what="a replacement task")
    assert replacement
    aws.ecs.update_service(cluster=cluster, service="sick", desiredCount=0)


def test_health_check_grace_period_holds_off_the_stop(aws: Aws, busybox_image: str) -> None:
    cluster = aws.cluster()
    task_definition = _register(aws, "sick-graced", [{
        "name": "app",
        "image": busybox_image,
        "essential": True,
        "command": ["/bin/busybox", "sleep", "300"],
        "healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 2, "timeout": 1, "retries": 1},
        "stopTimeout": 1,
    }])
    aws.ecs.create_service(
        cluster=cluster, serviceName="sick", taskDefinition=task_definition, desiredCount=1, launchType="FARGATE",
        healthCheckGracePeriodSeconds=8, networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()]}},
    )

    def stopped_unhealthy() -> list[dict[str, Any]]:
        tasks = aws.tasks(cluster, "sick", desired_status="STOPPED")
        return [t for t in tasks if t.get("stoppedReason") == "Task failed container health checks"]

    wait_for(lambda: [t for t in aws.tasks(cluster, "sick") if t["healthStatus"] == "UNHEALTHY"], timeout=60,
             interval=0.5, what="an UNHEALTHY task")
    (stopped, *_) = wait_for(stopped_unhealthy, timeout=60, interval=0.5, what="a task stopped as unhealthy")
    # UNHEALTHY after ~2 s, stopped only once the 8 s grace period since it started was over.
    assert stopped["stoppingAt"] - stopped["startedAt"] >= timedelta(seconds=8)
    aws.ecs.update_service(cluster=cluster, service="sick", desiredCount=0)


def test_depends_on_orders_container_starts(aws: Aws, busybox_image: str, docker_client: Any) -> None:
    cluster = aws.cluster()
    task_definition = _register(aws, "ordered", [
        {"name": "init", "image": busybox_image, "essential": False,
         "command": ["/bin/busybox", "true"]},
        {"name": "db", "image": busybox_image, "essential": True,
         "command": ["/bin/busybox", "sleep", "300"], "stopTimeout": 1,
         "healthCheck": {"command": ["CMD", "/bin/busybox", "true"], "interval": 5, "timeout": 2, "retries": 1}},
        {"name": "app", "image": busybox_image, "essential": True,
         "command": ["/bin/busybox", "sleep", "300"], "stopTimeout": 1,
         "dependsOn": [{"containerName": "init", "condition": "SUCCESS"},
                       {"containerName": "db", "condition": "HEALTHY"}]},
    ])
    arn = _run_task(aws, cluster, task_definition)
    seen: list[tuple[str, str, str]] = []

    def running() -> dict[str, Any] | None:
        task = _task(aws, cluster, arn)
        containers = {c["name"]: c for c in task["containers"]}
        seen.append((containers["db"].get("healthStatus", ""), containers["app"]["lastStatus"],
                     containers["init"]["lastStatus"]))
        return task if task["lastStatus"] == "RUNNING" else None

    task = wait_for(running, timeout=40, interval=0.2, what="the ordered task RUNNING")
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["init"]["exitCode"] == 0
    assert containers["db"]["healthStatus"] == "HEALTHY"
    # While db was not yet HEALTHY, app had not started.
    assert all(app == "PENDING" for db, app, _ in seen if db != "HEALTHY")
    assert any(db != "HEALTHY" for db, _, _ in seen)
    # The engine agrees: app started after db's first passing health check ended.
    engine = {c.labels["com.amazonaws.ecs.container-name"]: c.attrs
              for c in docker_client.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={arn}"})}
    first_healthy = min(_instant(e["End"]) for e in engine["db"]["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert _instant(engine["app"]["State"]["StartedAt"]) >= first_healthy
    aws.ecs.stop_task(cluster=cluster, task=arn)
    stopped = _stopped(aws, cluster, arn)
    assert stopped["stopCode"] == "UserInitiated"
    # busybox sleep as PID 1 ignores SIGTERM: SIGKILL after stopTimeout (1 s), the engine's 137.
    assert {c["name"]: c["exitCode"] for c in stopped["containers"]} == {"init": 0, "db": 137, "app": 137}
    assert not docker_client.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={arn}"})


def _instant(stamp: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds, trailing zeros trimmed, maybe a zone offset)."""
    match = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    assert match, stamp
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{(match.group(2) or '').ljust(6, '0')[:6]}{zone}")


def _peer_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        **sandbox.env(),
    }


def test_fabfuel_ecs_deploy_and_aws_cli_wait_on_real_containers(
    aws: Aws, sandbox: Sandbox, page_image: str, tmp_path: Path
) -> None:
    ecs_deploy = require_tool("ecs")
    cli = require_tool("aws")
    cluster = aws.cluster()
    secret_arn, parameter = _secrets(aws)
    container = {
        "name": "web", "image": page_image, "essential": True, "entryPoint": ["/bin/sh", "-c"],
        "command": [PAGE_SCRIPT], "workingDirectory": "/www", "stopTimeout": 1,
        "environment": [{"name": "GREETING", "value": "first"}],
        "secrets": [{"name": "SECRET_WORD", "valueFrom": f"{secret_arn}:word::"},
                    {"name": "SSM_WORD", "valueFrom": parameter}],
        "portMappings": [{"containerPort": 80}],
    }
    aws.service(cluster, "web", _register(aws, "peers", [container]), desired=1)
    waited = subprocess.run(
        [cli, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "web"],
        env=_peer_env(sandbox, tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert waited.returncode == 0, waited.stderr
    (task,) = aws.tasks(cluster, "web")
    assert _get(f"http://{_public_ip(aws, task)[0]}:80/")[1].strip() == "<p>first open sesame</p>"

    deployed = subprocess.run(
        [ecs_deploy, "deploy", cluster, "web", "--env", "web", "GREETING", "second", "--timeout", "90"],
        env=_peer_env(sandbox, tmp_path), capture_output=True, text=True, timeout=150,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    (task,) = aws.tasks(cluster, "web")
    assert _get(f"http://{_public_ip(aws, task)[0]}:80/")[1].strip() == "<p>second open sesame</p>"


def _sandbox_process(docker_env: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, **docker_env, "CI_ECS_SANDBOX_RUNTIME": "docker"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_ecs.sandbox", "--port", "0", "--task-start-seconds", "0.3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("AWS_ENDPOINT_URL="):
            return process, line.strip().split("=", 1)[1]
    process.wait(10)
    pytest.fail(f"the sandbox did not start (exit {process.returncode})")


def _children(pid: int) -> list[int]:
    """The process ids of `pid`'s children (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found.extend(int(child) for child in children.read_text().split())
    return found


def _labelled(docker_client: Any, label: str) -> tuple[list[Any], list[Any]]:
    return (docker_client.containers.list(all=True, filters={"label": label}),
            docker_client.networks.list(filters={"label": label}))


def test_sandbox_removes_its_containers_at_exit_and_a_killed_ones_at_start(
    docker_env: dict[str, str], docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    import boto3

    def start_task(endpoint: str) -> str:
        ecs = boto3.client("ecs", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ecs.create_cluster(clusterName="c")
        ecs.register_task_definition(family="f", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                     cpu="256", memory="512", containerDefinitions=[{
                                         "name": "app", "image": busybox_image,
                                         "command": ["/bin/busybox", "sleep", "300"]}])
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        arn = ecs.run_task(cluster="c", taskDefinition="f", launchType="FARGATE", networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet]}})["tasks"][0]["taskArn"]
        wait_for(lambda: ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING",
                 timeout=30, what="the task RUNNING")
        return str(arn)

    killed, endpoint = _sandbox_process(docker_env, tmp_path)
    arn = start_task(endpoint)
    (container,), _ = _labelled(docker_client, f"com.amazonaws.ecs.task-arn={arn}")
    instance = container.labels[LABEL_INSTANCE]
    orphans = _children(killed.pid)  # its registry outlives a SIGKILL: stopped by this test, not left running
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    containers, networks = _labelled(docker_client, f"{LABEL_INSTANCE}={instance}")
    assert containers and networks  # what a killed sandbox leaves behind

    second, endpoint = _sandbox_process(docker_env, tmp_path)
    try:
        assert _labelled(docker_client, f"{LABEL_INSTANCE}={instance}") == ([], [])
        arn = start_task(endpoint)
        (container,), _ = _labelled(docker_client, f"com.amazonaws.ecs.task-arn={arn}")
        instance = container.labels[LABEL_INSTANCE]
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert second.returncode == 0
    assert _labelled(docker_client, f"{LABEL_INSTANCE}={instance}") == ([], [])


def test_no_engine_is_one_line_and_exit_2(tmp_path: Path) -> None:
    socket_path = tmp_path / "no-engine.sock"
    result = subprocess.run(
        [shutil.which("ci-ecs") or "ci-ecs", "sandbox", "--port", "0", "--runtime", "docker"],
        env={**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: sandbox --runtime docker needs a Docker engine: none at unix://")
