"""awsvpc networking for sandbox tasks: one ENI per task in moto's EC2, with a private IP from
the task's subnet and, when ``assignPublicIp`` is ENABLED, a public IP from 203.0.113.0/24.

203.0.113.0/24 is TEST-NET-3 (RFC 5737), a documentation range that is never routed: the
addresses look real in DescribeNetworkInterfaces and nobody should ever connect to them.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
from typing import Any

from moto.ec2 import ec2_backends
from moto.ec2.utils import generate_dns_from_ip, random_private_ip

log = logging.getLogger(__name__)

PUBLIC_IP_RANGE = ipaddress.ip_network("203.0.113.0/24")
_public_ips = itertools.cycle(str(ip) for ip in PUBLIC_IP_RANGE.hosts())


def _ec2(account_id: str, region: str) -> Any:
    return ec2_backends[account_id][region]


def subnet_zones(account_id: str, region: str, subnet_ids: list[str]) -> dict[str, str]:
    """{subnet id: its Availability Zone} for the subnets moto's EC2 has (others are left out)."""
    ec2 = _ec2(account_id, region)
    zones = {}
    for subnet_id in subnet_ids:
        try:
            zones[subnet_id] = str(ec2.get_subnet(subnet_id).availability_zone)
        except Exception:  # noqa: BLE001 - a subnet moto does not have: CreateService refused it already
            continue
    return zones


def default_security_group_ids(account_id: str, region: str, subnet_ids: list[str]) -> list[str]:
    """The default security group of the subnets' VPC, which ECS uses when none is given."""
    ec2 = _ec2(account_id, region)
    for subnet_id in subnet_ids:
        try:
            subnet = ec2.get_subnet(subnet_id)
        except Exception:  # noqa: BLE001 - an unknown subnet simply has no default group
            continue
        group = ec2.get_default_security_group(subnet.vpc_id)
        if group is not None:
            return [group.id]
    return []


def with_default_security_groups(account_id: str, region: str, network_configuration: dict[str, Any]) -> dict[str, Any]:
    """A copy of a networkConfiguration whose awsvpcConfiguration names security groups.

    ECS uses the VPC's default security group when none is given; moto requires the key.
    """
    awsvpc = dict(network_configuration.get("awsvpcConfiguration") or {})
    if not awsvpc.get("securityGroups"):
        awsvpc["securityGroups"] = default_security_group_ids(account_id, region, list(awsvpc.get("subnets") or []))
    return {**network_configuration, "awsvpcConfiguration": awsvpc}


def _allocate_public_ip(ec2: Any) -> str:
    in_use = {eni.public_ip for eni in ec2.enis.values() if getattr(eni, "public_ip", None)}
    for _ in range(PUBLIC_IP_RANGE.num_addresses):
        candidate = next(_public_ips)
        if candidate not in in_use:
            return candidate
    return next(_public_ips)  # more than 254 public tasks: reuse, it is a documentation range anyway


def _free_private_ip(ec2: Any, subnet: Any) -> str:
    in_use = {eni.private_ip_address for eni in ec2.enis.values() if eni.subnet is subnet}
    for _ in range(50):
        candidate = random_private_ip(subnet.cidr_block)
        if candidate not in in_use:
            return str(candidate)
    return str(random_private_ip(subnet.cidr_block))


def configure_task_eni(task: Any, network_configuration: dict[str, Any] | None, public_ip: str | None = None) -> None:
    """Give the ENI moto created for an awsvpc task ECS's shape.

    moto's Task creates the ENI with an address from 10.0.0.0/8 whatever the subnet; this
    re-addresses it inside the subnet, marks it requester-managed like ECS's ENIs, adds the
    public IP when asked for, and rewrites the task's attachment details to match.
    ``public_ip`` is the address where the task's ports answer (the docker runtime's loopback
    address); without one, the public IP comes from 203.0.113.0/24.
    """
    if not task.attachments:
        return
    attachment = task.attachments[0]
    details = {d["name"]: d["value"] for d in attachment.get("details", [])}
    eni_id = details.get("networkInterfaceId")
    if not eni_id:
        return
    ec2 = _ec2(task._account_id, task.region_name)
    eni = ec2.enis.get(eni_id)
    if eni is None:
        return
    private_ip = _free_private_ip(ec2, eni.subnet)
    eni.private_ip_address = private_ip
    eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": private_ip}]
    eni.private_dns_name = generate_dns_from_ip(private_ip)
    eni.private_ip_addresses[0]["PrivateDnsName"] = eni.private_dns_name
    eni.description = f"arn:aws:ecs:{task.region_name}:{task._account_id}:attachment/{attachment['id']}"
    eni.requester_managed = True
    eni.requester_id = "578734482556"  # the account ECS's own ENIs are requested by
    eni.interface_type = "interface"
    eni.status = "in-use"
    awsvpc = (network_configuration or {}).get("awsvpcConfiguration", {})
    if str(awsvpc.get("assignPublicIp", "DISABLED")).upper() == "ENABLED":
        eni.public_ip = public_ip or _allocate_public_ip(ec2)
    attachment["details"] = [
        {"name": "subnetId", "value": eni.subnet.id},
        {"name": "networkInterfaceId", "value": eni.id},
        {"name": "macAddress", "value": eni.mac_address},
        {"name": "privateDnsName", "value": eni.private_dns_name},
        {"name": "privateIPv4Address", "value": private_ip},
    ]
    attachment["status"] = "ATTACHED"


def release_task_eni(task: Any) -> None:
    """Delete the task's ENI from moto's EC2 (ECS deletes it when the task stops)."""
    ec2 = _ec2(task._account_id, task.region_name)
    for attachment in task.attachments:
        for detail in attachment.get("details", []):
            if detail.get("name") == "networkInterfaceId":
                ec2.enis.pop(detail.get("value"), None)
        attachment["status"] = "DELETED"


def task_private_ip(task: Any) -> str | None:
    """The private IPv4 address in the task's ENI attachment, if any."""
    for attachment in task.attachments:
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address":
                return str(detail.get("value"))
    return None
