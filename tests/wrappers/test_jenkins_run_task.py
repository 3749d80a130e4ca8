"""The Jenkins step `runEcsTask`, run by jenkins/test/harness.groovy (Debian groovy) against the sandbox.

The harness's `sh` really runs the step's script, so the real `ci-ecs run-task` runs the task on the sandbox.
The wrappers' sandbox runs tasks on its simulated runtime, where a task runs until stopped; a container label
(`ci-ecs.sandbox/exit-code`, ci_ecs/sandbox/runtimes/simulated.py) makes its container exit with that code,
so the waiting cases see a real STOPPED task with an exit code. The injection case starts the task with
`wait: false`, as tests/wrappers/test_run_task_gitlab.py does. Containers that really run (logs, SIGTERM)
are tests/e2e/test_lifecycle_docker.py's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_ecs import __version__

from .conftest import (
    INJECTION,
    PWNED_FILES,
    REPO,
    SandboxProcess,
    copy_repo,
    docs_block,
    write_config,
    write_tagged_config,
)
from .test_jenkins import INTERNAL, SECRET_KEY, _python, _workspace, run_step

pytestmark = pytest.mark.wrappers

STEP = REPO / "jenkins" / "vars" / "runEcsTask.groovy"


def write_task_config(directory: Path, cluster: str, family: str, exit_code: int | None,
                      name: str = "ci-ecs.yml") -> Path:
    """The wrappers' config; with `exit_code`, the container exits with it as soon as it runs."""
    path = write_config(directory, cluster, family, name=name)
    if exit_code is not None:
        text = path.read_text()
        ports = "      port_mappings: [{container_port: 80}]\n"
        label = f'      docker_labels: {{"ci-ecs.sandbox/exit-code": "{exit_code}"}}\n'
        assert ports in text
        path.write_text(text.replace(ports, ports + label))
    return path


def test_migration_exits_zero(tmp_path: Path, sandbox: SandboxProcess) -> None:
    write_task_config(_workspace(tmp_path), "jenkins-run", "migrate-ok", exit_code=0)
    credentials = {"aws-deploy": {"accessKey": "AKIAJENKINSRUNTASK01", "secretKey": SECRET_KEY}}
    report = run_step(tmp_path, sandbox, {"command": "python manage.py migrate --noinput", "install": "",
                                          "env": {"DJANGO_SETTINGS_MODULE": "app.settings.prod"},
                                          "credentialsId": "aws-deploy"},
                      credentials=credentials, step="runEcsTask")
    assert report["error"] is None, report["log"][-4000:]
    result = report["result"]
    assert (result["lastStatus"], result["exitCode"]) == ("STOPPED", 0)
    assert result["containers"] == [{"name": "web", "exitCode": 0, "reason": None}]
    assert result["taskDefinitionArn"].endswith(":task-definition/migrate-ok:1")
    task = sandbox.client("ecs").describe_tasks(cluster="jenkins-run", tasks=[result["taskArn"]])["tasks"][0]
    assert task["startedBy"] == "ci-ecs"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert override["environment"] == [{"name": "DJANGO_SETTINGS_MODULE", "value": "app.settings.prod"}]
    (script,) = report["scripts"]
    assert script["label"] == "ci-ecs run-task"
    assert script["env"]["CI_ECS_SUBCOMMAND"] == "run-task"
    assert script["awsAccessKeyId"] == "AKIAJENKINSRUNTASK01"  # withCredentials reached sh's environment
    assert SECRET_KEY not in report["log"] + json.dumps(script["env"]) + script["script"]
    assert "ci-ecs-result=" not in report["log"]  # that line is deployToEcs's (`ci-ecs jenkins run` reads it)


def test_failing_migration_fails_naming_container_and_exit_code(tmp_path: Path, sandbox: SandboxProcess) -> None:
    write_task_config(_workspace(tmp_path), "jenkins-run", "migrate-bad", exit_code=3)
    report = run_step(tmp_path, sandbox, {"command": "./migrate.sh", "install": ""}, step="runEcsTask")
    assert report["result"] is None
    assert re.fullmatch(r"runEcsTask: ci-ecs run-task failed \(exit code 1\): task [0-9a-f-]+: "
                        r"container web exited with code 3", report["error"]), report["error"]
    # The task did run and stop with that code: the sandbox says so, not only ci-ecs.
    ecs = sandbox.client("ecs")
    arns = ecs.list_tasks(cluster="jenkins-run", family="migrate-bad", desiredStatus="STOPPED")["taskArns"]
    (task,) = ecs.describe_tasks(cluster="jenkins-run", tasks=arns)["tasks"]
    assert task["containers"][0]["exitCode"] == 3


def test_injection_forges_nothing(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """Command, env values and the config's name reach ci-ecs literally; a line break cannot add a variable."""
    workspace = _workspace(tmp_path)
    config_name = f"{INJECTION}.yml"
    write_task_config(workspace, "jenkins-run", "migrate-literal", exit_code=None, name=config_name)
    report = run_step(tmp_path, sandbox, {"config": config_name, "command": INJECTION, "wait": False,
                                          "env": {"QUOTED": INJECTION}, "install": ""}, step="runEcsTask")
    assert report["error"] is None, report["log"][-4000:]
    for name in PWNED_FILES:
        assert not (workspace / name).exists(), f"{name} was created: a value was evaluated by a shell"
    task = sandbox.client("ecs").describe_tasks(cluster="jenkins-run", tasks=[report["result"]["taskArn"]])["tasks"][0]
    (override,) = task["overrides"]["containerOverrides"]
    assert override["command"] == shlex.split(INJECTION)  # split like a shell splits words, nothing evaluated
    assert override["environment"] == [{"name": "QUOTED", "value": INJECTION}]
    (script,) = report["scripts"]
    assert INJECTION not in script["script"]
    assert script["script"] == INTERNAL.read_text().split("CI_ECS_SCRIPT = '''", 1)[1].split("'''", 1)[0]
    assert script["env"]["CI_ECS_COMMAND"] == INJECTION and script["env"]["CI_ECS_WAIT"] == "false"

    forged = run_step(tmp_path, sandbox, {"config": config_name, "install": "", "wait": False,
                                          "env": {"GREETING": "hi\nAWS_ENDPOINT_URL=http://127.0.0.9"}},
                      step="runEcsTask")
    assert forged["error"] == ("runEcsTask: env: the value of GREETING has a line break "
                               "(each value must be one line)")
    assert forged["scripts"] == []  # nothing ran


def test_unknown_key_fails_naming_it(tmp_path: Path, sandbox: SandboxProcess) -> None:
    report = run_step(tmp_path, sandbox, {"comand": "x", "containerName": "web", "dryRun": True},
                      step="runEcsTask")
    assert report["result"] is None
    assert report["error"].startswith("runEcsTask: unknown parameter(s): comand, dryRun (known: ")
    assert report["scripts"] == []


def test_documented_example_runs_as_written(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """docs/wrappers.md's runEcsTask call, installing from the library's repository (a local clone) at its tag."""
    block = docs_block("Jenkins (`runEcsTask`", "groovy")
    call = block.split("runEcsTask(", 1)[1].split(")", 1)[0]
    params: dict[str, Any] = {}
    for name, literal, env_name in re.findall(r"(\w+): (?:'([^']*)'|env\.(\w+))", call):
        params[name] = literal if not env_name else {"GIT_COMMIT": "0123abcd"}[env_name]
    assert set(params) >= {"config", "command", "credentialsId"}, call
    assert "deployToEcs(" in block.split("runEcsTask(", 1)[1]  # the migration comes before the deploy
    repo = copy_repo(tmp_path / "ci-ecs")
    subprocess.run(["git", "tag", f"v{__version__}"], cwd=repo, check=True)
    path = write_tagged_config(_workspace(tmp_path), sandbox, "jenkins-run-docs", "migrate-docs", params["tag"],
                               name=params["config"])
    ports = "      port_mappings: [{container_port: 80}]\n"
    path.write_text(path.read_text().replace(ports, ports + '      docker_labels: {"ci-ecs.sandbox/exit-code": "0"}\n'))
    credentials = {params["credentialsId"]: {"accessKey": "testing", "secretKey": "testing"}}
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "ci-ecs").exists())
    report = run_step(tmp_path, sandbox, params, credentials=credentials, step="runEcsTask",
                      env={"CI_ECS_REPOSITORY": f"file://{repo}", "PATH": f"{Path(_python()).parent}:{path}"})
    assert report["error"] is None, report["log"][-4000:]
    assert f"runEcsTask: installing git+file://{repo}@v{__version__} into" in report["log"]
    assert (report["result"]["lastStatus"], report["result"]["exitCode"]) == ("STOPPED", 0)


def test_every_parameter_has_a_comment_and_a_doc_entry() -> None:
    text = STEP.read_text()
    block = text.split("DEFAULTS = [", 1)[1].split("\n]", 1)[0]
    lines = block.strip().splitlines()
    keys = [m.group(1) for m in (re.match(r"\s*(\w+):", line) for line in lines) if m]
    assert {"config", "command", "containerName", "env", "credentialsId", "install"} <= set(keys)
    help_text = (REPO / "jenkins" / "vars" / "runEcsTask.txt").read_text()
    for index, line in enumerate(lines):
        if re.match(r"\s*\w+:", line):
            assert lines[index - 1].strip().startswith("//"), f"no comment above {line.strip()}"
    for key in keys:
        assert f"<code>{key}</code>" in help_text, f"{key} is not in runEcsTask.txt"
