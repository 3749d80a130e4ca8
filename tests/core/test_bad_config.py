"""Bad input: exit 2, one line naming the key (and the file line), no traceback, nothing written to AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_ecs.cli import main
from tests.core.helpers import config, write

GOOD = """\
region: us-east-1
cluster: demo
task:
  family: hello
  cpu: "256"
  memory: "512"
  network_mode: awsvpc
  requires_compatibilities: [FARGATE]
  containers:
    - name: web
      image: nginx:1.27
      port_mappings: [{container_port: 80}]
service:
  name: hello
  desired_count: 2
  launch_type: FARGATE
"""

# (id, replace this text of GOOD with that, expected fragments of the one-line error)
CASES: list[tuple[str, str, str, list[str]]] = [
    ("yaml-syntax", "cluster: demo", "cluster: [demo", ["invalid YAML", "ci-ecs.yml:"]),
    ("unknown-top-key", "cluster: demo", "clustr: demo", ["clustr", "did you mean 'cluster'", ":2:"]),
    ("unknown-nested-key", "desired_count: 2", "desired_cout: 2",
     ["service.desired_cout", "did you mean 'desired_count'", ":15:"]),
    ("unknown-container-key", "port_mappings:", "port_mapings:",
     ["task.containers[0].port_mapings", "did you mean 'port_mappings'", ":12:"]),
    ("negative-count", "desired_count: 2", "desired_count: -1", ["service.desired_count", "greater than", ":15:"]),
    ("count-not-a-number", "desired_count: 2", "desired_count: two", ["service.desired_count", "integer"]),
    ("count-is-a-boolean", "desired_count: 2", "desired_count: true", ["service.desired_count", "not true", ":15:"]),
    ("switch-is-a-string", "launch_type: FARGATE", "launch_type: FARGATE\n  assign_public_ip: 'yes'",
     ["service.assign_public_ip", "true or false", ":17:"]),
    ("duplicate-key", "desired_count: 2", "desired_count: 2\n  desired_count: 3",
     ["invalid YAML: duplicate key 'desired_count' (first on line 15)", ":16:"]),
    ("fargate-cpu-memory", 'memory: "512"', 'memory: "4096"', ["task", "FARGATE cpu 256 does not accept memory 4096"]),
    ("fargate-cpu-unknown", 'cpu: "256"', 'cpu: "300"', ["FARGATE does not accept cpu 300"]),
    ("cpu-garbage", 'cpu: "256"', 'cpu: "lots"', ["task.cpu", "not a number"]),
    ("malformed-image", "image: nginx:1.27", "image: 'Nginx:1.27 latest'", ["task.containers[0].image", "malformed"]),
    ("image-uppercase", "image: nginx:1.27", "image: docker.io/Library/nginx", ["malformed image reference"]),
    ("missing-family", "  family: hello\n", "", ["family is required"]),
    ("missing-container-name", "    - name: web\n      image", "    - image", ["task.containers[0].name", "required"]),
    ("wrong-type-list", "requires_compatibilities: [FARGATE]", "requires_compatibilities: FARGATE",
     ["task.requires_compatibilities", "list"]),
    ("bad-launch-type", "launch_type: FARGATE", "launch_type: LAMBDA", ["service.launch_type", "FARGATE"]),
    ("bad-network-mode", "network_mode: awsvpc", "network_mode: bridge", ["FARGATE requires network_mode awsvpc"]),
    ("bad-port", "container_port: 80", "container_port: 70000", ["container_port", "65535"]),
    ("bad-cluster-name", "cluster: demo", "cluster: 'my cluster'", ["cluster", "not a valid cluster name"]),
    ("bad-region", "region: us-east-1", "region: mars", ["region", "not an AWS region"]),
    ("duplicate-containers", "      port_mappings: [{container_port: 80}]\n",
     "      port_mappings: [{container_port: 80}]\n    - name: web\n      image: nginx:1\n", ["repeated: web"]),
    ("placement-on-fargate", "  launch_type: FARGATE\n",
     "  launch_type: FARGATE\n  placement_strategy: [{type: spread, field: 'attribute:ecs.availability-zone'}]\n",
     ["FARGATE services do not take placement"]),
]


def _assert_nothing_written(moto_aws: dict[str, Any]) -> None:
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecr"].describe_repositories()["repositories"] == []


def _one_line_error(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(("case", "old", "new", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_file(case: str, old: str, new: str, fragments: list[str], tmp_path: Path,
                         moto_aws: dict[str, Any]) -> None:
    assert old in GOOD, case
    path = write(tmp_path / "ci-ecs.yml", GOOD.replace(old, new, 1))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    line = _one_line_error(result)
    for fragment in fragments:
        assert fragment in line, line
    _assert_nothing_written(moto_aws)


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("- a\n- b\n", "must be a mapping"),
    ("just a string", "must be a mapping"),
])
def test_empty_or_non_mapping_file(text: str, fragment: str, tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = write(tmp_path / "ci-ecs.yml", text)
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert fragment in line
    _assert_nothing_written(moto_aws)


def test_missing_explicit_config_file(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(tmp_path / "nope.yml")]))
    assert "config file not found" in line and "nope.yml" in line


def test_bad_flag_values(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    path = write(tmp_path / "ci-ecs.yml", GOOD)
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path), "--image", "UPPER/case"]))
    assert "image_uri" in line and "malformed" in line
    result = CliRunner().invoke(main, ["deploy", "-c", str(path), "--desired-count", "-2"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)], env={"CI_ECS_TIMEOUT": "soon"})
    assert result.exit_code == 2 and "timeout" in result.output.lower()
    _assert_nothing_written(moto_aws)


def test_native_task_file_with_unknown_key(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    (tmp_path / "taskdef.json").write_text(
        '{"family": "hello", "containerDefinitions": [{"name": "web", "image": "nginx:1", "essentail": true}]}')
    data = config()
    data["task"] = {"file": "taskdef.json"}
    path = write(tmp_path / "ci-ecs.yml", data)
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    # Every problem, one line each (issue 22): the typo, and assign_public_ip on the file's bridge mode.
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "essentail" in lines[0] and "did you mean 'essential'" in lines[0], lines
    assert all(line.startswith("error: ") for line in lines)
    _assert_nothing_written(moto_aws)


def test_load_balancer_container_must_exist(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    data = config(**{"service.load_balancers": [{"target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:"
                                                 "123456789012:targetgroup/tg/1", "container_name": "api",
                                                 "container_port": 80}]})
    path = write(tmp_path / "ci-ecs.yml", data)
    line = _one_line_error(CliRunner().invoke(main, ["deploy", "-c", str(path)]))
    assert "'api' is not a container" in line
