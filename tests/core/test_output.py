"""Result rendering: GitHub outputs and summary, GitLab dotenv."""

from __future__ import annotations

import re
from pathlib import Path

from ci_ecs.output import plan_text, write_dotenv, write_github

RESULT = {"cluster": "demo", "service": "web", "serviceAction": "updated", "taskDefinitionArn": "arn:td/web:2",
          "taskDefinitionRegistered": True, "imageUri": "repo@sha256:abc", "publicIps": ["203.0.113.4", "203.0.113.5"],
          "servicePort": 8080, "rolloutState": "COMPLETED"}


def test_github_outputs_and_summary(tmp_path: Path) -> None:
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    write_github(RESULT, env)
    # name<<DELIMITER / value / DELIMITER (GitHub's multi-line syntax), read back as name=value
    text = (tmp_path / "out").read_text()
    lines = [f"{m[1]}={m[3]}" for m in re.finditer(r"^([\w-]+)<<(\S+)\n(.*)\n\2$", text, re.M)]
    assert "public-ips=203.0.113.4,203.0.113.5" in lines
    assert "task-definition-arn=arn:td/web:2" in lines
    assert "service-url=http://203.0.113.4:8080" in lines
    assert "task-definition-registered=true" in lines
    assert "| public-ips | `203.0.113.4,203.0.113.5` |" in (tmp_path / "summary").read_text()


def test_dotenv_never_names_an_input(tmp_path: Path) -> None:
    """GitLab gives dotenv variables priority over a later job's own: outputs must not be inputs."""
    write_dotenv(RESULT, tmp_path / "ci-ecs.env")
    values = dict(line.split("=", 1) for line in (tmp_path / "ci-ecs.env").read_text().splitlines())
    assert values["CI_ECS_PUBLIC_IPS"] == "203.0.113.4,203.0.113.5"
    assert values["CI_ECS_DEPLOYED_SERVICE"] == "web" and values["CI_ECS_DEPLOYED_CLUSTER"] == "demo"
    inputs = {"CI_ECS_CLUSTER", "CI_ECS_SERVICE", "CI_ECS_IMAGE", "CI_ECS_IMAGE_TAG", "CI_ECS_TIMEOUT",
              "CI_ECS_DESIRED_COUNT", "CI_ECS_CONFIG", "CI_ECS_REGION", "CI_ECS_OUTPUT", "CI_ECS_WAIT"}
    assert not inputs & set(values)


def test_plan_text() -> None:
    text = plan_text({"changes": [{"resource": "service", "path": "desiredCount", "old": 2, "new": 3},
                                  {"resource": "taskDefinition", "path": "taskDefinition", "new": "web"}]})
    assert text.splitlines() == ["service:", "  ~ desiredCount: 2 -> 3", "taskDefinition:",
                                 '  + taskDefinition: "web"']
    assert plan_text({"changes": []}).startswith("no changes")


def _summary_heading(tmp_path: Path, result: dict) -> str:
    summary = tmp_path / "summary"
    summary.unlink(missing_ok=True)
    write_github(result, {"GITHUB_STEP_SUMMARY": str(summary)})
    return summary.read_text().splitlines()[0]


def test_summary_heading_names_what_was_done(tmp_path: Path) -> None:
    """A register-only run has no service: the heading names the task definition, not an empty service."""
    from ci_ecs.deploy import RegisterResult

    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/batch:4"
    registered = RegisterResult(taskDefinitionArn=arn, taskDefinitionRegistered=True, family="batch", revision=4)
    assert _summary_heading(tmp_path, registered.as_json()) == "### ci-ecs: task definition batch:4 registered"
    unchanged = RegisterResult(taskDefinitionArn=arn, family="batch", revision=4)
    assert _summary_heading(tmp_path, unchanged.as_json()) == "### ci-ecs: task definition batch:4 unchanged"
    two = RegisterResult(taskDefinitionArn=f"{arn},{arn.replace('batch:4', 'cron|x:1')}", taskDefinitionRegistered=True)
    assert _summary_heading(tmp_path, two.as_json()) == "### ci-ecs: task definition batch:4, cron\\|x:1 registered"
    dry = RegisterResult(family="batch", taskDefinitionRegistered=True, dryRun=True)
    assert _summary_heading(tmp_path, dry.as_json()) == "### ci-ecs: task definition batch would be registered"
    failed = RegisterResult(error="task is required").as_json()
    assert _summary_heading(tmp_path, failed) == "### ci-ecs: task definition failed"
    # A deploy still names its service; run-task its task.
    assert _summary_heading(tmp_path, RESULT) == "### ci-ecs: web deployed"
    assert _summary_heading(tmp_path, {**RESULT, "error": "boom"}) == "### ci-ecs: web failed"
    from ci_ecs.deploy import DeployResult

    early = DeployResult(cluster="", service="").as_json()  # a deploy that failed before it knew its service
    assert _summary_heading(tmp_path, {**early, "error": "bad config"}) == "### ci-ecs: deploy failed"
    ran = {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/1", "taskDefinitionArn": arn, "exitCode": 0}
    assert _summary_heading(tmp_path, ran) == "### ci-ecs: task of batch:4 exited 0"
