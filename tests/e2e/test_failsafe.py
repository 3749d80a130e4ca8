"""Deploys that fail safely: faults survived, resume after SIGKILL, cancel, concurrency, secrets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.e2e.conftest import TASK_START_SECONDS, Deployer

GOOD_IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def _revisions(deployer: Deployer) -> list[str]:
    family = f"{deployer.cluster}-web"
    return list(deployer.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"])


def _ops(deployer: Deployer, operation: str) -> int:
    return sum(1 for c in deployer.sandbox.request_log if c.operation == operation)


def test_throttling_is_survived_without_duplicates(deployer: Deployer) -> None:
    deployer.sandbox.set_faults(throttle_rate=0.3)
    try:
        run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    finally:
        deployer.sandbox.set_faults(throttle_rate=0.0)
    assert run.code == 0, run.stderr
    assert len(_revisions(deployer)) == 1
    assert deployer.service()["runningCount"] == 2


def test_5xx_on_register_and_create_is_retried_once_each_side_effect(deployer: Deployer) -> None:
    deployer.sandbox.set_faults(error_5xx_operations=("ecs:RegisterTaskDefinition", "ecs:CreateService"),
                                error_5xx_times=2)
    deployer.sandbox.clear_request_log()
    try:
        run = deployer.run(deployer.config(), "--image", GOOD_IMAGE)
    finally:
        deployer.sandbox.set_faults(error_5xx_operations=(), error_5xx_times=None)
    assert run.code == 0, run.stderr
    assert _ops(deployer, "RegisterTaskDefinition") == 3  # two 503s, then one that took effect
    assert len(_revisions(deployer)) == 1
    assert len(deployer.ecs.list_services(cluster=deployer.cluster)["serviceArns"]) == 1


def test_resume_after_sigkill_between_register_and_update(deployer: Deployer, tmp_path: Path) -> None:
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    # UpdateService answers 503 for now, so ci-ecs sits in botocore's retry backoff right after
    # registering: that is where we kill it.
    deployer.sandbox.set_faults(error_5xx_operations=("ecs:UpdateService",))
    deployer.sandbox.clear_request_log()
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(deployer.config()))
    process = subprocess.Popen([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image",
                                "public.ecr.aws/nginx/nginx:1.28"], env=deployer.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while _ops(deployer, "UpdateService") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        deployer.sandbox.set_faults(error_5xx_operations=())
    assert _ops(deployer, "RegisterTaskDefinition") == 1
    assert len(_revisions(deployer)) == 2
    assert deployer.service()["taskDefinition"].endswith(":1")  # the update never took effect

    deployer.sandbox.clear_request_log()
    run = deployer.run(deployer.config(), "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert run.code == 0, run.stderr
    assert run.json["taskDefinitionRegistered"] is False
    assert _ops(deployer, "RegisterTaskDefinition") == 0
    assert len(_revisions(deployer)) == 2
    assert deployer.service()["taskDefinition"].endswith(":2")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_cancel_while_waiting(deployer: Deployer, tmp_path: Path, sig: signal.Signals, code: int) -> None:
    deployer.sandbox.set_faults(task_start_seconds=60)
    path = tmp_path / "ci-ecs.yml"
    path.write_text(yaml.safe_dump(deployer.config()))
    process = subprocess.Popen([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image", GOOD_IMAGE],
                               env=deployer.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "waiting for deployment" in line:
                break
        time.sleep(0.5)
        process.send_signal(sig)
        rest = process.stderr.read()
        assert process.wait(timeout=15) == code
    finally:
        deployer.sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
        if process.poll() is None:
            process.kill()
    assert "cancelled" in rest or "terminated" in rest
    assert "Traceback" not in rest
    assert deployer.service()["taskDefinition"].endswith(":1")


def test_service_deleted_while_waiting_fails_at_the_next_poll(deployer: Deployer, tmp_path: Path) -> None:
    """DeleteService (force) during the wait: exit 1 (a failed deploy) within one poll interval, the reason in the
    message and the JSON result; nothing is rolled back (ECS refuses UpdateService on a DRAINING service)."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    deployer.sandbox.set_faults(task_start_seconds=60)  # the new deployment's tasks never start in time
    path = tmp_path / "deleted.yml"
    path.write_text(yaml.safe_dump(deployer.config()))
    process = subprocess.Popen([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image",
                                "public.ecr.aws/nginx/nginx:1.28", "--output", "json"],
                               env=deployer.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "following service deployment" in line or "waiting for deployment" in line:
                break
        time.sleep(2.5)  # a few polls into the wait (1 s, then 1.25 s apart)
        deployer.ecs.delete_service(cluster=deployer.cluster, service="web", force=True)
        deleted = time.monotonic()
        stdout, rest = process.communicate(timeout=60)
        ended = time.monotonic() - deleted
    finally:
        deployer.sandbox.set_faults(task_start_seconds=TASK_START_SECONDS)
        if process.poll() is None:
            process.kill()
    stderr = "".join(lines) + rest
    assert process.returncode == 1, stderr
    assert ended < 5.0, f"{ended:.1f} s from DeleteService to exit: {stderr}"  # poll interval ≤ 1.25 s here
    assert "was deleted while ci-ecs waited" in stderr and "Traceback" not in stderr
    result = json.loads(stdout)
    assert result["rolloutState"] == "DELETED"
    assert "was deleted while ci-ecs waited" in result["error"] and "nothing was rolled back" in result["error"]
    assert deployer.service()["status"] in ("DRAINING", "INACTIVE")


def test_two_concurrent_deploys_end_in_a_defined_state(deployer: Deployer, tmp_path: Path) -> None:
    """Documented outcome: both exit with a clear result, the service runs one of the two revisions."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    images = ["public.ecr.aws/nginx/nginx:1.28", "public.ecr.aws/nginx/nginx:1.29"]
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(image: str, index: int) -> None:
        path = tmp_path / f"c{index}.yml"
        path.write_text(yaml.safe_dump(deployer.config()))
        results[image] = subprocess.run([require_tool("ci-ecs"), "deploy", "-c", str(path), "--image", image,
                                         "--output", "json"], env=deployer.env, capture_output=True, text=True,
                                        timeout=120)

    threads = [threading.Thread(target=run, args=(image, i)) for i, image in enumerate(images)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.returncode for r in results.values())
    assert codes in ([0, 0], [0, 1]), {i: r.stderr for i, r in results.items()}
    for result in results.values():
        if result.returncode == 1:
            assert "replaced by deployment" in result.stderr and "started by someone else" in result.stderr
        assert "Traceback" not in result.stderr
    assert len(_revisions(deployer)) <= 3  # the first deploy's plus at most two
    final = deployer.ecs.describe_task_definition(taskDefinition=deployer.service()["taskDefinition"])
    assert final["taskDefinition"]["containerDefinitions"][0]["image"] in images
    winners = [image for image, r in results.items() if r.returncode == 0]
    assert final["taskDefinition"]["containerDefinitions"][0]["image"] in winners


def _wait_for_a_crash(deployer: Deployer, timeout: float = 20) -> None:
    """Until a task of the service's PRIMARY deployment has stopped with its container's exit (ECS's stopCode)."""
    deadline = time.monotonic() + timeout
    primary = next(d["id"] for d in deployer.service()["deployments"] if d["status"] == "PRIMARY")
    while time.monotonic() < deadline:
        arns = deployer.ecs.list_tasks(cluster=deployer.cluster, serviceName="web", desiredStatus="STOPPED")["taskArns"]
        tasks = deployer.ecs.describe_tasks(cluster=deployer.cluster, tasks=arns)["tasks"] if arns else []
        if any(t.get("startedBy") == primary and t.get("stopCode") == "EssentialContainerExited" for t in tasks):
            return
        time.sleep(0.1)
    raise AssertionError(f"no task of deployment {primary} crashed within {timeout} s")


def test_a_rollback_never_undoes_a_newer_deploy(deployer: Deployer, tmp_path: Path) -> None:
    """Deploy A (its tasks crash 2 s after they start) fails in its stable window and would roll back; deploy B (a
    good image), started while A watches its tasks, completes first. A must leave B's revision alone: exit 1 with a
    warning saying why, B exit 0, the service ends on B's revision (two real `ci-ecs deploy` processes)."""
    assert deployer.run(deployer.config(), "--image", GOOD_IMAGE).code == 0
    crashing = deployer.config()
    crashing["task"]["containers"][0]["docker_labels"] = {"ci-ecs.sandbox/exit-code": "3",
                                                          "ci-ecs.sandbox/exit-after-seconds": "2"}
    crashing["deploy"]["stable_seconds"] = 12
    good = deployer.config()
    good["deploy"]["stable_seconds"] = 1
    paths = {}
    for label, config in (("a", crashing), ("b", good)):
        paths[label] = tmp_path / f"{label}.yml"
        paths[label].write_text(yaml.safe_dump(config))
    command = [require_tool("ci-ecs"), "deploy", "--output", "json", "-c"]
    a = subprocess.Popen([*command, str(paths["a"]), "--image", "public.ecr.aws/nginx/nginx:1.28"],
                         env=deployer.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert a.stderr is not None
        lines = []
        for line in a.stderr:
            lines.append(line)
            if "watching the tasks" in line:
                break
        # B starts once A's tasks have crashed (read from the sandbox): B must not replace them before they crash,
        # or A's verdict is rightly SUPERSEDED (its tasks stopped by B's rollout) and A never comes to a rollback.
        _wait_for_a_crash(deployer)
        b = subprocess.run([*command, str(paths["b"]), "--image", "public.ecr.aws/nginx/nginx:1.29"],
                           env=deployer.env, capture_output=True, text=True, timeout=60)
        a_out, a_rest = a.communicate(timeout=60)
    finally:
        if a.poll() is None:
            a.kill()
    a_err = "".join(lines) + a_rest
    assert b.returncode == 0, b.stderr
    assert a.returncode == 1, a_err
    b_revision = json.loads(b.stdout)["taskDefinitionArn"]
    service = deployer.service()
    assert service["taskDefinition"] == b_revision, (a_err, b.stderr)
    a_result = json.loads(a_out)
    assert any("not rolled back" in w and "started by someone else" in w for w in a_result["warnings"]), a_result
    assert "not rolled back" in a_result["error"]
    assert "Traceback" not in a_err


SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEYVALUE"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENVALUE0123456789abcdef"
CONTAINER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"


@pytest.mark.parametrize("debug", [False, True])
def test_secrets_never_reach_outputs(deployer: Deployer, tmp_path: Path, debug: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = deployer.config()
    config["task"]["containers"][0]["secrets"] = {"DB_PASSWORD": CONTAINER_SECRET}
    github_output, summary = tmp_path / "gh-output", tmp_path / "gh-summary"
    env = {"AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_SESSION_TOKEN": SESSION_TOKEN, "HOME": str(home),
           "GITHUB_OUTPUT": str(github_output), "GITHUB_STEP_SUMMARY": str(summary),
           "CI_ECS_DOTENV": str(tmp_path / "deploy.env")}
    args = ["--image", GOOD_IMAGE, "--output", "github"] + (["--debug"] if debug else [])
    run = deployer.run(config, *args, env=env)
    assert run.code == 0, run.stderr
    gitlab = deployer.run(config, "--image", GOOD_IMAGE, "--output", "gitlab", *(["--debug"] if debug else []),
                          env=env)
    assert gitlab.code == 0
    if debug:
        assert "X-Amz-Security-Token" in run.stderr  # the debug log is there, masked
    texts = [run.stdout, run.stderr, gitlab.stdout, gitlab.stderr, github_output.read_text(), summary.read_text(),
             (tmp_path / "deploy.env").read_text()]
    texts += [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file()]
    for text in texts:
        assert SECRET_KEY not in text
        assert SESSION_TOKEN not in text
    # The container secret is a reference (an ARN), not a value: it belongs in the task definition only.
    definition = deployer.ecs.describe_task_definition(taskDefinition=f"{deployer.cluster}-web")["taskDefinition"]
    assert definition["containerDefinitions"][0]["secrets"][0]["valueFrom"] == CONTAINER_SECRET
    assert re.search(r"^public-ips<<(\S+)\n203\.0\.113\.[0-9.,]+\n\1$", github_output.read_text(), re.M)
    assert json.dumps(run.stdout).count(SECRET_KEY) == 0
    assert not os.path.exists(home / ".docker" / "config.json")
