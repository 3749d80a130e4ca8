"""Pre-flight's reference checks (issue 22): subnets, security groups, target groups, the load balancer's container
and port, capacity providers; and the cluster step that associates capacity providers. Real moto EC2/ELBv2/ECS
in-process: the services are rendered and their requests built by ci-ecs's own code from configs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.cli import main
from ci_ecs.config import Config, load_config
from ci_ecs.deploy import deploy
from ci_ecs.iam import iam_policy
from ci_ecs.preflight.references import PlannedService, check_references
from ci_ecs.service import create_params, desired_service, update_plan
from ci_ecs.taskdef import render
from tests.core.helpers import config, write

REGION = "us-east-1"


def _factory() -> ClientFactory:
    return ClientFactory(AwsSettings(region=REGION))


def _planned(data: dict[str, Any], *, tmp_path: Path | None = None, index: int | None = None,
             current: dict[str, Any] | None = None) -> PlannedService:
    """The service of a config as deploy would write it: its rendered task definition and its CreateService
    input (UpdateService's when `current` is the service as described)."""
    cfg = Config.model_validate(data)
    entry = cfg.targets()[0] if index is None else cfg.services[index]
    definition = render(entry.task, "public.ecr.aws/nginx/nginx:1.27", base_dir=tmp_path or Path("."),
                        region=REGION)
    spec = desired_service(entry.service, task_definition=f"{definition['family']}:9")
    mode = definition.get("networkMode")
    prefix = "" if index is None else f"services[{index}]."
    if current is None:
        request = create_params(spec, cluster=cfg.cluster, name=str(entry.service.name), network_mode=mode,
                                default_subnets=lambda: [])
        return PlannedService(prefix, definition, request, True, None)
    _, request = update_plan(spec, current, network_mode=mode)
    return PlannedService(prefix, definition, {**request, "cluster": cfg.cluster, "service": entry.service.name},
                          False, current)


def _messages(problems: list[Any]) -> list[tuple[str | None, str]]:
    return [(p.key, p.message) for p in problems]


def _vpc_with_subnet(cidr: str) -> tuple[str, str, str]:
    """A VPC of its own with one subnet and one security group: (vpc, subnet, group)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("/16", "/24"))["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"g-{vpc}", Description="d", VpcId=vpc)["GroupId"]
    return vpc, subnet, group


def _target_group(name: str, vpc: str, target_type: str) -> str:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    return str(elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc,
                                         TargetType=target_type)["TargetGroups"][0]["TargetGroupArn"])


def test_existing_network_and_target_group_pass(moto_aws: dict[str, Any]) -> None:
    tg = _target_group("web", moto_aws["vpc"], "ip")
    data = config(**{"service.subnets": moto_aws["subnets"][:2],
                     "service.security_groups": [moto_aws["security_group"]],
                     "service.load_balancers": [{"target_group_arn": tg, "container_name": "web",
                                                 "container_port": 80}]})
    factory = _factory()
    assert check_references(factory, cluster="demo", cluster_providers=None, services=[_planned(data)]) == []
    assert factory.counter.calls[("ec2", "DescribeSubnets")] == 1
    assert factory.counter.calls[("ec2", "DescribeSecurityGroups")] == 1
    assert factory.counter.calls[("elasticloadbalancing", "DescribeTargetGroups")] == 1
    assert factory.counter.mutating() == []


def test_missing_subnet_and_security_group_are_named(moto_aws: dict[str, Any]) -> None:
    # IDs in AWS's format that this account does not have (e.g. copied from another account's console).
    data = config(**{"service.subnets": [moto_aws["subnets"][0], "subnet-0a1b2c3d4e5f60718"],
                     "service.security_groups": ["sg-0123456789abcdef0"]})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert [p.key for p in problems] == ["service.subnets", "service.security_groups"]
    assert "subnet subnet-0a1b2c3d4e5f60718 does not exist in us-east-1" in problems[0].message
    assert "security group sg-0123456789abcdef0 does not exist" in problems[1].message
    assert all(p.exit_code == 2 for p in problems)


def test_subnets_and_security_groups_of_two_vpcs(moto_aws: dict[str, Any]) -> None:
    other_vpc, other_subnet, other_group = _vpc_with_subnet("10.20.0.0/16")
    # The default VPC's subnet with a security group of another VPC: ECS refuses the pair.
    data = config(**{"service.subnets": [moto_aws["subnets"][0]], "service.security_groups": [other_group]})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert [p.key for p in problems] == ["service.security_groups"]
    assert other_vpc in problems[0].message and moto_aws["vpc"] in problems[0].message
    # Subnets of two VPCs: the subnets are what is wrong.
    data = config(**{"service.subnets": [moto_aws["subnets"][0], other_subnet]})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert [p.key for p in problems] == ["service.subnets"]
    assert "one VPC" in problems[0].message


def test_target_group_missing_malformed_and_of_the_wrong_type(moto_aws: dict[str, Any]) -> None:
    instance_tg = _target_group("by-instance", moto_aws["vpc"], "instance")
    gone = instance_tg.replace("by-instance", "deleted-one")
    lbs = [{"target_group_arn": instance_tg, "container_name": "web", "container_port": 80},
           {"target_group_arn": gone, "container_name": "web", "container_port": 80},
           {"target_group_arn": "not-an-arn", "container_name": "web", "container_port": 80}]
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "service.load_balancers": lbs})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None, services=[_planned(data)])
    by_key = dict(_messages(problems))
    assert set(by_key) == {f"service.load_balancers[{i}].target_group_arn" for i in range(3)}
    assert "target type instance" in by_key["service.load_balancers[0].target_group_arn"]
    assert "network mode awsvpc register as ip" in by_key["service.load_balancers[0].target_group_arn"]
    assert "does not exist" in by_key["service.load_balancers[1].target_group_arn"]
    assert "not-an-arn" in by_key["service.load_balancers[2].target_group_arn"]


def test_blue_green_alternate_target_group_is_checked_too(moto_aws: dict[str, Any]) -> None:
    blue = _target_group("blue", moto_aws["vpc"], "ip")
    green = _target_group("green", moto_aws["vpc"], "instance")
    advanced = {"alternate_target_group_arn": green, "production_listener_rule": "arn:aws:elasticloadbalancing:"
                "us-east-1:123456789012:listener-rule/app/web/0123456789abcdef/0123456789abcdef/0123456789abcdef",
                "role_arn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole"}
    data = config(**{"service.security_groups": [moto_aws["security_group"]], "service.strategy": "BLUE_GREEN",
                     "service.bake_time_minutes": 5,
                     "service.load_balancers": [{"target_group_arn": blue, "container_name": "web",
                                                 "container_port": 80, "advanced": advanced}]})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert [p.key for p in problems] == ["service.load_balancers[0].advanced.alternate_target_group_arn"]
    assert "green has target type instance" in problems[0].message


def test_bridge_mode_wants_instance_targets(moto_aws: dict[str, Any]) -> None:
    """An EC2 service in bridge mode (the README's placement example): an `ip` target group is refused, an
    `instance` one passes, and no network configuration means no EC2 read."""
    ip_tg = _target_group("by-ip", moto_aws["vpc"], "ip")
    instance_tg = _target_group("by-instance", moto_aws["vpc"], "instance")
    task = {"family": "legacy", "network_mode": "bridge", "requires_compatibilities": ["EC2"], "memory": "512",
            "containers": [{"name": "app", "image": "nginx:1.27", "port_mappings": [{"container_port": 8080}]}]}
    for arn, expected in ((ip_tg, ["service.load_balancers[0].target_group_arn"]), (instance_tg, [])):
        data = config(**{"task": task, "service.launch_type": "EC2",
                         "service.placement_strategy": [{"type": "binpack", "field": "memory"}],
                         "service.load_balancers": [{"target_group_arn": arn, "container_name": "app",
                                                     "container_port": 8080}]})
        factory = _factory()
        problems = check_references(factory, cluster="demo", cluster_providers=None, services=[_planned(data)])
        assert [p.key for p in problems] == expected
        assert ("ec2", "DescribeSubnets") not in factory.counter.calls


def test_load_balancer_container_and_port_must_be_in_a_native_file(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """A native task definition (as `aws ecs describe-task-definition` prints it): the load balancer names a
    container the file does not have, and a port its container does not map."""
    tg = _target_group("web", moto_aws["vpc"], "ip")
    (tmp_path / "taskdef.json").write_text(json.dumps({
        "family": "shop", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "512",
        "memory": "1024", "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {"name": "api", "image": "${IMAGE}", "essential": True, "portMappings": [{"containerPort": 3000}]},
            {"name": "sidecar", "image": "public.ecr.aws/docker/library/busybox:1.36", "essential": False}]}))
    data = config(**{"task": {"file": "taskdef.json"}, "service.security_groups": [moto_aws["security_group"]],
                     "service.load_balancers": [
                         {"target_group_arn": tg, "container_name": "web", "container_port": 80},
                         {"target_group_arn": tg, "container_name": "api", "container_port": 8080}]})
    problems = check_references(_factory(), cluster="demo", cluster_providers=None,
                                services=[_planned(data, tmp_path=tmp_path)])
    assert _messages(problems) == [
        ("service.load_balancers[0].container_name",
         "service.load_balancers[0].container_name: container web, which shop does not have (its containers: api, "
         "sidecar)"),
        ("service.load_balancers[1].container_port",
         "service.load_balancers[1].container_port: container port 8080 of container api, which has no port "
         "mapping for it in shop (its container ports: 3000)")]


def test_update_keeps_the_service_load_balancer_which_must_match_the_new_revision(moto_aws: dict[str, Any]) -> None:
    """The config sets no load balancers, so the update keeps the service's (made by Terraform, say); the new
    revision renamed the container the load balancer routes to."""
    tg = _target_group("web", moto_aws["vpc"], "ip")
    current = {"serviceName": "hello", "status": "ACTIVE",
               "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/hello:3", "desiredCount": 2,
               "launchType": "FARGATE",
               "loadBalancers": [{"targetGroupArn": tg, "containerName": "frontend", "containerPort": 80}],
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": moto_aws["subnets"][:1],
                                                                "assignPublicIp": "ENABLED"}}}
    data = config(**{"service.assign_public_ip": True})
    factory = _factory()
    planned = _planned(data, current=current)
    assert "loadBalancers" not in planned.request and "networkConfiguration" not in planned.request
    problems = check_references(factory, cluster="demo", cluster_providers=None, services=[planned])
    assert [p.key for p in problems] == ["service.load_balancers"]
    assert "container frontend" in problems[0].message and "set service.load_balancers" in problems[0].message
    # What the update does not send is not read again (ECS accepted it before).
    assert factory.counter.total() == 0


def test_capacity_providers_against_the_cluster() -> None:
    data = config(**{"service.launch_type": None, "service.capacity_provider_strategy": [
        {"capacity_provider": "FARGATE_SPOT", "weight": 3}, {"capacity_provider": "FARGATE", "base": 1}]})
    planned = [_planned(data)]
    factory = ClientFactory(AwsSettings(region=REGION))
    # A cluster ci-ecs creates has FARGATE and FARGATE_SPOT associated (no call is made for this check).
    assert check_references(factory, cluster="demo", cluster_providers=None, services=planned) == []
    # An existing cluster with FARGATE only.
    problems = check_references(factory, cluster="demo", cluster_providers=["FARGATE"], services=planned)
    assert [p.key for p in problems] == ["service.capacity_provider_strategy[0].capacity_provider"]
    assert "FARGATE_SPOT is not associated with cluster demo (it has FARGATE)" in problems[0].message
    assert "cluster_capacity_providers" in problems[0].message
    # An Auto Scaling group provider on a cluster ci-ecs creates: named, with the key that associates it.
    data = config(**{"service.launch_type": None,
                     "service.capacity_provider_strategy": [{"capacity_provider": "shop-asg"}]})
    problems = check_references(factory, cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert "shop-asg is not associated with cluster demo, which ci-ecs creates with FARGATE, FARGATE_SPOT" in \
        problems[0].message
    assert factory.counter.total() == 0


def test_a_strategy_mixing_fargate_and_auto_scaling_groups_or_with_two_bases() -> None:
    factory = ClientFactory(AwsSettings(region=REGION))
    mixed = config(**{"service.launch_type": None, "service.capacity_provider_strategy": [
        {"capacity_provider": "FARGATE", "base": 2}, {"capacity_provider": "shop-asg", "base": 1}]})
    problems = check_references(factory, cluster="shop", cluster_providers=["FARGATE", "shop-asg"],
                                services=[_planned(mixed)])
    assert [p.message for p in problems] == [
        "service.capacity_provider_strategy: a strategy takes Fargate capacity providers or Auto Scaling group "
        "ones, not both (FARGATE with shop-asg)",
        "service.capacity_provider_strategy: only one capacity provider of a strategy may have a base (FARGATE, "
        "shop-asg have one)"]
    # The README's strategy: one base, Fargate only.
    fine = config(**{"service.launch_type": None, "service.capacity_provider_strategy": [
        {"capacity_provider": "FARGATE", "base": 1, "weight": 1}, {"capacity_provider": "FARGATE_SPOT", "weight": 3}]})
    assert check_references(factory, cluster="shop", cluster_providers=None, services=[_planned(fine)]) == []


def test_every_problem_of_every_service_at_once_with_one_read_each(moto_aws: dict[str, Any]) -> None:
    _, other_subnet, _ = _vpc_with_subnet("10.30.0.0/16")
    tg = _target_group("web", moto_aws["vpc"], "ip")
    web = {"task": {**config()["task"], "family": "web"},
           "service": {"name": "web", "launch_type": "FARGATE", "subnets": ["subnet-0fffffffffffffff1"],
                       "security_groups": [moto_aws["security_group"]],
                       "load_balancers": [{"target_group_arn": tg.replace("/web/", "/gone/"), "container_name": "web",
                                           "container_port": 80}]}}
    worker = {"task": {**config()["task"], "family": "worker"},
              "service": {"name": "worker", "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}],
                          "subnets": [other_subnet], "security_groups": ["sg-0eeeeeeeeeeeeeee2"],
                          "load_balancers": [{"target_group_arn": tg, "container_name": "web",
                                              "container_port": 81}]}}
    data = {"region": REGION, "cluster": "shop", "services": [web, worker]}
    factory = _factory()
    problems = check_references(factory, cluster="shop", cluster_providers=["FARGATE"],
                                services=[_planned(data, index=0), _planned(data, index=1)])
    assert sorted(p.key or "" for p in problems) == sorted([
        "services[1].service.capacity_provider_strategy[0].capacity_provider",
        "services[0].service.subnets",
        "services[1].service.security_groups",
        "services[0].service.load_balancers[0].target_group_arn",
        "services[1].service.load_balancers[0].container_port"])
    # One read of each kind for both services (and one more for the missing target group, to name it).
    assert factory.counter.calls[("ec2", "DescribeSubnets")] == 1
    assert factory.counter.calls[("ec2", "DescribeSecurityGroups")] == 1
    assert factory.counter.calls[("elasticloadbalancing", "DescribeTargetGroups")] == 3


# --- the cluster step -------------------------------------------------------------------------------------------

def _deploy(path: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["deploy", "-c", str(path), "--output", "json", *args])


def test_fargate_spot_on_a_cluster_ci_ecs_creates(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """Before: the cluster was created with no capacity provider, and ECS refused the FARGATE_SPOT strategy."""
    path = write(tmp_path / "ci-ecs.yml", config(**{
        "cluster": "spot", "service.launch_type": None, "service.security_groups": [moto_aws["security_group"]],
        "service.capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}]}))
    result = _deploy(path)
    assert result.exit_code == 0, result.output
    result.json = json.loads(result.stdout)
    cluster = moto_aws["ecs"].describe_clusters(clusters=["spot"])["clusters"][0]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert result.json["serviceAction"] == "created"


def test_cluster_capacity_providers_are_added_to_an_existing_cluster(tmp_path: Path,
                                                                      moto_aws: dict[str, Any]) -> None:
    """An existing cluster (made elsewhere, with its own provider and default strategy) gets FARGATE_SPOT added:
    plan shows it, deploy associates it keeping the cluster's providers and default strategy, and a re-run sends
    nothing."""
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="prod", capacityProviders=["FARGATE"],
                       defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1, "base": 1}])
    path = write(tmp_path / "ci-ecs.yml", config(**{
        "cluster": "prod", "cluster_capacity_providers": ["FARGATE_SPOT"], "service.launch_type": None,
        "service.security_groups": [moto_aws["security_group"]],
        "service.capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]}))
    plan = CliRunner().invoke(main, ["plan", "-c", str(path)])
    assert plan.exit_code == 0, plan.output
    assert '~ cluster.capacityProviders: ["FARGATE"] -> ["FARGATE", "FARGATE_SPOT"]' in plan.stdout
    assert ecs.describe_clusters(clusters=["prod"])["clusters"][0]["capacityProviders"] == ["FARGATE"]
    result = _deploy(path)
    assert result.exit_code == 0, result.output
    cluster = ecs.describe_clusters(clusters=["prod"])["clusters"][0]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
    assert {"resource": "cluster", "path": "cluster.capacityProviders", "old": ["FARGATE"],
            "new": ["FARGATE", "FARGATE_SPOT"]} in json.loads(result.stdout)["changes"]
    # Already associated: nothing to change on the cluster, nothing sent. (moto's DescribeServices leaves out the
    # service's capacityProviderStrategy, so the service itself shows a change here that ECS would not.)
    again = CliRunner().invoke(main, ["plan", "-c", str(path), "--output", "json"])
    assert [c for c in json.loads(again.stdout)["changes"] if c["resource"] == "cluster"] == []
    factory = _factory()
    deploy(load_config(path), factory=factory, base_dir=tmp_path)
    assert factory.counter.calls[("ecs", "DescribeClusters")] == 1
    assert ("ecs", "PutClusterCapacityProviders") not in factory.counter.calls


def test_cluster_capacity_providers_is_validated(tmp_path: Path, aws_env: None) -> None:
    for value, rule in ((["FARGATE", "FARGATE"], "unique"), (["ecs-spot"], "AWS's own"),
                        (["my provider"], "not a capacity provider name")):
        path = write(tmp_path / "ci-ecs.yml", config(cluster_capacity_providers=value))
        result = CliRunner().invoke(main, ["plan", "-c", str(path)])
        assert result.exit_code == 2, result.output
        assert "cluster_capacity_providers" in result.stderr and rule in result.stderr


def test_unreadable_security_groups_are_skipped_with_a_warning(moto_aws: dict[str, Any],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A deploy policy written before these checks may not allow ec2:DescribeSecurityGroups: the check is skipped
    with a warning (ECS still checks when the service is written). moto enforces no IAM, so the denial is
    botocore's Stubber's answer (no real part can refuse here)."""
    from botocore.stub import Stubber

    factory = _factory()
    ec2 = factory.client("ec2")
    data = config(**{"service.subnets": moto_aws["subnets"][:1], "service.security_groups": ["sg-0123456789abcdef0"]})
    with Stubber(ec2) as stub:
        stub.add_response("describe_subnets", {"Subnets": [{"SubnetId": moto_aws["subnets"][0],
                                                             "VpcId": moto_aws["vpc"]}]})
        stub.add_client_error("describe_security_groups", "UnauthorizedOperation", http_status_code=403)
        with caplog.at_level(logging.WARNING):
            problems = check_references(factory, cluster="demo", cluster_providers=None, services=[_planned(data)])
    assert problems == []
    assert "security groups not checked (UnauthorizedOperation)" in caplog.text
    assert "ec2:DescribeSecurityGroups" in caplog.text


def test_iam_policy_grants_the_reads_and_the_association() -> None:
    """Before: no ec2:DescribeSecurityGroups, and nothing to associate capacity providers with."""
    def cluster_and_describes(data: dict[str, Any]) -> tuple[list[str], list[str]]:
        statements = {s["Sid"]: s for s in iam_policy(Config.model_validate(data), account_id="123456789012")[
            "Statement"]}
        return statements["EcsCluster"]["Action"], statements["NetworkDescribe"]["Action"]

    cluster, describes = cluster_and_describes(config())
    assert "ec2:DescribeSubnets" in describes and "ec2:DescribeSecurityGroups" in describes
    assert "ecs:PutClusterCapacityProviders" not in cluster
    cluster, describes = cluster_and_describes(config(**{
        "cluster_capacity_providers": ["FARGATE_SPOT"],
        "service.load_balancers": [{"target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                        "targetgroup/web/0123456789abcdef", "container_name": "web",
                                    "container_port": 80}]}))
    assert "ecs:PutClusterCapacityProviders" in cluster
    assert "elasticloadbalancing:DescribeTargetGroups" in describes


# --- through the CLI: found before anything is written -------------------------------------------------------------

def test_missing_subnet_is_exit_2_before_anything_is_written(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    """Before: the task definition was registered (and the cluster created), then CreateService failed: exit 1."""
    path = write(tmp_path / "ci-ecs.yml", config(**{"service.subnets": ["subnet-0a1b2c3d4e5f60718"],
                                                      "service.security_groups": [moto_aws["security_group"]]}))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "service.subnets: subnet subnet-0a1b2c3d4e5f60718 does not exist in us-east-1" in result.stderr
    assert moto_aws["ecs"].list_task_definitions()["taskDefinitionArns"] == []
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []


def test_strategy_naming_a_provider_an_existing_cluster_lacks_is_exit_2(tmp_path: Path,
                                                                        moto_aws: dict[str, Any]) -> None:
    """An existing cluster without FARGATE_SPOT and no cluster_capacity_providers: refused before the task
    definition is registered, naming the provider and the key that associates it; the cluster is untouched."""
    ecs = moto_aws["ecs"]
    ecs.create_cluster(clusterName="prod", capacityProviders=["FARGATE"])
    path = write(tmp_path / "ci-ecs.yml", config(**{
        "cluster": "prod", "service.launch_type": None, "service.security_groups": [moto_aws["security_group"]],
        "service.capacity_provider_strategy": [{"capacity_provider": "FARGATE", "base": 1},
                                               {"capacity_provider": "FARGATE_SPOT", "weight": 4}]}))
    result = CliRunner().invoke(main, ["deploy", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "service.capacity_provider_strategy[1].capacity_provider: capacity provider FARGATE_SPOT" in result.stderr
    assert "cluster_capacity_providers" in result.stderr
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    assert ecs.describe_clusters(clusters=["prod"])["clusters"][0]["capacityProviders"] == ["FARGATE"]


def test_plan_lists_every_reference_problem(tmp_path: Path, moto_aws: dict[str, Any]) -> None:
    tg = _target_group("web", moto_aws["vpc"], "instance")
    path = write(tmp_path / "ci-ecs.yml", config(**{
        "service.subnets": ["subnet-0a1b2c3d4e5f60718"], "service.security_groups": ["sg-0123456789abcdef0"],
        "service.load_balancers": [{"target_group_arn": tg, "container_name": "web", "container_port": 8080}]}))
    result = CliRunner().invoke(main, ["plan", "-c", str(path)])
    assert result.exit_code == 2, result.output
    for key in ("service.subnets", "service.security_groups", "service.load_balancers[0].target_group_arn",
                "service.load_balancers[0].container_port"):
        assert f"{key}: " in result.stderr, key
    assert moto_aws["ecs"].list_clusters()["clusterArns"] == []


def _stubbed_factory(answer: dict[str, Any], names: list[str]) -> tuple[ClientFactory, Any]:
    """A factory whose ECS client answers DescribeCapacityProviders with `answer` (botocore Stubber: neither moto
    nor the sandbox models Managed Instances capacity providers)."""
    from botocore.stub import Stubber

    factory = _factory()
    ecs = factory.client("ecs")
    stub = Stubber(ecs)
    stub.add_response("describe_capacity_providers", answer, {"capacityProviders": names, "cluster": "shop"})
    stub.activate()
    return factory, stub


MI_PROVIDER = {"name": "shop-mi", "type": "MANAGED_INSTANCES", "status": "ACTIVE",
               "capacityProviderArn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/shop-mi"}


def test_a_managed_instances_provider_needs_a_task_definition_made_for_it() -> None:
    strategy = {"service.launch_type": None, "service.capacity_provider_strategy": [{"capacity_provider": "shop-mi"}]}
    factory, stub = _stubbed_factory({"capacityProviders": [MI_PROVIDER]}, ["shop-mi"])
    problems = check_references(factory, cluster="shop", cluster_providers=["shop-mi"],
                                services=[_planned(config(**strategy))])
    stub.assert_no_pending_responses()
    assert [p.key for p in problems] == ["service.capacity_provider_strategy[0].capacity_provider"]
    assert "shop-mi is a Managed Instances one" in problems[0].message
    # The same strategy with a task definition made for Managed Instances passes.
    factory, stub = _stubbed_factory({"capacityProviders": [MI_PROVIDER]}, ["shop-mi"])
    made_for = config(**strategy, **{"task.requires_compatibilities": ["MANAGED_INSTANCES"]})
    assert check_references(factory, cluster="shop", cluster_providers=["shop-mi"],
                            services=[_planned(made_for)]) == []
    stub.assert_no_pending_responses()


def test_an_auto_scaling_group_provider_is_not_held_to_managed_instances_rules() -> None:
    asg = {**MI_PROVIDER, "name": "shop-asg", "type": "EC2_AUTOSCALING",
           "autoScalingGroupProvider": {"autoScalingGroupArn": "arn:aws:autoscaling:us-east-1:123456789012:"
                                                               "autoScalingGroup:1:autoScalingGroupName/asg"}}
    data = config(**{"service.launch_type": None, "task.requires_compatibilities": ["EC2"],
                     "service.capacity_provider_strategy": [{"capacity_provider": "shop-asg"}]})
    factory, stub = _stubbed_factory({"capacityProviders": [asg]}, ["shop-asg"])
    assert check_references(factory, cluster="shop", cluster_providers=["shop-asg"], services=[_planned(data)]) == []
    stub.assert_no_pending_responses()
