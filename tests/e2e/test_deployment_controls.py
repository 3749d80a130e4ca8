"""Issue 26's done-when items on the sandbox, through the real `ci-ecs deploy`: an early-success rolling deploy
of 4 tasks at 50 % ends when 2 new tasks are healthy; a COUNT threshold of 2 trips the circuit breaker after
2 failed tasks; a restart policy keeps a crashing container's task RUNNING with the restart counted. This
module's sandbox runs with ``minute_seconds=1`` (a restartAttemptPeriod of 60 s lasts one second)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ci_ecs.sandbox import CRASH_AFTER_LABEL, CRASH_LABEL, Sandbox
from tests.e2e.conftest import TASK_START_SECONDS, Deployer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's sandbox: a minute lasts one second; every response checked against botocore's model."""
    with Sandbox(port=0, registry_port=0, task_start_seconds=TASK_START_SECONDS, validate_responses=True,
                 minute_seconds=1) as sb:
        yield sb
        sb.set_faults(task_start_seconds=TASK_START_SECONDS)
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _primary(deployer: Deployer) -> dict[str, Any]:
    return dict(deployer.service()["deployments"][0])


def test_early_success_deploy_ends_when_half_the_new_tasks_are_healthy(deployer: Deployer, sandbox: Sandbox) -> None:
    config = deployer.config(desired_count=4, minimum_healthy_percent=50, maximum_percent=100,
                             early_success_criteria={"enable": True, "healthy_percent": 50,
                                                     "source_service_revision_cleanup": "DEFERRED"})
    config["deploy"]["stable_seconds"] = 1  # ci-ecs's own watch after ECS's verdict, shorter than a task start
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    sandbox.set_faults(task_start_seconds=3.0)  # the 3rd and 4th new tasks come 4.5 s after the 2nd
    try:
        run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
        primary = _primary(deployer)  # read as ci-ecs exits
    finally:
        sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
    assert run.code == 0, run.stderr
    assert primary["rolloutState"] == "COMPLETED"
    assert 2 <= primary["runningCount"] < 4, primary  # ECS (the sandbox) ended it at 2 of 4, and so did ci-ecs


def test_count_threshold_of_two_trips_the_breaker_after_two_failed_tasks(deployer: Deployer) -> None:
    config = deployer.config(desired_count=1, circuit_breaker={
        "enable": True, "rollback": False, "threshold_configuration": {"type": "COUNT", "value": 2}})
    config["task"]["containers"][0]["docker_labels"] = {CRASH_LABEL: "1"}
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 1, run.stderr
    assert "circuit breaker" in run.stderr
    primary = _primary(deployer)
    assert (primary["rolloutState"], primary["failedTasks"]) == ("FAILED", 2)


def test_restart_policy_keeps_a_crashing_container_running(deployer: Deployer, sandbox: Sandbox) -> None:
    config = deployer.config(desired_count=1)
    container = config["task"]["containers"][0]
    container["docker_labels"] = {CRASH_LABEL: "3", CRASH_AFTER_LABEL: "1.5"}
    container["restart_policy"] = {"enabled": True, "ignored_exit_codes": [0], "restart_attempt_period": 60}
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    (arn,) = deployer.ecs.list_tasks(cluster=deployer.cluster, serviceName="web")["taskArns"]
    assert _wait_restarts(sandbox, arn, 2) >= 2  # restarted in place twice: the same task
    (task,) = deployer.ecs.describe_tasks(cluster=deployer.cluster, tasks=[arn])["tasks"]
    assert (task["lastStatus"], task["desiredStatus"]) == ("RUNNING", "RUNNING")
    assert deployer.ecs.list_tasks(cluster=deployer.cluster, serviceName="web", desiredStatus="STOPPED")[
        "taskArns"] == []


def _wait_restarts(sandbox: Sandbox, task_arn: str, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    restarts = 0
    while time.monotonic() < deadline:
        restarts = sandbox.restart_counts(task_arn).get("web", 0)
        if restarts >= count:
            break
        time.sleep(0.1)
    return restarts


def test_a_redeploy_with_service_connect_and_monitoring_changes_nothing(deployer: Deployer) -> None:
    """The sandbox reports these members back as ECS does (deployments, service revisions), so ci-ecs sees
    them as set and a second deploy of the same config writes nothing."""
    config = deployer.config(
        service_connect={"enabled": True, "namespace": "shop",
                         "services": [{"port_name": "web", "client_aliases": [{"port": 80}]}]},
        monitoring={"metric_configurations": [{"metric_names": ["CPUUtilization"], "resolution_seconds": 20}]})
    config["task"]["containers"][0]["port_mappings"] = [{"container_port": 8080, "name": "web"}]
    first = deployer.run(config, "--image", GOOD_IMAGE)
    assert first.code == 0, first.stderr
    again = deployer.run(config, "--image", GOOD_IMAGE)
    assert again.code == 0, again.stderr
    assert again.json["serviceAction"] == "unchanged", again.stderr


def test_a_managed_instances_service_deploys(deployer: Deployer) -> None:
    config = deployer.config(launch_type="MANAGED_INSTANCES", assign_public_ip=False)
    config["task"]["requires_compatibilities"] = ["MANAGED_INSTANCES"]
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    service = deployer.service()
    assert (service["launchType"], service["runningCount"]) == ("MANAGED_INSTANCES", 2)


def _managed_instances_provider(deployer: Deployer) -> str:
    """A Managed Instances capacity provider of the deployer's cluster (created first, as ECS scopes one to it)."""
    ec2 = boto3.client("ec2", endpoint_url=deployer.sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    deployer.ecs.create_cluster(clusterName=deployer.cluster)
    name = f"mi-{deployer.cluster}"
    deployer.ecs.create_capacity_provider(name=name, cluster=deployer.cluster, managedInstancesProvider={
        "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
        "instanceLaunchTemplate": {
            "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
            "networkConfiguration": {"subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]]}}})
    return name


def test_a_service_on_a_managed_instances_capacity_provider_deploys(deployer: Deployer, sandbox: Sandbox) -> None:
    name = _managed_instances_provider(deployer)
    config = deployer.config(launch_type=None, assign_public_ip=False,
                             capacity_provider_strategy=[{"capacity_provider": name, "weight": 1}])
    # A task definition not made for Managed Instances: the pre-flight reads the provider's type from the sandbox.
    refused = deployer.run(config, "--image", GOOD_IMAGE)
    assert refused.code == 2, refused.stderr
    assert "service.capacity_provider_strategy[0].capacity_provider" in refused.stderr
    sandbox.clear_request_log()
    config["task"]["requires_compatibilities"] = ["MANAGED_INSTANCES"]
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    assert ("ecs", "DescribeCapacityProviders") in [(call.service, call.operation) for call in sandbox.request_log]
    service = deployer.service()
    assert "launchType" not in service
    assert (service["runningCount"], service["capacityProviderStrategy"][0]["capacityProvider"]) == (2, name)
    arns = deployer.ecs.list_tasks(cluster=deployer.cluster, serviceName="web")["taskArns"]
    tasks = deployer.ecs.describe_tasks(cluster=deployer.cluster, tasks=arns)["tasks"]
    assert [(t["lastStatus"], t["launchType"], t["capacityProviderName"]) for t in tasks] == [
        ("RUNNING", "MANAGED_INSTANCES", name)] * 2
