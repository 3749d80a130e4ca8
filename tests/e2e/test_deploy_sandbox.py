"""`ci-ecs deploy` end to end against the sandbox: real tasks, real waits, real failures."""

from __future__ import annotations

import ipaddress
import time

from tests.e2e.conftest import TASK_START_SECONDS, Deployer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def _in_doc_range(ip: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24")


def test_deploy_completes_with_public_ips(deployer: Deployer) -> None:
    run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["rolloutState"] == "COMPLETED"
    assert result["serviceAction"] == "created"
    assert len(result["publicIps"]) == 2 and all(_in_doc_range(ip) for ip in result["publicIps"])
    assert len(result["privateIps"]) == 2
    assert result["serviceUrl"] == f"http://{result['publicIps'][0]}:8080"
    service = deployer.service()
    assert service["runningCount"] == 2
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]


def test_no_op_redeploy_is_cheap_and_writes_nothing(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["serviceAction"] == "unchanged" and result["taskDefinitionRegistered"] is False
    assert len(result["publicIps"]) == 2
    calls = deployer.sandbox.request_log
    writes = [c for c in calls if c.operation.startswith(("Create", "Register", "Update", "Put", "Delete"))]
    assert writes == []
    assert len(calls) <= 10, calls
    assert sum(result["apiCalls"].values()) == len(calls)


def test_private_only_service_has_no_public_ip(deployer: Deployer) -> None:
    run = deployer.run(deployer.config(assign_public_ip=False), "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    assert run.json["publicIps"] == [] and len(run.json["privateIps"]) == 2
    assert run.json["serviceUrl"] is None


def test_image_change_rolls_out_within_the_call_budget(deployer: Deployer) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.clear_request_log()
    started = time.monotonic()
    run = deployer.run(deployer.config(), "--image", "public.ecr.aws/nginx/nginx:1.28")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    result = run.json
    assert result["serviceAction"] == "updated" and result["taskDefinitionRegistered"] is True
    assert result["rolloutState"] == "COMPLETED"
    assert deployer.service()["taskDefinition"].endswith(":2")
    describes = [c for c in deployer.sandbox.request_log if c.operation == "DescribeServices"]
    # Polling starts at about 1 s: at most one describe per second of waiting, plus the initial describe.
    assert len(describes) <= elapsed + 2, (len(describes), elapsed)


def test_missing_ecr_image_fails_and_rolls_back(deployer: Deployer) -> None:
    """No circuit breaker: ci-ecs notices the failing tasks itself and puts the old revision back."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    registry = deployer.sandbox.registry or "000000000000.dkr.ecr.us-east-1.amazonaws.com"
    run = deployer.run(deployer.config(), "--image", f"{registry}/nothing-here:1.0")
    assert run.code == 1, run.stderr
    assert "CannotPullContainerError" in run.stderr
    assert "rolled back to" in run.stderr
    result = run.json
    assert result["error"] and result["rolloutState"] == "FAILED"
    service = deployer.service()
    assert service["taskDefinition"].endswith(":1")
    assert service["runningCount"] == 2
    assert result["rolledBackTo"] == service["taskDefinition"]


def test_circuit_breaker_rollback_is_a_failure(deployer: Deployer) -> None:
    """With ECS's circuit breaker (rollback on), the service ends stable on the old revision: still exit 1."""
    config = deployer.config(circuit_breaker={"enable": True, "rollback": True})
    assert deployer.run(config, "--image", GOOD_IMAGE).code == 0
    registry = deployer.sandbox.registry or "000000000000.dkr.ecr.us-east-1.amazonaws.com"
    run = deployer.run(config, "--image", f"{registry}/nothing-here:2.0")
    assert run.code == 1, run.stderr
    assert "CannotPullContainerError" in run.stderr
    assert "circuit breaker" in run.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not deployer.service()["taskDefinition"].endswith(":1"):
        time.sleep(TASK_START_SECONDS)
    assert deployer.service()["taskDefinition"].endswith(":1")
    assert run.json["rolledBackTo"] == deployer.service()["taskDefinition"]


def test_first_deploy_failing_with_the_circuit_breaker_says_nothing_to_roll_back(deployer: Deployer) -> None:
    """A service's first deployment has no completed one to go back to: no "rolls back" in the message."""
    config = deployer.config(circuit_breaker={"enable": True, "rollback": True})
    registry = deployer.sandbox.registry or "000000000000.dkr.ecr.us-east-1.amazonaws.com"
    run = deployer.run(config, "--image", f"{registry}/nothing-here:1.0")
    assert run.code == 1, run.stderr
    result = run.json
    assert result["serviceAction"] == "created"
    assert "nothing to roll back to: the service was created by this deploy" in result["error"]
    assert "rolls back" not in result["error"] and "rolled back to" not in result["error"]
    assert result["rolledBackTo"] is None


def test_a_failed_verify_says_the_rollback_happened_in_the_json(deployer: Deployer) -> None:
    """The simulated runtime's 203.0.113.x addresses fail verify at once; the JSON names the revision rolled back
    to (`rolledBackTo`), not only the error string."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    config = {**deployer.config(), "verify": {"within": 5}}
    run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 1, run.stderr
    result = run.json
    assert result["verify"]["ok"] is False and "verify failed" in result["error"]
    assert result["rolledBackTo"] is not None and result["rolledBackTo"].endswith(":1")
    assert deployer.service()["taskDefinition"] == result["rolledBackTo"]


def test_a_crash_in_the_stable_window_fails_and_rolls_back(deployer: Deployer) -> None:
    """The simulated runtime's crash label with a delay: the tasks run (COMPLETED), then exit 3 s later, inside
    `deploy.stable_seconds` (counted from RUNNING: no container health checks here). Exit 1, rolled back."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    config = deployer.config()
    config["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "4",
                                                        "ci-ecs.sandbox/exit-after-seconds": "3"}
    config["deploy"]["stable_seconds"] = 8
    run = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 1, run.stderr
    result = run.json
    assert "stopped after it completed" in result["error"] and "exit code 4" in run.stderr
    assert result["rolledBackTo"] is not None and result["rolledBackTo"].endswith(":1")
    assert deployer.service()["taskDefinition"] == result["rolledBackTo"]


def test_crashing_container_fails_with_its_reason(deployer: Deployer) -> None:
    config = deployer.config()
    config["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "3"}
    run = deployer.run(config, "--image", GOOD_IMAGE, "--no-rollback")
    assert run.code == 1, run.stderr
    assert "Essential container in task exited" in run.stderr
    assert "nothing to roll back to" in run.stderr or "not rolled back" in run.stderr


def test_timeout_is_exit_4(deployer: Deployer) -> None:
    # Tasks take 30 s to start; the 5 s budget leaves the steps before the first poll room on a loaded CI machine
    # (with 2 s the deadline could cut a pre-flight read, and the message names that call instead).
    deployer.sandbox.set_faults(task_start_seconds=30)
    try:
        run = deployer.run(deployer.config(), "--image", GOOD_IMAGE, "--timeout", "5")
    finally:
        deployer.sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
    assert run.code == 4, run.stderr
    assert "not finished after 5 s" in run.stderr


def test_services_list_deploys_concurrently_and_one_can_be_picked(deployer: Deployer) -> None:
    base = deployer.config()
    entries = []
    for name in ("api", "worker", "web"):
        task = {**base["task"], "family": f"{deployer.cluster}-{name}"}
        entries.append({"task": task, "service": {**base["service"], "name": name, "desired_count": 1}})
    config = {"cluster": deployer.cluster, "services": entries, "deploy": {"timeout": 60, "parallelism": 3}}
    run = deployer.run(config, "--image", GOOD_IMAGE)
    assert run.code == 0, run.stderr
    result = run.json
    assert [s["service"] for s in result["services"]] == ["api", "worker", "web"]
    assert all(s["rolloutState"] == "COMPLETED" and len(s["publicIps"]) == 1 for s in result["services"])
    assert len(result["publicIps"]) == 3 and result["serviceAction"] == "created"

    again = deployer.run(config, "--image", "public.ecr.aws/nginx/nginx:1.28", "--service", "worker")
    assert again.code == 0, again.stderr
    assert again.json["service"] == "worker" and again.json["serviceAction"] == "updated"
    services = deployer.ecs.describe_services(cluster=deployer.cluster, services=["api", "worker"])["services"]
    assert [s["taskDefinition"].rsplit(":", 1)[-1] for s in services] == ["1", "2"]


def test_services_list_reports_the_one_that_failed(deployer: Deployer) -> None:
    base = deployer.config()
    registry = deployer.sandbox.registry or "000000000000.dkr.ecr.us-east-1.amazonaws.com"
    entries = []
    for name, image in (("good", GOOD_IMAGE), ("broken", f"{registry}/missing:1")):
        container = {**base["task"]["containers"][0], "image": image}
        task = {**base["task"], "family": f"{deployer.cluster}-{name}", "containers": [container]}
        entries.append({"task": task, "service": {**base["service"], "name": name, "desired_count": 1}})
    run = deployer.run({"cluster": deployer.cluster, "services": entries, "deploy": {"timeout": 60}})
    assert run.code == 1, run.stderr
    assert "broken: " in run.stderr and "CannotPullContainerError" in run.stderr
    result = run.json
    states = {s["service"]: s["rolloutState"] for s in result["services"]}
    assert states == {"good": "COMPLETED", "broken": "FAILED"}
    assert result["error"].startswith("broken: ")
