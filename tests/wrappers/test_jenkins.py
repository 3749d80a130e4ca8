"""The Jenkins step `deployToEcs`, run by jenkins/test/harness.groovy (Debian groovy) against the sandbox.

The harness binds the pipeline steps the library uses; its `sh` really runs the script (`/bin/sh -xe`),
so the real ci-ecs deploys to the real sandbox.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from ci_ecs import __version__

from .conftest import (
    INJECTION,
    JAVA_HOME,
    PWNED_FILES,
    REPO,
    SECRETS,
    SandboxProcess,
    child_env,
    copy_repo,
    docs_block,
    leftover_texts,
    npm_tool,
    require_tool,
    write_config,
    write_tagged_config,
)

pytestmark = pytest.mark.wrappers

STEP = REPO / "jenkins" / "vars" / "deployToEcs.groovy"
# What deployToEcs and runEcsTask share: the script, the install, the result (a global variable of the library).
INTERNAL = REPO / "jenkins" / "vars" / "ciEcsInternal.groovy"
HARNESS = REPO / "jenkins" / "test" / "harness.groovy"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42"  # what withCredentials binds; must never be in a script


def run_step(tmp_path: Path, sandbox: SandboxProcess, params: dict[str, Any], *,
             credentials: dict[str, Any] | None = None, env: dict[str, str] | None = None,
             step: str = "deployToEcs") -> dict[str, Any]:
    """Runs STEP(params) (deployToEcs) in the harness with the workspace tmp_path/ws; returns the harness report."""
    groovy = require_tool("groovy")
    if not Path(JAVA_HOME).exists():
        require_tool("java-17", JAVA_HOME)
    workspace = _workspace(tmp_path)
    scenario = {
        "vars": str(REPO / "jenkins" / "vars"), "step": step, "params": params,
        "workspace": str(workspace), "credentials": credentials or {},
        "env": child_env(sandbox, **(env or {})),
    }
    scenario_file = tmp_path / f"scenario-{uuid.uuid4().hex[:8]}.json"
    report_file = scenario_file.with_suffix(".report.json")
    scenario_file.write_text(json.dumps(scenario))
    proc = subprocess.run([groovy, str(HARNESS), str(scenario_file), str(report_file)],
                          env={**os.environ, "JAVA_HOME": JAVA_HOME}, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"harness crashed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(report_file.read_text())


def test_deploy_returns_public_ips(tmp_path: Path, sandbox: SandboxProcess) -> None:
    write_config(_workspace(tmp_path), "jenkins", "web")
    report = run_step(tmp_path, sandbox, {"cluster": "jenkins", "service": "web", "desiredCount": 2,
                                          "region": "us-east-1", "install": ""})
    assert report["error"] is None, report["log"]
    result = report["result"]
    assert result["rolloutState"] == "COMPLETED"
    assert len(result["publicIps"]) == 2
    assert all(ip.startswith("203.0.113.") for ip in result["publicIps"])
    assert result["taskDefinitionArn"].endswith(":task-definition/web:1")
    (script,) = report["scripts"]
    assert script["env"]["CI_ECS_CLUSTER"] == "jenkins"
    assert script["env"]["CI_ECS_DESIRED_COUNT"] == "2"
    assert "CI_ECS_IMAGE_TAG" not in script["env"]  # null parameters are not passed


def test_unknown_key_fails_naming_it(tmp_path: Path, sandbox: SandboxProcess) -> None:
    report = run_step(tmp_path, sandbox, {"cluster": "jenkins", "servce": "web", "credentialId": "x"})
    assert report["result"] is None
    assert report["error"].startswith("deployToEcs: unknown parameter(s): credentialId, servce ")
    assert report["scripts"] == []  # nothing ran


def test_values_reach_ci_ecs_literally(tmp_path: Path, sandbox: SandboxProcess) -> None:
    workspace = _workspace(tmp_path)
    config_name = f"{INJECTION}.yml"
    write_config(workspace, "jenkins-literal", "literal", name=config_name)
    report = run_step(tmp_path, sandbox, {"config": config_name, "install": ""})
    # ci-ecs found the file by its literal name, so the deploy worked; nothing was executed.
    assert report["error"] is None, report["log"]
    assert report["result"]["service"] == "literal"
    for name in PWNED_FILES:
        assert not (workspace / name).exists(), f"{name} was created: a value was evaluated by a shell"
    (script,) = report["scripts"]
    assert script["env"]["CI_ECS_CONFIG"] == config_name
    assert INJECTION not in script["script"]
    assert script["script"] == _deploy_script()


def test_credentials_never_in_a_script(tmp_path: Path, sandbox: SandboxProcess) -> None:
    write_config(_workspace(tmp_path), "jenkins-creds", "creds")
    credentials = {"aws-deploy": {"accessKey": "AKIAJENKINSHARNESS01", "secretKey": SECRET_KEY}}
    report = run_step(tmp_path, sandbox, {"credentialsId": "aws-deploy", "install": ""}, credentials=credentials)
    assert report["error"] is None, report["log"]
    assert report["result"]["publicIps"]
    (script,) = report["scripts"]
    assert script["awsAccessKeyId"] == "AKIAJENKINSHARNESS01"  # the binding reached sh's environment
    assert "AWS_SECRET_ACCESS_KEY" in script["envKeys"]
    for recorded in report["scripts"]:
        assert SECRET_KEY not in recorded["script"]
        assert SECRET_KEY not in json.dumps(recorded["env"])
    assert SECRET_KEY not in report["log"]


def test_failing_deploy_fails_with_the_reason(tmp_path: Path, sandbox: SandboxProcess, missing_image: str) -> None:
    write_config(_workspace(tmp_path), "jenkins-fail", "broken")
    report = run_step(tmp_path, sandbox, {"image": missing_image, "containerName": ["web"], "install": ""})
    assert report["result"] is None
    assert report["error"].startswith("deployToEcs: ci-ecs deploy failed (exit code 1): ")
    assert "CannotPullContainerError" in report["log"]


def test_issue14_keys_reach_ci_ecs(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """taskDefinitionFamily + env (a Map) + keepNullValueKeys + verify: false, then taskDefinition as an ARN."""
    write_config(_workspace(tmp_path), "jenkins-keys", "keys")
    first = run_step(tmp_path, sandbox, {"install": ""})
    assert first["error"] is None, first["log"][-4000:]
    base_arn = first["result"]["taskDefinitionArn"]
    assert base_arn.endswith(":task-definition/keys:1")

    params = {"taskDefinitionFamily": "keys", "env": {"GREETING": "hello world", "QUOTED": INJECTION},
              "keepNullValueKeys": True, "verify": False, "install": ""}
    report = run_step(tmp_path, sandbox, params)
    assert report["error"] is None, report["log"][-4000:]
    assert report["result"]["taskDefinitionArn"].endswith(":task-definition/keys:2")
    (script,) = report["scripts"]
    assert script["env"]["CI_ECS_TASK_DEFINITION_FAMILY"] == "keys"
    # One line per entry (the harness's JSON Map has no order; a pipeline's Map literal keeps its own).
    assert sorted(script["env"]["CI_ECS_ENV"].split("\n")) == ["GREETING=hello world", f"QUOTED={INJECTION}"]
    assert script["env"]["CI_ECS_KEEP_NULL_VALUE_KEYS"] == "true" and script["env"]["CI_ECS_VERIFY"] == "false"
    ecs = sandbox.client("ecs")
    (container,) = ecs.describe_task_definition(taskDefinition="keys:2")["taskDefinition"]["containerDefinitions"]
    assert {"name": "GREETING", "value": "hello world"} in container["environment"]
    assert {"name": "QUOTED", "value": INJECTION} in container["environment"]  # literally, nothing evaluated
    assert not any((_workspace(tmp_path) / name).exists() for name in PWNED_FILES)
    again = run_step(tmp_path, sandbox, params)
    assert again["error"] is None and again["result"]["serviceAction"] == "unchanged", again["log"][-4000:]

    # An ARN is deployed as it is: nothing registered, the service goes back to revision 1.
    by_arn = run_step(tmp_path, sandbox, {"taskDefinition": base_arn, "install": ""})
    assert by_arn["error"] is None, by_arn["log"][-4000:]
    assert by_arn["result"]["taskDefinitionArn"] == base_arn
    assert by_arn["result"]["taskDefinitionRegistered"] is False
    assert by_arn["scripts"][0]["env"]["CI_ECS_TASK_DEFINITION"] == base_arn
    revisions = ecs.list_task_definitions(familyPrefix="keys")["taskDefinitionArns"]
    assert [arn.rsplit(":", 1)[1] for arn in revisions] == ["1", "2"]


def test_env_line_break_forges_no_variable(tmp_path: Path, sandbox: SandboxProcess) -> None:
    for env, error in [({"GREETING": "hi\nCI_ECS_CLUSTER=elsewhere"},
                        "deployToEcs: env: the value of GREETING has a line break (each value must be one line)"),
                       ({"A\rB": "x"}, 'deployToEcs: env: "A\\rB" is not a name (empty, or has \'=\' or a line break)'),
                       ({"A=B": "x"}, 'deployToEcs: env: "A=B" is not a name (empty, or has \'=\' or a line break)')]:
        report = run_step(tmp_path, sandbox, {"env": env, "install": ""})
        assert report["error"] == error
        assert report["scripts"] == []  # nothing ran


def test_verify_reaches_ci_ecs(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """verify: true probes the tasks; the simulated runtime's documentation-range IPs fail it without a request."""
    write_config(_workspace(tmp_path), "jenkins-verify", "verify")
    report = run_step(tmp_path, sandbox, {"verify": True, "install": ""})
    assert (report["error"] or "").startswith("deployToEcs: ci-ecs deploy failed (exit code 1): ")
    assert "address not reachable" in report["log"], report["log"][-4000:]


def test_install_into_a_venv(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """`install` pip-installs into WORKSPACE@tmp/ci-ecs-venv, and a second call reuses the venv."""
    write_config(_workspace(tmp_path), "jenkins-venv", "venv")
    # No ci-ecs on the PATH: only the venv's can run.
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "ci-ecs").exists())
    path = f"{Path(_python()).parent}:{path}"
    report = run_step(tmp_path, sandbox, {"install": str(REPO), "python": _python()}, env={"PATH": path})
    assert report["error"] is None, report["log"]
    assert report["result"]["publicIps"]
    assert "deployToEcs: installing" in report["log"]
    assert (tmp_path / "ws@tmp" / "ci-ecs-venv" / "bin" / "ci-ecs").exists()
    again = run_step(tmp_path, sandbox, {"install": str(REPO), "python": _python()}, env={"PATH": path})
    assert again["error"] is None, again["log"]
    assert "deployToEcs: installing" not in again["log"]
    assert again["result"]["serviceAction"] == "unchanged"


def test_default_install_matches_the_package_version() -> None:
    """The library ships its ci-ecs version and pins; the default install is never a name on an index."""
    resources = REPO / "jenkins" / "resources" / "ci-ecs"
    assert (resources / "version.txt").read_text().strip() == __version__
    assert (resources / "constraints.txt").read_text() == (REPO / "wrappers" / "constraints.txt").read_text()
    assert "    install: null," in STEP.read_text()
    assert 'options.install = "git+${repository}@v${version}"' in INTERNAL.read_text()
    for text in (STEP.read_text(), INTERNAL.read_text()):
        assert "ci-ecs==" not in text.replace("'ci-ecs==${version}' once released", "").replace("'ci-ecs==0.1.0'", "")


def test_no_repository_no_install_refuses_in_one_line(tmp_path: Path, sandbox: SandboxProcess) -> None:
    report = run_step(tmp_path, sandbox, {"cluster": "jenkins"})
    assert report["error"] == ("deployToEcs: set `repository` (or env.CI_ECS_REPOSITORY) to the git URL of the "
                               "ci-ecs library, or `install` to what to pip-install (e.g. "
                               f"'ci-ecs=={__version__}' once released)")
    assert report["scripts"] == []


def test_bad_config_fails_with_the_reason(tmp_path: Path, sandbox: SandboxProcess) -> None:
    report = run_step(tmp_path, sandbox, {"config": "missing.yml", "install": ""})
    assert report["error"].startswith("deployToEcs: ci-ecs deploy failed (exit code 2): ")
    assert "missing.yml" in report["error"], report["error"]


def test_failed_install_fails_with_the_reason(tmp_path: Path, sandbox: SandboxProcess) -> None:
    report = run_step(tmp_path, sandbox, {"install": str(tmp_path / "no-such-project"), "python": _python()})
    assert report["error"].startswith("deployToEcs: installing ci-ecs failed: ERROR: "), report["error"]
    assert "no-such-project" in report["error"]


def test_install_url_password_with_at_sign_is_masked_whole(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """A password holding `@` in `install`: the log and the error show `***@host`, never the password's tail."""
    secret_tail = "TAILOFTHEPASSWORD"
    url = f"git+https://jenkins:pa55@{secret_tail}@127.0.0.1:1/my-group/ci-ecs.git@v0.1.0"
    report = run_step(tmp_path, sandbox, {"install": url, "python": _python()})
    assert report["error"].startswith("deployToEcs: installing ci-ecs failed: "), report["error"]
    assert "deployToEcs: installing git+https://***@127.0.0.1:1/my-group/ci-ecs.git@v0.1.0 into" in report["log"]
    for text in (report["log"], report["error"]):
        assert secret_tail not in text and "pa55" not in text


def test_documented_example_runs_as_written(tmp_path: Path, sandbox: SandboxProcess) -> None:
    """docs/wrappers.md's deployToEcs call; the library's repository (env.CI_ECS_REPOSITORY) is a local clone."""
    call = docs_block("### Use it", "groovy").split("deployToEcs(", 1)[1].split(")", 1)[0]
    params: dict[str, Any] = {}
    for name, literal, env_name in re.findall(r"(\w+): (?:'([^']*)'|env\.(\w+))", call):
        params[name] = literal if not env_name else {"GIT_COMMIT": "0123abcd"}[env_name]
    assert set(params) >= {"config", "cluster", "service", "region", "credentialsId"}, call
    repo = copy_repo(tmp_path / "ci-ecs")
    subprocess.run(["git", "tag", f"v{__version__}"], cwd=repo, check=True)
    write_tagged_config(_workspace(tmp_path), sandbox, "jenkins-docs", "docs", params["tag"])
    credentials = {params["credentialsId"]: {"accessKey": "testing", "secretKey": "testing"}}
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "ci-ecs").exists())
    report = run_step(tmp_path, sandbox, params, credentials=credentials,
                      env={"CI_ECS_REPOSITORY": f"file://{repo}", "PATH": f"{Path(_python()).parent}:{path}"})
    assert report["error"] is None, report["log"][-4000:]
    assert f"installing git+file://{repo}@v{__version__} into" in report["log"]
    assert report["result"]["rolloutState"] == "COMPLETED" and report["result"]["publicIps"]


@pytest.mark.parametrize("debug", [False, True])
def test_secrets_reach_no_log_result_or_file(tmp_path: Path, sandbox: SandboxProcess, debug: bool) -> None:
    workspace = _workspace(tmp_path)
    write_config(workspace, "jenkins-secrets", "secrets")
    credentials = {"aws": {"accessKey": SECRETS["access_key_id"], "secretKey": SECRETS["secret_access_key"]}}
    report = run_step(tmp_path, sandbox, {"credentialsId": "aws", "install": "", "debug": debug},
                      credentials=credentials,
                      env={"AWS_SESSION_TOKEN": SECRETS["session_token"], "AWS_ID_TOKEN": SECRETS["oidc_token"]})
    assert report["error"] is None, report["log"][-4000:]
    if debug:
        assert "Credential=***/" in report["log"]
    texts = [("log", report["log"]), ("result", json.dumps(report["result"]))]
    texts += leftover_texts(workspace, tmp_path / "ws@tmp", skip=("/ci-ecs-venv/",))
    for where, text in texts:
        for name, value in SECRETS.items():
            assert value not in text, f"{name} is in {where}"


def test_every_parameter_has_a_comment_and_a_doc_entry() -> None:
    text = STEP.read_text()
    block = text.split("DEFAULTS = [", 1)[1].split("\n]", 1)[0]
    lines = block.strip().splitlines()
    keys = [m.group(1) for m in (re.match(r"\s*(\w+):", line) for line in lines) if m]
    assert len(keys) > 15
    help_text = (REPO / "jenkins" / "vars" / "deployToEcs.txt").read_text()
    for index, line in enumerate(lines):
        if re.match(r"\s*\w+:", line):
            assert lines[index - 1].strip().startswith("//"), f"no comment above {line.strip()}"
    for key in keys:
        assert f"<code>{key}</code>" in help_text, f"{key} is not in deployToEcs.txt"


# Variables a step's own script reads (how it installs ci-ecs; ecsPreview's subcommand), not `ci-ecs` itself.
STEP_ONLY_VARIABLES = {"CI_ECS_INSTALL", "CI_ECS_PYTHON", "CI_ECS_PREVIEW_ACTION"}
# Options of the command a step deliberately does not offer, and why.
NOT_A_STEP_PARAMETER = {"output_format": "the step always reads ci-ecs' JSON result (--output json)"}


@pytest.mark.parametrize(("step", "command"), [("deployToEcs", "deploy"), ("runEcsTask", "run-task"),
                                              ("ecsPreview", "preview up")])
def test_step_variables_match_the_cli_options(step: str, command: str) -> None:
    """Issue 24: the steps' CI_ECS_* names are not copied by hand without a check. Each variable a step sets is
    one `ci-ecs COMMAND` reads (else its parameter would silently do nothing), and each option of the command is
    a step parameter (else a Jenkins user cannot reach it), unless listed above with the reason."""
    from ci_ecs.cli import main

    text = (REPO / "jenkins" / "vars" / f"{step}.groovy").read_text()
    block = text.split("ENV_NAMES = [", 1)[1].split("\n]", 1)[0]
    env_names = dict(re.findall(r"^\s*(\w+): '(CI_ECS_\w+)',?\s*$", block, re.MULTILINE))
    assert len(env_names) == len([line for line in block.splitlines() if line.strip()]), block
    cli = main
    for word in command.split():
        cli = cli.commands[word]  # type: ignore[attr-defined]  # a group's subcommand
    options = {param.name: [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
               for param in cli.params}
    read_by_cli = {name for names in options.values() for name in names}
    for parameter, variable in env_names.items():
        assert variable in read_by_cli | STEP_ONLY_VARIABLES, \
            f"{step}.{parameter} sets {variable}, which `ci-ecs {command}` does not read"
    for option, variables in options.items():
        assert set(variables) & set(env_names.values()) or option in NOT_A_STEP_PARAMETER, \
            f"`ci-ecs {command}` option {option} ({', '.join(variables)}) has no {step} parameter"
    defaults = text.split("DEFAULTS = [", 1)[1].split("\n]", 1)[0]
    assert set(re.findall(r"^\s*(\w+):", defaults, re.MULTILINE)) >= set(env_names), "a mapped name with no default"


def test_groovy_lint_clean(tmp_path: Path) -> None:
    lint = npm_tool("npm-groovy-lint")
    proc = subprocess.run(
        [lint, "--failon", "info", "--noserver", "--output", "txt", "--files", "**/*.groovy,**/Jenkinsfile"],
        cwd=REPO / "jenkins", capture_output=True, text=True, timeout=240,
        env={**os.environ, "JAVA_HOME": JAVA_HOME, "PATH": f"{JAVA_HOME}/bin:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return workspace


def _deploy_script() -> str:
    text = INTERNAL.read_text()
    return text.split("CI_ECS_SCRIPT = '''", 1)[1].split("'''", 1)[0]


def _python() -> str:
    import sys

    return sys.executable
