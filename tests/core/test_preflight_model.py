"""Table-driven tests of the model checker (ci_ecs.preflight.model): botocore's ECS model at run time, with the
enums, maximums and integer widths botocore's own validator leaves out. Pure: no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from ci_ecs.config import TaskConfig
from ci_ecs.preflight.keys import Keys
from ci_ecs.preflight.model import check_params, input_shape


def _locate(path: str) -> tuple[str, str | None]:
    return path, None


SERVICE = {"serviceName": "web", "cluster": "demo"}
CONTAINER = {"name": "web", "image": "nginx:1"}

# (id, operation, input, the paths with a problem, a fragment of the first message)
CASES: list[tuple[str, str, dict[str, Any], list[str], str]] = [
    ("valid-service", "CreateService", {**SERVICE, "desiredCount": 2**31 - 1, "enableExecuteCommand": True}, [], ""),
    ("valid-definition", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [CONTAINER]}, [], ""),
    # types
    ("string-for-integer", "CreateService", {**SERVICE, "desiredCount": "2"}, ["desiredCount"], "not of type integer"),
    ("boolean-for-integer", "CreateService", {**SERVICE, "desiredCount": True}, ["desiredCount"], "not of type"),
    ("string-for-boolean", "CreateService", {**SERVICE, "enableExecuteCommand": "yes"}, ["enableExecuteCommand"],
     "boolean"),
    ("string-for-list", "CreateService", {**SERVICE, "placementStrategy": "spread"}, ["placementStrategy"], "list"),
    ("list-for-structure", "CreateService", {**SERVICE, "deploymentConfiguration": []}, ["deploymentConfiguration"],
     "structure"),
    ("number-for-map-value", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {**CONTAINER, "dockerLabels": {"a": 1}}]}, ["containerDefinitions[web].dockerLabels.a"], "string"),
    # 32-bit integers and 64-bit longs
    ("int32-overflow", "CreateService", {**SERVICE, "desiredCount": 2**31}, ["desiredCount"], "32-bit"),
    ("int32-underflow", "CreateService", {**SERVICE, "desiredCount": -(2**31) - 1}, ["desiredCount"], "outside"),
    ("container-cpu-overflow", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {**CONTAINER, "cpu": 2**40}]}, ["containerDefinitions[web].cpu"], "32-bit"),
    # the model's own ranges (min and max)
    ("base-above-max", "CreateService", {**SERVICE, "capacityProviderStrategy": [
        {"capacityProvider": "FARGATE", "base": 100001}]}, ["capacityProviderStrategy[0].base"], "0..100000"),
    ("weight-above-max", "CreateService", {**SERVICE, "capacityProviderStrategy": [
        {"capacityProvider": "FARGATE", "weight": 1001}]}, ["capacityProviderStrategy[0].weight"], "0..1000"),
    # lengths and list sizes
    ("tag-key-too-long", "CreateService", {**SERVICE, "tags": [{"key": "k" * 129, "value": "v"}]}, ["tags[0].key"],
     "more than the 128"),
    ("tag-key-empty", "CreateService", {**SERVICE, "tags": [{"key": "", "value": "v"}]}, ["tags[0].key"],
     "shorter than 1"),
    ("too-many-tags", "CreateService", {**SERVICE, "tags": [{"key": f"k{i}", "value": "v"} for i in range(51)]},
     ["tags"], "51 items, more than the 50"),
    # enums
    ("enum-launch-type", "CreateService", {**SERVICE, "launchType": "LAMBDA"}, ["launchType"], "FARGATE"),
    ("enum-in-list", "RegisterTaskDefinition", {"family": "f", "requiresCompatibilities": ["fargate"],
                                                "containerDefinitions": [CONTAINER]},
     ["requiresCompatibilities[0]"], "is not one of"),
    ("enum-nested", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {**CONTAINER, "portMappings": [{"containerPort": 80, "protocol": "TCP"}]}]},
     ["containerDefinitions[web].portMappings[0].protocol"], "tcp, udp"),
    ("enum-lifecycle-stage-known", "CreateService", {**SERVICE, "deploymentConfiguration": {"lifecycleHooks": [
        {"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "roleArn": "arn:aws:iam::1:role/r",
         "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]}]}}, [], ""),
    # required and unknown members
    ("missing-required", "CreateService", {"cluster": "demo"}, ["serviceName"], "is required"),
    ("missing-nested-required", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {**CONTAINER, "environmentFiles": [{"value": "arn:aws:s3:::b/f.env"}]}]},
     ["containerDefinitions[web].environmentFiles[0].type"], "is required"),
    ("unknown-member", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {**CONTAINER, "essentail": True}]}, ["containerDefinitions[web].essentail"], "did you mean 'essential'"),
    ("unknown-top-member", "CreateService", {**SERVICE, "desiredcount": 1}, ["desiredcount"], "desiredCount"),
]


@pytest.mark.parametrize(("case", "operation", "params", "paths", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_model_checker(case: str, operation: str, params: dict[str, Any], paths: list[str], fragment: str) -> None:
    problems = check_params(operation, params, _locate)
    assert [p.key for p in problems] == paths, [str(p) for p in problems]
    if problems:
        assert fragment in problems[0].message, problems[0].message
        assert "\n" not in problems[0].message


def test_every_problem_is_reported_not_the_first() -> None:
    params = {**SERVICE, "desiredCount": 2**31, "launchType": "LAMBDA", "tags": [{"key": "k" * 200, "value": "v"}],
              "enableExecuteCommand": 1}
    keys = {p.key for p in check_params("CreateService", params, _locate)}
    assert keys == {"desiredCount", "launchType", "tags[0].key", "enableExecuteCommand"}


def test_many_alike_problems_are_one_line() -> None:
    tags = [{"key": "k" * 200 + str(i), "value": "v"} for i in range(60)]
    problems = check_params("CreateService", {**SERVICE, "tags": tags}, _locate)
    assert [p.key for p in problems] == ["tags[0].key", "tags"]
    assert "(and 59 more like it)" in problems[0].message


def test_enums_are_botocores_not_ours() -> None:
    """A value is accepted exactly when botocore's model lists it: ci-ecs keeps no enum copy of its own."""
    for value in input_shape("CreateService").members["launchType"].enum:
        assert check_params("CreateService", {**SERVICE, "launchType": value}, _locate) == []


def test_paths_map_to_the_keys_a_user_edits() -> None:
    task = TaskConfig(family="f", containers=[{"name": "sidecar", "image": "nginx:1"},
                                              {"name": "web", "image": "nginx:1"}])
    keys = Keys(task, "services[2].")
    problems = check_params("RegisterTaskDefinition", {"family": "f", "networkMode": "vpc", "containerDefinitions": [
        {"name": "sidecar", "image": "nginx:1"},
        {"name": "web", "image": "nginx:1", "portMappings": [{"containerPort": "80"}],
         "ulimits": [{"name": "nofile", "softLimit": "1", "hardLimit": 2}]}]}, keys.definition_path)
    assert sorted(p.key or "" for p in problems) == [
        "services[2].task.containers[1].extra.ulimits",
        "services[2].task.containers[1].port_mappings[0].container_port", "services[2].task.network_mode"]
    service = check_params("CreateService", {**SERVICE, "desiredCount": 2**31, "deploymentConfiguration": {
        "bakeTimeInMinutes": "x"}, "networkConfiguration": {"awsvpcConfiguration": {"subnets": "subnet-1"}}},
        keys.service_path)
    assert sorted(p.key or "" for p in service) == [
        "services[2].service.bake_time_minutes", "services[2].service.desired_count", "services[2].service.subnets"]
