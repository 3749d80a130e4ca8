"""Issue 23, commands as users run them (items 9, 10, 12, 14), through the real `ci-ecs` command against moto.

Each test names the behaviour it failed on before the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import main
from tests.conftest import require_tool
from tests.core.helpers import config, write

TASK_FILE: dict[str, Any] = {
    "family": "shop",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True}],
}
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def _lines(result: Any) -> str:
    return str(result.stderr) + str(result.stdout)


@pytest.fixture
def shop(moto_aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A cluster `prod` with a service `shop` made elsewhere (as Terraform would), and no ci-ecs.yml here."""
    monkeypatch.chdir(tmp_path)
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="prod")
    arn = ecs.register_task_definition(**TASK_FILE)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="prod", serviceName="shop", taskDefinition=arn, desiredCount=1, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": moto_aws["subnets"][:1], "securityGroups": [moto_aws["security_group"]]}})
    (tmp_path / "td.json").write_text(json.dumps(TASK_FILE))
    return moto_aws


def _services(ecs: Any, cluster: str) -> list[str]:
    return sorted(a.rsplit("/", 1)[-1] for a in ecs.list_services(cluster=cluster)["serviceArns"])


# --- item 9: drop-in mode does not create what a typo names ---------------------------------------------------

def test_drop_in_deploy_to_a_missing_service_is_exit_2_listing_the_services(shop: dict[str, Any]) -> None:
    """Before: `--service typo` created a second service across the default VPC (exit 0)."""
    result = _invoke("deploy", "--cluster", "prod", "--service", "typo", "--task-definition", "td.json",
                     "--no-wait", "--output", "json")
    assert result.exit_code == 2, _lines(result)
    assert "service typo not found in cluster prod (its services: shop)" in result.stderr
    assert "--create" in result.stderr
    assert json.loads(result.stdout)["error"]  # the JSON result still comes, with the error
    assert _services(shop["ecs"], "prod") == ["shop"]
    # Nothing was written: no revision registered either.
    assert shop["ecs"].list_task_definitions(familyPrefix="shop")["taskDefinitionArns"][-1].endswith(":1")
    # A cluster that does not exist is not created for it either.
    missing = _invoke("deploy", "--cluster", "nope", "--service", "shop", "--task-definition", "td.json", "--no-wait")
    assert missing.exit_code == 2 and "cluster nope does not exist" in missing.stderr, _lines(missing)
    assert shop["ecs"].describe_clusters(clusters=["nope"])["clusters"] == []


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_a_service_is_created_with_create_or_a_service_section(shop: dict[str, Any], tmp_path: Path, how: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # moto refuses an awsvpc CreateService without security groups (ECS takes one and uses the VPC's default
    # group): the request is given one on its way to moto, whatever created it.
    import ci_ecs.ecs as gateway

    original = gateway.EcsGateway.create_service

    def with_group(self: Any, params: dict[str, Any]) -> Any:
        vpc = params["networkConfiguration"]["awsvpcConfiguration"]
        vpc.setdefault("securityGroups", [shop["security_group"]])
        return original(self, params)

    monkeypatch.setattr(gateway.EcsGateway, "create_service", with_group)
    args = ["deploy", "--cluster", "prod", "--service", "fresh", "--task-definition", "td.json", "--no-wait"]
    env: dict[str, str] = {}
    if how == "config":
        write(tmp_path / "ci-ecs.yml", {"service": {"desired_count": 1}})
    else:
        assert _invoke(*args).exit_code == 2  # neither a service section nor --create
        if how == "flag":
            args.append("--create")
        else:
            env["CI_ECS_CREATE"] = "true"
    result = _invoke(*args, env=env)
    assert result.exit_code == 0, _lines(result)
    assert _services(shop["ecs"], "prod") == ["fresh", "shop"]


# --- item 12: a missing default ci-ecs.yml says which file was looked for --------------------------------------

def test_missing_default_config_names_the_file_looked_for(moto_aws: dict[str, Any], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `error: service.name is required (in the file, CI_ECS_SERVICE or --service)`."""
    monkeypatch.chdir(tmp_path)
    result = _invoke("plan")
    assert result.exit_code == 2
    assert f"config file ci-ecs.yml not found (looked for {tmp_path / 'ci-ecs.yml'})" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_drop_in_flags_alone_still_deploy_without_a_config_file(shop: dict[str, Any]) -> None:
    result = _invoke("deploy", "--cluster", "prod", "--service", "shop", "--task-definition", "td.json",
                     "--image", "public.ecr.aws/nginx/nginx:1.28", "--no-wait", "--output", "json")
    assert result.exit_code == 0, _lines(result)
    assert json.loads(result.stdout)["taskDefinitionArn"].endswith("shop:2")


# --- item 14: secrets in --debug, in an endpoint URL, in a secret's ARN; hostile config files ------------------

def test_debug_masks_secret_environment_values_in_botocore_request_log(moto_aws: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    """Before: botocore's "Making request ... with params" line showed `"value": "hunter2hunter2"`."""
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    data["task"]["containers"][0]["environment"] = {"DB_PASSWORD": "hunter2hunter2", "GREETING": "hello"}
    data["task"]["containers"][0]["secrets"] = {"API_TOKEN": SECRET_ARN}
    path = write(tmp_path / "ci-ecs.yml", data)
    result = _invoke("deploy", "-c", str(path), "--debug", "--no-wait")
    assert result.exit_code == 0, _lines(result)
    requests = [line for line in result.stderr.splitlines() if "RegisterTaskDefinition) with params" in line]
    assert requests, result.stderr[-2000:]
    assert "hunter2hunter2" not in result.stderr
    assert '"name": "DB_PASSWORD", "value": "***"' in requests[0]
    assert '"name": "GREETING", "value": "hello"' in requests[0]  # useful debug output stays
    assert SECRET_ARN in requests[0]  # the ARN (valueFrom) intact, not cut at `:password:`


def test_plan_shows_a_secret_arn_unchanged(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """Before: the ARN printed as `...:secret:db-AbCdEf:password:***` (redact's `password:` shape)."""
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    data["task"]["containers"][0]["secrets"] = {"API_TOKEN": SECRET_ARN.replace("AbCdEf", "OlDoNe")}
    assert _invoke("deploy", "-c", str(write(tmp_path / "ci-ecs.yml", data))).exit_code == 0
    data["task"]["containers"][0]["secrets"] = {"API_TOKEN": SECRET_ARN}
    path = write(tmp_path / "ci-ecs.yml", data)
    result = _invoke("plan", "-c", str(path), "--output", "json")
    assert result.exit_code == 0, _lines(result)
    [change] = [c for c in json.loads(result.stdout)["changes"] if c["path"].endswith("valueFrom")]
    assert change["new"] == SECRET_ARN and change["old"] == SECRET_ARN.replace("AbCdEf", "OlDoNe")
    text = _invoke("plan", "-c", str(path))
    assert SECRET_ARN in text.stdout and "password:***" not in text.stdout, text.stdout


def test_endpoint_url_password_is_never_printed(aws_env: None, tmp_path: Path) -> None:
    """Before: errors and --debug lines quoted http://bob:s3cr3tpw@127.0.0.1:9/ whole."""
    data = config()
    path = write(tmp_path / "ci-ecs.yml", data)
    for extra in ([], ["--debug"]):
        result = _invoke("plan", "-c", str(path), "--endpoint-url", "http://bob:pw7@127.0.0.1:9", *extra,
                         env={"AWS_MAX_ATTEMPTS": "1"})
        assert result.exit_code != 0
        assert "pw7" not in _lines(result), _lines(result)[-2000:]
        assert "bob:***@127.0.0.1:9" in result.stderr, result.stderr[-2000:]
    invalid = _invoke("plan", "-c", str(path), "--endpoint-url", "http://bob:pw7@127.0.0.1:9 x")
    assert invalid.exit_code == 2 and "pw7" not in _lines(invalid), _lines(invalid)


def test_config_symlink_outside_the_working_tree_is_refused_unread(tmp_path: Path, moto_aws: dict[str, Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the target's first line came back in the error (`unknown key 'DB_PASSWORD'`)."""
    outside = tmp_path / "elsewhere" / "secrets.env"
    outside.parent.mkdir()
    outside.write_text("DB_PASSWORD: hunter2hunter2\n")
    tree = tmp_path / "checkout"
    tree.mkdir()
    (tree / "ci-ecs.yml").symlink_to(outside)
    monkeypatch.chdir(tree)
    result = _invoke("plan")
    assert result.exit_code == 2
    assert "symbolic link to a file outside the working tree" in result.stderr, result.stderr
    assert "DB_PASSWORD" not in _lines(result) and "hunter2" not in _lines(result)
    # A link inside the tree is read as the file itself.
    (tree / "real.yml").write_text(json.dumps(config()))
    (tree / "linked.yml").symlink_to(tree / "real.yml")
    assert "outside the working tree" not in _invoke("plan", "-c", "linked.yml").stderr


def test_config_fifo_is_refused_at_once(tmp_path: Path, aws_env: None) -> None:
    """Before: reading the FIFO waited for a writer for ever (the run hung until killed)."""
    fifo = tmp_path / "ci-ecs.yml"
    os.mkfifo(fifo)
    started = time.monotonic()
    ci_ecs = require_tool("ci-ecs", Path(sys.executable).parent / "ci-ecs")
    done = subprocess.run([ci_ecs, "plan"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr
    assert time.monotonic() - started < 30


def test_sts_style_credentials_in_debug_are_still_masked() -> None:
    """The ARN exception does not weaken the credential shapes outside ARNs."""
    from ci_ecs.redact import redact

    assert redact("aws_session_token = abcdefgh123") == "aws_session_token = ***"
    arn = f"'arn': '{SECRET_ARN}'"
    assert redact("{'password': 'x1', " + arn + "}") == "{'password': '***', " + arn + "}"
    assert redact("http://u:p@h/ and https://h/") == "http://u:***@h/ and https://h/"



# --- item 10: inputs that would be silently ignored are errors; service tags are applied ----------------------

def test_tag_without_anything_that_uses_it_is_exit_2(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """Before: exit 0, the unchanged image deployed (a user believed the release with that tag shipped)."""
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})  # an image per container, no repository
    path = write(tmp_path / "ci-ecs.yml", data)
    for args, env in ((["--tag", "v2"], {}), ([], {"CI_ECS_IMAGE_TAG": "v2"})):
        result = _invoke("deploy", "-c", str(path), *args, env=env)
        assert result.exit_code == 2, _lines(result)
        assert "--tag" in result.stderr and "nothing uses a tag" in result.stderr, result.stderr
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []  # nothing written
    assert _invoke("deploy", "-c", str(path)).exit_code == 0


def test_env_with_several_containers_names_env(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """Before: `task.environment_overrides: cannot tell which container ...` (a key no user typed)."""
    data = config(**{"service.security_groups": [moto_aws["security_group"]]})
    data["task"]["containers"].append({"name": "sidecar", "image": "public.ecr.aws/nginx/nginx:1.27",
                                       "essential": False})
    path = write(tmp_path / "ci-ecs.yml", data)
    result = _invoke("deploy", "-c", str(path), "--env", "MODE=x")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: --env: ") and "--container-name" in line and "web, sidecar" in line, line
    named = _invoke("deploy", "-c", str(path), "--env", "MODE=x", "--container-name", "web", "--output", "json")
    assert named.exit_code == 0, _lines(named)


def test_changed_service_tags_are_applied_and_others_kept(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    """Before: tags were CreateService-only; a changed `service.tags` on an existing service was ignored."""
    ecs = moto_aws["ecs"]
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "service.tags": {"team": "web"}})
    path = write(tmp_path / "ci-ecs.yml", data)
    assert _invoke("deploy", "-c", str(path)).exit_code == 0
    arn = ecs.describe_services(cluster="demo", services=["hello"])["services"][0]["serviceArn"]
    # Tags set by someone else: one the config then removes by name (null), one it never names.
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "cost-center", "value": "42"}, {"key": "legacy", "value": "1"}])

    data["service"]["tags"] = {"team": "api", "legacy": None}
    write(path, data)
    plan = _invoke("plan", "-c", str(path), "--output", "json")
    assert plan.exit_code == 0, _lines(plan)
    shown = json.loads(plan.stdout)
    assert shown["changed"] is True
    assert [c for c in shown["changes"] if c["path"].startswith("tags.")] == [
        {"resource": "service", "path": "tags.team", "old": "web", "new": "api"},
        {"resource": "service", "path": "tags.legacy", "old": "1"}]

    applied = _invoke("deploy", "-c", str(path), "--output", "json")
    assert applied.exit_code == 0, _lines(applied)
    assert json.loads(applied.stdout)["serviceAction"] == "updated"
    tags = {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"team": "api", "cost-center": "42"}
    again = _invoke("deploy", "-c", str(path), "--output", "json")
    assert json.loads(again.stdout)["serviceAction"] == "unchanged", _lines(again)

    policy = json.loads(_invoke("iam-policy", "-c", str(path)).stdout)
    [statement] = [s for s in policy["Statement"] if s["Sid"] == "EcsServiceTags"]
    assert statement["Action"] == ["ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource"]
    assert statement["Resource"].endswith(":service/demo/hello")
