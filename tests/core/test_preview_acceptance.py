"""`ci-ecs preview` run as other users would (issue 25's acceptance checks): configs the preview code was not
written around, hostile ids and other actors, each on the real command against the simulated sandbox."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from moto.ecs.exceptions import InvalidParameterException  # noqa: F401 - the sandbox's refusal, for readers

from ci_ecs.sandbox import Sandbox
from tests.core.test_preview import Previews, _client, sandbox  # noqa: F401 - the module's sandbox fixture


@pytest.fixture
def previews(sandbox: Sandbox, tmp_path: Path) -> Previews:  # noqa: F811
    return Previews(sandbox, tmp_path)


def test_an_id_ending_in_a_newline_is_refused_naming_id_with_nothing_written(previews: Previews) -> None:
    """`--id "$(cmd)"` keeps no newline, but `--id "$VAR"` read from a file does: `$` of the id pattern matched
    before it, and `web-pr-42\\n` went on to AWS (without a preview: section no host check caught it)."""
    config = {k: v for k, v in previews.config.items() if k != "preview"}
    previews.sandbox.clear_request_log()
    run = previews.run("up", "--id", "42\n", config=config)
    assert run.code == 2 and "--id:" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert previews.writes() == []


def _production_service(previews: Previews, **extra: object) -> None:
    """The config's own service `web`, made by another tool (boto3), in the preview's cluster."""
    ec2 = _client(previews.sandbox, "ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    previews.ecs.create_cluster(clusterName=previews.cluster)
    previews.ecs.register_task_definition(
        family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                               "portMappings": [{"containerPort": 80, "name": "http"}]}])
    previews.ecs.create_service(cluster=previews.cluster, serviceName="web", taskDefinition="web", desiredCount=1,
                                launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                                    "subnets": [subnet], "assignPublicIp": "ENABLED"}}, **extra)


def _service_connect(previews: Previews) -> dict[str, object]:
    """The service's Service Connect: `web` in a namespace of the test's own (namespaces are the account's)."""
    return {"enabled": True, "namespace": previews.cluster,
            "services": [{"portName": "http", "discoveryName": "web",
                          "clientAliases": [{"port": 80, "dnsName": "web"}]}]}


def test_the_sandbox_refuses_a_discovery_name_another_service_publishes_in_the_namespace(
        previews: Previews) -> None:
    """ECS API reference, ServiceConnectService.discoveryName: "This must be unique within the Cloud Map
    namespace" (the sandbox's rule, written apart from ci-ecs's)."""
    service_connect = _service_connect(previews)
    _production_service(previews, serviceConnectConfiguration=service_connect)
    network = {"awsvpcConfiguration": {"subnets": [
        _client(previews.sandbox, "ec2").describe_subnets()["Subnets"][0]["SubnetId"]]}}
    with pytest.raises(previews.ecs.exceptions.InvalidParameterException, match="discovery name web"):
        previews.ecs.create_service(cluster=previews.cluster, serviceName="web-copy", taskDefinition="web",
                                    desiredCount=0, launchType="FARGATE", serviceConnectConfiguration=service_connect,
                                    networkConfiguration=network)
    # the port name is the discovery name when none is given; the namespace is the account's, not the cluster's
    previews.ecs.create_service(cluster=previews.cluster, serviceName="web-plain", taskDefinition="web",
                                desiredCount=0, launchType="FARGATE", networkConfiguration=network,
                                serviceConnectConfiguration={**service_connect, "services": [{"portName": "http"}]})
    previews.ecs.create_cluster(clusterName=f"x-{previews.cluster}")
    with pytest.raises(previews.ecs.exceptions.InvalidParameterException, match="discovery name http"):
        previews.ecs.create_service(cluster=f"x-{previews.cluster}", serviceName="web", taskDefinition="web",
                                    desiredCount=0, launchType="FARGATE", networkConfiguration=network,
                                    serviceConnectConfiguration={**service_connect, "services": [
                                        {"portName": "http", "discoveryName": "http"}]})
    # another namespace, another name
    previews.ecs.create_service(cluster=previews.cluster, serviceName="web-other", taskDefinition="web",
                                desiredCount=0, launchType="FARGATE", networkConfiguration=network,
                                serviceConnectConfiguration={**service_connect, "namespace": f"x-{previews.cluster}"})


def test_a_preview_of_a_service_connect_service_is_a_client_only_and_leaves_the_service_its_names(
        previews: Previews) -> None:
    """The config's service publishes `web` in its namespace; its preview copied `services` and claimed the same
    discovery name (ECS refuses it: the up failed after the rule and target group were written) - now it keeps the
    client side only (it reaches the other services) and says so."""
    service_connect = _service_connect(previews)
    _production_service(previews, serviceConnectConfiguration=service_connect)
    config = copy.deepcopy(previews.config)
    config["service"]["service_connect"] = {
        "enabled": True, "namespace": previews.cluster,
        "services": [{"port_name": "http", "discovery_name": "web",
                      "client_aliases": [{"port": 80, "dns_name": "web"}]}]}
    config["task"]["containers"][0]["port_mappings"] = [{"container_port": 80, "name": "http"}]
    run = previews.run("up", "--id", "3", "--output", "json", config=config)
    assert run.code == 0, run.stderr
    assert any("service_connect.services left out" in w for w in run.json["warnings"])
    [preview] = previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-3"])["services"]
    connect = preview["deployments"][0]["serviceConnectConfiguration"]
    assert connect["enabled"] is True and connect["namespace"] == previews.cluster and not connect.get("services")
    [web] = previews.ecs.describe_services(cluster=previews.cluster, services=["web"])["services"]
    assert web["deployments"][0]["serviceConnectConfiguration"] == service_connect
    previews.sandbox.clear_request_log()
    assert previews.run("up", "--id", "3", config=config).code == 0 and previews.writes() == []


def test_a_preview_of_a_vpc_lattice_service_does_not_join_its_lattice_target_group(previews: Previews) -> None:
    """VpcLatticeConfiguration.targetGroupArn is where ECS registers the service's tasks: the preview's tasks
    would have received the service's own VPC Lattice traffic."""
    config = copy.deepcopy(previews.config)
    lattice = "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0123456789abcdef0"
    config["service"]["vpc_lattice"] = [{"role_arn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
                                         "target_group_arn": lattice, "port_name": "http"}]
    config["task"]["containers"][0]["port_mappings"] = [{"container_port": 80, "name": "http"}]
    run = previews.run("up", "--id", "6", "--output", "json", config=config)
    assert run.code == 0, run.stderr
    assert any("vpc_lattice left out" in w for w in run.json["warnings"])
    [preview] = previews.ecs.describe_services(cluster=previews.cluster, services=["web-pr-6"])["services"]
    assert not preview["deployments"][0].get("vpcLatticeConfigurations")


def test_two_downs_at_once_both_succeed(previews: Previews) -> None:
    """Two `down` of one preview at once (a closed pull request's job and a gc): the slower one's UpdateService
    reached a service the other had deleted and failed with ServiceNotActiveException (exit 1); `down` is
    idempotent, so it goes on as if it had deleted the service itself. The proxy holds the slower one's
    UpdateService until the other down is done."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.e2e.proxy import FaultProxy

    assert previews.run("up", "--id", "31").code == 0
    (previews.tmp_path / "ci-ecs.yml").write_text(yaml.safe_dump(previews.config))
    with FaultProxy(previews.sandbox.endpoint_url) as proxy:
        proxy.add("UpdateService", "delay", seconds=6, calls={1})
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CI_ECS_"))},
               **previews.sandbox.env(), "HOME": str(previews.tmp_path), "AWS_ENDPOINT_URL": proxy.url}
        slow = subprocess.Popen([str(Path(sys.executable).parent / "ci-ecs"), "preview", "down", "--id", "31",
                                 "-c", "ci-ecs.yml"], cwd=previews.tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while not any(call.operation.endswith("UpdateService") for call in list(proxy.calls)):
            assert slow.poll() is None, slow.communicate()
        fast = previews.run("down", "--id", "31")
        _, err = slow.communicate(timeout=120)
    assert fast.code == 0, fast.stderr
    assert slow.returncode == 0, err
    assert previews.rules() == [] and previews.run("down", "--id", "31", "--output", "json").json["removed"] == []
