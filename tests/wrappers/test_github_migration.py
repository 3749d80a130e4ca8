"""Issue 14 under act: a workflow shaped like aws-actions' starter workflow, its describe/render/deploy
steps replaced by our action with `task-definition-family` and `environment-variables`, then a
register-only step (no service), against the sandbox."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, SandboxProcess, child_env, copy_repo, require_tool

pytestmark = pytest.mark.wrappers

WORKFLOW = REPO / "tests" / "wrappers" / "github" / "migration.yml"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def test_starter_workflow_with_family_and_environment_variables(sandbox: SandboxProcess, tmp_path: Path) -> None:
    act = require_tool("act")
    ecs = sandbox.client("ecs")
    cluster, family = "gh-migration", "gh-migration-web"
    # The base revision, made by another tool, with fields ci-ecs has no config key for.
    ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        executionRoleArn=ROLE, tags=[{"key": "owner", "value": "terraform"}],
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                               "portMappings": [{"containerPort": 80}],
                               "environment": [{"name": "LOG_LEVEL", "value": "warn"}],
                               "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 4096}]}])
    # The service exists, as aws-actions/amazon-ecs-deploy-task-definition needs (ci-ecs creates none from the
    # action's inputs alone either: a typo in `service` is a failed step, not a new service).
    subnets = [s["SubnetId"] for s in sandbox.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    ecs.create_cluster(clusterName=cluster)
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=f"{family}:1", desiredCount=1,
                       launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                           "subnets": subnets[:1], "assignPublicIp": "ENABLED"}})
    repo = copy_repo(tmp_path / "repo")
    workflows = repo / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "migration.yml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@ci-ecs.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "workflow"], cwd=repo, check=True)
    env_args = [f"--env={name}={value}" for name, value in {
        **sandbox.env(), "SRC": str(repo), "CLUSTER": cluster, "FAMILY": family}.items()]
    proc = subprocess.run([act, "push", "-P", "ubuntu-latest=-self-hosted", "--pull=false", *env_args],
                          cwd=repo, env=child_env(sandbox, HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=400)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log)
    assert proc.returncode == 0 and "Job succeeded" in log, log[-6000:]
    match = re.search(r"outputs: deployed=(\S+) registered=(\S+)", log)
    assert match, log[-4000:]
    deployed, registered = match.groups()
    assert deployed.endswith(f"task-definition/{family}:2") and registered.endswith(f"task-definition/{family}:3")
    assert "INJECTED" not in log
    # The register-only step's job summary says what it registered (act prints summaries as "Summary - ...").
    assert f"Summary - ### ci-ecs: task definition {family}:3 registered" in log, log[-4000:]

    service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    assert service["taskDefinition"] == deployed  # the register-only step left the service alone
    second = ecs.describe_task_definition(taskDefinition=deployed, include=["TAGS"])
    web = second["taskDefinition"]["containerDefinitions"][0]
    assert web["image"] == "public.ecr.aws/nginx/nginx:1.28"
    assert {e["name"]: e["value"] for e in web["environment"]} == {
        "LOG_LEVEL": "info", "GREETING": "hello from $(touch pwned-env) the action"}
    assert web["ulimits"] == [{"name": "nofile", "softLimit": 4096, "hardLimit": 4096}]
    assert second["tags"] == [{"key": "owner", "value": "terraform"}]
    third = ecs.describe_task_definition(taskDefinition=registered)["taskDefinition"]["containerDefinitions"][0]
    assert third["image"] == "public.ecr.aws/nginx/nginx:1.29"
    assert json.dumps(third["environment"]).count("LOG_LEVEL") == 1 and {"name": "LOG_LEVEL", "value": "debug"} in \
        third["environment"]
