"""Issue 10's correctness findings, end to end through the real `ci-ecs` command on the sandbox.

Each test is a case a user lost something in: a crash loop reported as success, a re-run that
"rolled back" to the revision it was already on, settings the config left out changed, a cancel
that took longer than a CI runner waits, a result lost to an error.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import yaml

from tests.conftest import require_tool
from tests.e2e.conftest import TASK_START_SECONDS, Deployer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def _ops(deployer: Deployer, operation: str) -> int:
    return sum(1 for c in deployer.sandbox.request_log if c.operation == operation)


def test_container_crashing_after_running_is_not_success(deployer: Deployer) -> None:
    """ECS calls the deployment COMPLETED once the tasks run; a container exiting 2 s later is a crash loop."""
    config = deployer.config()
    config["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "2",
                                                        "ci-ecs.sandbox/exit-after-seconds": "2"}
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 1, run.stderr
    result = run.json
    assert result["rolloutState"] == "FAILED"
    assert result["error"]
    assert "exit code 2" in run.stderr
    assert "Traceback" not in run.stderr

    # Re-run unchanged: the service still crash-loops, so still not success, and nothing is sent.
    deployer.sandbox.clear_request_log()
    again = deployer.run(config, "--image", GOOD_IMAGE)
    assert again.code == 1, again.stderr
    assert again.json["serviceAction"] == "unchanged"
    assert _ops(deployer, "UpdateService") == 0 and _ops(deployer, "RegisterTaskDefinition") == 0
    assert "exit code 2" in again.stderr


def test_rerun_of_a_failed_deploy_neither_updates_nor_rolls_back(deployer: Deployer) -> None:
    """The second run of an unchanged config whose first deploy failed: no UpdateService, no 'rolled back'."""
    config = deployer.config()
    config["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "3"}
    first = deployer.run(config, "--image", GOOD_IMAGE)
    assert first.code == 1, first.stderr
    assert "nothing to roll back to" in first.stderr

    deployer.sandbox.clear_request_log()
    second = deployer.run(config, "--image", GOOD_IMAGE)
    assert second.code == 1, second.stderr
    assert _ops(deployer, "UpdateService") == 0
    assert _ops(deployer, "RegisterTaskDefinition") == 0
    assert "rolled back to" not in second.stderr
    assert second.json["serviceAction"] == "unchanged"
    assert deployer.service()["taskDefinition"].endswith(":1")


def test_failed_update_rolls_back_once_and_a_rerun_retries_the_new_revision(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    broken = deployer.config()
    broken["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "1"}
    failed = deployer.run(broken, "--image", GOOD_IMAGE)
    assert failed.code == 1, failed.stderr
    assert "rolled back to" in failed.stderr and ":1 (completed)" in failed.stderr
    assert deployer.service()["taskDefinition"].endswith(":1")


def test_only_the_deployment_settings_the_config_sets_change(deployer: Deployer) -> None:
    """A service made elsewhere (its own VPC, its own deployment settings); the config sets one setting.

    moto drops deploymentConfiguration, so this runs on the sandbox, which keeps it as ECS does.
    """
    ec2 = boto3.client("ec2", endpoint_url=deployer.sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"g-{deployer.cluster}", Description="g", VpcId=vpc)["GroupId"]
    deployer.ecs.create_cluster(clusterName=deployer.cluster)
    arn = deployer.ecs.register_task_definition(
        family=f"{deployer.cluster}-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{"name": "web", "image": GOOD_IMAGE,
                                             "portMappings": [{"containerPort": 8080}]}]
    )["taskDefinition"]["taskDefinitionArn"]
    deployer.ecs.create_service(
        cluster=deployer.cluster, serviceName="web", taskDefinition=arn, desiredCount=3, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group],
                                                      "assignPublicIp": "ENABLED"}},
        deploymentConfiguration={"maximumPercent": 150, "minimumHealthyPercent": 50,
                                 "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    config = {"cluster": deployer.cluster, "task": {"file": "td.json"},
              "service": {"name": "web", "minimum_healthy_percent": 100}, "deploy": {"timeout": 60}}
    (deployer.tmp_path / "td.json").write_text(json.dumps(
        deployer.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"], default=str))

    run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 0, run.stderr
    service = deployer.service()
    assert service["deploymentConfiguration"]["maximumPercent"] == 150
    assert service["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": [subnet], "securityGroups": [group], "assignPublicIp": "ENABLED"}
    assert service["desiredCount"] == 3 and service["runningCount"] == 3


def _services_config(deployer: Deployer, names: list[str]) -> dict[str, Any]:
    base = deployer.config()
    entries = [{"task": {**base["task"], "family": f"{deployer.cluster}-{name}"},
                "service": {**base["service"], "name": name, "desired_count": 1}} for name in names]
    return {"cluster": deployer.cluster, "services": entries, "deploy": {"timeout": 120, "parallelism": 3}}


def test_sigterm_during_a_services_deploy_exits_within_two_seconds(deployer: Deployer, tmp_path: Path) -> None:
    deployer.sandbox.set_faults(task_start_seconds=60)
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(_services_config(deployer, ["a", "b", "c"])))
    process = subprocess.Popen([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image", GOOD_IMAGE],
                               env=deployer.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        waiting = 0
        for line in process.stderr:
            waiting += "waiting for deployment" in line
            if waiting == 3:
                break
        time.sleep(1.5)  # every service is in its poll sleep now
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=30)
        elapsed = time.monotonic() - sent
        rest = process.stderr.read()
    finally:
        deployer.sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
        if process.poll() is None:
            process.kill()
    assert code == 143, rest
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in rest


def test_one_services_error_keeps_the_others_results(deployer: Deployer) -> None:
    """A non-deployment error (a DRAINING service) in one entry; the other's result is still reported."""
    deployer.sandbox.set_faults(task_start_seconds=30)  # the drained service's task takes 15 s to stop
    try:
        created = deployer.run(_services_config(deployer, ["old"]), "--image", GOOD_IMAGE, "--no-wait")
        assert created.code == 0, created.stderr
        # The scheduler places the task on its next tick: delete once there is a task to drain (ci-ecs may
        # exit before that tick), so the service stays DRAINING.
        deadline = time.monotonic() + 10
        while not deployer.ecs.list_tasks(cluster=deployer.cluster, serviceName="old")["taskArns"] \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        deployer.ecs.delete_service(cluster=deployer.cluster, service="old", force=True)
        run = deployer.run(_services_config(deployer, ["fresh", "old"]), "--image", GOOD_IMAGE, "--no-wait")
    finally:
        deployer.sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
    assert run.code == 1, run.stderr
    result = run.json
    by_name = {s["service"]: s for s in result["services"]}
    assert by_name["fresh"]["serviceAction"] == "created" and by_name["fresh"]["error"] is None
    assert "DRAINING" in by_name["old"]["error"]
    assert result["error"].startswith("old: ")


def test_every_failure_prints_the_result_with_error(deployer: Deployer) -> None:
    """A missing ECR image (an error before any deployment) still prints the JSON result, with `error`."""
    config = deployer.config()
    config["repository"] = {"name": f"{deployer.cluster}-repo"}
    config["image"] = {"tag": "9.9.9"}
    run = deployer.run(config)
    assert run.code == 1, run.stderr
    result = run.json
    assert result["cluster"] == deployer.cluster and result["service"] == "web"
    assert "9.9.9" in result["error"]
    assert any("ecr" in service for service in result["apiCalls"])  # the calls made before the error


def test_address_lookup_error_after_completed_is_a_warning(deployer: Deployer) -> None:
    deployer.sandbox.set_faults(error_5xx_operations=("ec2:DescribeNetworkInterfaces",))
    try:
        run = deployer.run({**deployer.config(), "max_attempts": 1}, "--image", GOOD_IMAGE)
    finally:
        deployer.sandbox.set_faults(error_5xx_operations=())
    assert run.code == 0, run.stderr
    result = run.json
    assert result["rolloutState"] == "COMPLETED" and result["error"] is None
    assert result["publicIps"] == [] and result["warnings"]
    assert "could not look up the service's addresses" in run.stderr
