"""Issue 23, item 11: `ci-ecs run-task` on the simulated sandbox ends (the README's migration example), through
the real command. The simulated runtime runs no command: a one-off task's containers exit 0 after a short run,
the crash label gives another code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ecs.sandbox import Sandbox
from ci_ecs.sandbox.runtimes.simulated import CRASH_LABEL, ONE_OFF_RUN_SECONDS
from tests.conftest import Run, require_tool


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, registry_port=0, task_start_seconds=0.3, validate_responses=True, runtime="simulated") as sb:
        yield sb
        violations = sb.take_violations()
        assert not violations, "sandbox responses that botocore's model refuses:\n" + "\n".join(violations[:20])


def _config(cluster: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                 "port_mappings": [{"container_port": 80}]}
    if labels:
        container["docker_labels"] = labels
    return {"cluster": cluster,
            "task": {"family": f"{cluster}-web", "cpu": "256", "memory": "512", "network_mode": "awsvpc",
                     "requires_compatibilities": ["FARGATE"],
                     "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     "containers": [container]},
            "service": {"name": "web", "desired_count": 1, "launch_type": "FARGATE", "assign_public_ip": True},
            "deploy": {"timeout": 60}}


def _run(sandbox: Sandbox, tmp_path: Path, config: dict[str, Any], *args: str) -> Run:
    (tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(config))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))}, **sandbox.env(),
           "HOME": str(tmp_path)}
    ci_ecs = require_tool("ci-ecs", Path(sys.executable).parent / "ci-ecs")
    done = subprocess.run([ci_ecs, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    sys.stderr.write(done.stderr)
    return Run(done.returncode, done.stdout, done.stderr)


def test_readme_migration_run_task_ends_with_exit_0(sandbox: Sandbox, tmp_path: Path) -> None:
    """Before: the task stayed RUNNING and the command waited for its whole timeout (15 minutes; exit 4)."""
    config = _config(f"c-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    # The README's command, as written there (its config: this directory's ci-ecs.yml).
    run = _run(sandbox, tmp_path, config, "run-task", "-c", "ci-ecs.yml", "--command",
               "python manage.py migrate --noinput", "--output", "json", "--timeout", "50")
    assert run.code == 0, run.stderr
    assert run.json["lastStatus"] == "STOPPED" and run.json["exitCode"] == 0
    assert run.json["stopCode"] == "EssentialContainerExited"
    assert time.monotonic() - started < 45
    assert run.json["durationSeconds"] >= ONE_OFF_RUN_SECONDS
    # The service's own tasks still run (only one-off tasks end by themselves).
    deployed = _run(sandbox, tmp_path, config, "deploy", "--output", "json")
    assert deployed.code == 0 and deployed.json["rolloutState"] == "COMPLETED", deployed.stderr
    status = _run(sandbox, tmp_path, config, "status", "--output", "json")
    assert [t["lastStatus"] for t in status.json["tasks"]] == ["RUNNING"], status.stdout


def test_crash_label_gives_a_one_off_task_its_exit_code(sandbox: Sandbox, tmp_path: Path) -> None:
    config = _config(f"c-{uuid.uuid4().hex[:8]}", labels={CRASH_LABEL: "3"})
    run = _run(sandbox, tmp_path, config, "run-task", "--output", "json", "--timeout", "50")
    assert run.code == 1, run.stderr
    assert run.json["exitCode"] == 3 and "web" in run.stderr
