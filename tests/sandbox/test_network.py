"""awsvpc networking: ENIs in moto's EC2 with subnet addresses and documentation-range public IPs."""

from __future__ import annotations

import ipaddress

from .conftest import Aws, wait_for


def _enis(aws: Aws, cluster: str, name: str) -> list[dict]:
    tasks = aws.tasks(cluster, name)
    ids = [d["value"] for t in tasks for d in t["attachments"][0]["details"] if d["name"] == "networkInterfaceId"]
    return list(aws.ec2.describe_network_interfaces(NetworkInterfaceIds=ids)["NetworkInterfaces"])


def test_public_ip_with_assign_public_ip_enabled(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "pub", aws.task_definition("pub"), desired=2, public=True)
    aws.wait_stable(cluster, "pub")
    subnet = aws.ec2.describe_subnets(SubnetIds=[aws.subnet()])["Subnets"][0]
    enis = _enis(aws, cluster, "pub")
    assert len(enis) == 2
    public_ips = {eni["Association"]["PublicIp"] for eni in enis}
    assert len(public_ips) == 2
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24") for ip in public_ips)
    for eni in enis:
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in ipaddress.ip_network(subnet["CidrBlock"])
        assert eni["SubnetId"] == subnet["SubnetId"]
        assert eni["Status"] == "in-use"
        assert eni["Groups"], "ECS puts the VPC's default security group on the ENI when none is given"
    task_ips = {
        d["value"]
        for t in aws.tasks(cluster, "pub")
        for d in t["attachments"][0]["details"]
        if d["name"] == "privateIPv4Address"
    }
    assert task_ips == {eni["PrivateIpAddress"] for eni in enis}


def test_no_public_ip_with_assign_public_ip_disabled(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "priv", aws.task_definition("priv"), desired=1, public=False)
    aws.wait_stable(cluster, "priv")
    (eni,) = _enis(aws, cluster, "priv")
    assert "Association" not in eni
    assert eni["PrivateIpAddress"]


def test_eni_deleted_when_task_stops(aws: Aws) -> None:
    cluster = aws.cluster()
    aws.service(cluster, "gone", aws.task_definition("gone"), desired=1)
    aws.wait_stable(cluster, "gone")
    (eni,) = _enis(aws, cluster, "gone")
    aws.ecs.update_service(cluster=cluster, service="gone", desiredCount=0)

    def deleted() -> bool:
        found = aws.ec2.describe_network_interfaces(
            Filters=[{"Name": "network-interface-id", "Values": [eni["NetworkInterfaceId"]]}]
        )["NetworkInterfaces"]
        return not found

    wait_for(deleted, what="ENI deleted")


def test_security_groups_are_kept_when_given(aws: Aws) -> None:
    vpc = aws.ec2.describe_subnets(SubnetIds=[aws.subnet()])["Subnets"][0]["VpcId"]
    group = aws.ec2.create_security_group(GroupName="web-sg", Description="web", VpcId=vpc)["GroupId"]
    cluster = aws.cluster()
    aws.ecs.create_service(
        cluster=cluster,
        serviceName="sg",
        taskDefinition=aws.task_definition("sg"),
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [aws.subnet()], "securityGroups": [group]}},
    )
    aws.wait_stable(cluster, "sg")
    (eni,) = _enis(aws, cluster, "sg")
    assert [g["GroupId"] for g in eni["Groups"]] == [group]
