"""Issue 14: what the aws-actions ECS steps do, through the real `ci-ecs` command against the sandbox.

A family read from ECS as the base (made by the aws CLI, with fields ci-ecs does not model), environment
variables, several images, mutable tags resolved to digests in the sandbox's ECR, register-only, nulls,
comma-separated container names, the "default" cluster and CODE_DEPLOY services refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3

from ci_ecs.sandbox import Sandbox
from tests.conftest import Run, require_tool
from tests.e2e.conftest import Deployer
from tests.sandbox.conftest import push_image

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
NGINX = "public.ecr.aws/nginx/nginx:1.27"


def _service_only(deployer: Deployer, **service: Any) -> dict[str, Any]:
    """A config without a task section: the task definition comes from --task-definition."""
    return {"cluster": deployer.cluster,
            "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True,
                        **service},
            "deploy": {"timeout": 60}}


def _aws(sandbox: Sandbox, tmp_path: Path, *args: str) -> dict[str, Any]:
    """The aws CLI (another tool) against the sandbox."""
    aws = require_tool("aws", Path(sys.executable).parent / "aws", hint="the dev extra")
    env = {**sandbox.env(), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run([aws, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout or "{}"))


def _base_revision(deployer: Deployer, family: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    """Register revision 1 of `family` with the aws CLI: fields ci-ecs has no config key for, and tags."""
    path = deployer.tmp_path / f"{family}.json"
    path.write_text(json.dumps({
        "family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
        "memory": "512", "executionRoleArn": ROLE, "pidMode": "task",
        "containerDefinitions": containers,
        "tags": [{"key": "team", "value": "payments"}],
    }))
    return _aws(deployer.sandbox, deployer.tmp_path, "ecs", "register-task-definition",
                "--cli-input-json", f"file://{path}")["taskDefinition"]


def _register(deployer: Deployer, *args: str, env: dict[str, str] | None = None) -> Run:
    ci_ecs = require_tool("ci-ecs")
    done = subprocess.run([ci_ecs, "register", "--output", "json", *args], env={**deployer.env, **(env or {})},
                          capture_output=True, text=True, timeout=120, cwd=deployer.tmp_path)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def _latest(deployer: Deployer, family: str) -> dict[str, Any]:
    answer = deployer.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
    return {**answer["taskDefinition"], "tags": answer.get("tags", [])}


def _container(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in definition["containerDefinitions"] if c["name"] == name)


def test_family_base_keeps_what_ci_ecs_does_not_model_and_env_is_idempotent(deployer: Deployer) -> None:
    family = f"{deployer.cluster}-app"
    _base_revision(deployer, family, [{
        "name": "web", "image": NGINX, "essential": True, "portMappings": [{"containerPort": 8080}],
        "environment": [{"name": "GREETING", "value": "hello"}, {"name": "MODE", "value": "old"}],
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "linuxParameters": {"initProcessEnabled": True},
    }])
    secret = "s3cr3t-Value-9f8e7d6c5b4a"
    args = ("--task-definition", family, "--image", "public.ecr.aws/nginx/nginx:1.28",
            "--env", "MODE=new", "--env", "FEATURE=on", "--env", f"DB_PASSWORD={secret}")
    run = deployer.run(_service_only(deployer), *args)
    assert run.code == 0, run.stderr
    assert run.json["taskDefinitionRegistered"] is True and run.json["rolloutState"] == "COMPLETED"
    assert run.json["taskDefinitionArn"].endswith(f"{family}:2")
    assert secret not in run.stdout + run.stderr  # a value that looks like a secret is never printed

    new = _latest(deployer, family)
    web = _container(new, "web")
    assert web["image"] == "public.ecr.aws/nginx/nginx:1.28"
    assert {e["name"]: e["value"] for e in web["environment"]} == {
        "GREETING": "hello", "MODE": "new", "FEATURE": "on", "DB_PASSWORD": secret}
    # What the other tool set and ci-ecs has no key for stays as it was.
    assert web["ulimits"] == [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}]
    assert web["linuxParameters"]["initProcessEnabled"] is True
    assert new["pidMode"] == "task"
    assert new["tags"] == [{"key": "team", "value": "payments"}]
    assert deployer.service()["taskDefinition"] == new["taskDefinitionArn"]

    deployer.sandbox.clear_request_log()
    again = deployer.run(_service_only(deployer), *args)
    assert again.code == 0, again.stderr
    assert again.json["taskDefinitionRegistered"] is False and again.json["serviceAction"] == "unchanged"
    writes = [c.operation for c in deployer.sandbox.request_log
              if c.operation.startswith(("Register", "Update", "Create"))]
    assert writes == []
    describes = [c for c in deployer.sandbox.request_log if c.operation == "DescribeTaskDefinition"]
    assert len(describes) == 1  # the base is read once, not again to compare


def test_pinned_revision_or_arn_is_deployed_as_is(deployer: Deployer) -> None:
    family = f"{deployer.cluster}-pinned"
    first = _base_revision(deployer, family, [{"name": "web", "image": NGINX, "essential": True}])
    _base_revision(deployer, family, [{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.28", "essential": True}])
    run = deployer.run(_service_only(deployer), "--task-definition", f"{family}:1")
    assert run.code == 0, run.stderr
    assert run.json["taskDefinitionRegistered"] is False
    assert deployer.service()["taskDefinition"] == first["taskDefinitionArn"]
    assert len(deployer.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]) == 2

    by_arn = deployer.run(_service_only(deployer), "--task-definition", first["taskDefinitionArn"])
    assert by_arn.code == 0 and by_arn.json["serviceAction"] == "unchanged", by_arn.stderr

    with_image = deployer.run(_service_only(deployer), "--task-definition", f"{family}:1", "--image", NGINX)
    assert with_image.code == 2 and "deployed as is" in with_image.stderr


def test_two_containers_get_two_images(deployer: Deployer) -> None:
    family = f"{deployer.cluster}-two"
    _base_revision(deployer, family, [
        {"name": "app", "image": "public.ecr.aws/docker/library/httpd:2.4", "essential": True,
         "portMappings": [{"containerPort": 8080}]},
        {"name": "nginx", "image": NGINX, "essential": True, "portMappings": [{"containerPort": 80}]},
    ])
    run = deployer.run(_service_only(deployer), "--task-definition", family,
                       "--image", "app=public.ecr.aws/docker/library/httpd:2.4.62",
                       "--image", "nginx=public.ecr.aws/nginx/nginx:1.28", "--env", "ROLE=edge",
                       "--container-name", "nginx")
    assert run.code == 0, run.stderr
    new = _latest(deployer, family)
    assert _container(new, "app")["image"] == "public.ecr.aws/docker/library/httpd:2.4.62"
    assert _container(new, "nginx")["image"] == "public.ecr.aws/nginx/nginx:1.28"
    assert _container(new, "nginx")["environment"] == [{"name": "ROLE", "value": "edge"}]
    assert "environment" not in _container(new, "app") or _container(new, "app")["environment"] == []
    # Tags in registries ci-ecs cannot query are deployed as named, and the output says what that means.
    assert any("not resolved" in w and "--force-new-deployment" in w for w in run.json["warnings"])


def test_repushed_latest_rolls_out_and_an_unchanged_one_does_not(deployer: Deployer) -> None:
    registry = deployer.sandbox.registry
    assert registry, "the sandbox's ECR needs docker-registry"
    name = f"app-{uuid.uuid4().hex[:6]}"
    ecr = boto3.client("ecr", endpoint_url=deployer.sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    ecr.create_repository(repositoryName=name)
    first = push_image(registry, name, "latest", b"v1")
    image = f"{registry}/{name}:latest"

    run = deployer.run(deployer.config(), "--image", image)
    assert run.code == 0, run.stderr
    assert run.json["imageUri"] == f"{registry}/{name}@{first}" and run.json["imageDigest"] == first
    assert _container(_latest(deployer, f"{deployer.cluster}-web"), "web")["image"] == f"{registry}/{name}@{first}"

    push_image(registry, name, "latest", b"v1")  # pushed again, same content: the same digest
    same = deployer.run(deployer.config(), "--image", image)
    assert same.code == 0, same.stderr
    assert same.json["serviceAction"] == "unchanged" and same.json["taskDefinitionRegistered"] is False

    second = push_image(registry, name, "latest", b"v2")
    moved = deployer.run(deployer.config(), "--image", image)
    assert moved.code == 0, moved.stderr
    assert moved.json["serviceAction"] == "updated" and moved.json["rolloutState"] == "COMPLETED"
    assert moved.json["imageDigest"] == second != first
    running = deployer.ecs.describe_task_definition(taskDefinition=deployer.service()["taskDefinition"])
    assert running["taskDefinition"]["containerDefinitions"][0]["image"] == f"{registry}/{name}@{second}"

    pinned = deployer.config()
    pinned["image"] = {"pin": "tag"}
    by_tag = deployer.run(pinned, "--image", image)
    assert by_tag.code == 0, by_tag.stderr
    assert _container(_latest(deployer, f"{deployer.cluster}-web"), "web")["image"] == image


def test_register_only_is_idempotent_and_needs_no_service(deployer: Deployer) -> None:
    family = f"{deployer.cluster}-job"
    path = deployer.tmp_path / "taskdef.json"
    path.write_text(json.dumps({
        "family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
        "memory": "512", "executionRoleArn": ROLE,
        # Console exports carry nulls: dropped before validation, as aws-actions does by default.
        "taskRoleArn": None,
        "containerDefinitions": [{"name": "job", "image": "<IMAGE>", "essential": True, "healthCheck": None,
                                  "command": ["run-once"]}],
    }))
    run = _register(deployer, "--task-definition", str(path), "--image", NGINX)  # no config file at all
    assert run.code == 0, run.stderr
    arn = run.json["taskDefinitionArn"]
    assert arn.endswith(f"{family}:1") and run.json["taskDefinitionRegistered"] is True
    again = _register(deployer, "--task-definition", str(path), "--image", NGINX)
    assert again.code == 0, again.stderr
    assert again.json["taskDefinitionArn"] == arn and again.json["taskDefinitionRegistered"] is False
    assert deployer.ecs.list_clusters()["clusterArns"] == [] or all(
        not a.endswith(f"/{deployer.cluster}") for a in deployer.ecs.list_clusters()["clusterArns"])

    kept = _register(deployer, "--task-definition", str(path), "--image", NGINX, "--keep-null-value-keys")
    assert kept.code == 2, kept.stderr
    assert "task" in kept.stderr and "taskRoleArn null" in kept.stderr
    assert kept.json["error"]

    via_env = _register(deployer, env={"CI_ECS_TASK_DEFINITION": family, "CI_ECS_IMAGE": NGINX,
                                       "CI_ECS_ENV": "A=1\nB=two words\n"})
    assert via_env.code == 0, via_env.stderr
    assert via_env.json["taskDefinitionArn"].endswith(f"{family}:2")
    job = _container(_latest(deployer, family), "job")
    assert job["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two words"}]
    assert job["command"] == ["run-once"]


def test_comma_separated_container_names(deployer: Deployer) -> None:
    path = deployer.tmp_path / "taskdef.json"
    path.write_text(json.dumps({
        "family": f"{deployer.cluster}-web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512", "executionRoleArn": ROLE,
        "containerDefinitions": [
            {"name": "web", "image": "${IMAGE}", "essential": True, "portMappings": [{"containerPort": 8080}]},
            {"name": "worker", "image": "${IMAGE}", "essential": False},
            {"name": "proxy", "image": NGINX, "essential": True},
        ],
    }))
    run = deployer.run(_service_only(deployer), "--task-definition", str(path),
                       "--container-name", "web, worker", "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 0, run.stderr
    new = _latest(deployer, f"{deployer.cluster}-web")
    assert [c["image"] for c in new["containerDefinitions"]] == [
        "public.ecr.aws/nginx/nginx:1.28", "public.ecr.aws/nginx/nginx:1.28", NGINX]


def test_cluster_defaults_to_default(deployer: Deployer) -> None:
    config = deployer.config()
    del config["cluster"]
    config["task"]["family"] = f"{deployer.cluster}-default"
    run = deployer.run(config, "--image", NGINX)
    assert run.code == 0, run.stderr
    assert run.json["cluster"] == "default"
    assert deployer.ecs.describe_services(cluster="default", services=["web"])["services"][0]["status"] == "ACTIVE"


def test_code_deploy_service_is_refused_before_anything_is_registered(deployer: Deployer) -> None:
    family = f"{deployer.cluster}-bg"
    first = _base_revision(deployer, family, [{"name": "web", "image": NGINX, "essential": True}])
    deployer.ecs.create_cluster(clusterName=deployer.cluster)
    deployer.ecs.create_service(cluster=deployer.cluster, serviceName="web", taskDefinition=first["taskDefinitionArn"],
                                desiredCount=0, launchType="FARGATE",
                                deploymentController={"type": "CODE_DEPLOY"})
    config = deployer.config()
    config["task"]["family"] = family
    for command_args in ((), ("--dry-run",)):
        run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28", *command_args)
        assert run.code == 2, run.stderr
        lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "CODE_DEPLOY" in lines[0] and "does not drive CodeDeploy" in lines[0]
        assert run.json["error"] and run.json["taskDefinitionArn"] is None
    assert deployer.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"] == [first["taskDefinitionArn"]]
