"""The cluster step: create the cluster when it is missing; an existing cluster is changed only where the config
asks (`cluster_capacity_providers`: capacity providers associated with it, none taken away)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ci_ecs.act import Step, would
from ci_ecs.diff import Change
from ci_ecs.ecs import EcsGateway

log = logging.getLogger(__name__)

# The capacity providers a cluster ci-ecs creates has associated. "The Fargate capacity providers are available
# to all accounts and only need to be associated with a cluster to be used" (ECS API reference, CreateCluster
# capacityProviders); "A capacity provider must be associated with the cluster to be used in a capacity provider
# strategy" (CreateService capacityProviderStrategy). Associated at creation, a service's strategy naming
# FARGATE_SPOT works on a cluster ci-ecs made; without a default strategy they change nothing else.
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


def _union(*groups: Sequence[str]) -> list[str]:
    out: list[str] = []
    for group in groups:
        out.extend(p for p in group if p not in out)
    return out


def created_providers(configured: Sequence[str] = ()) -> list[str]:
    """The capacity providers CreateCluster associates: FARGATE, FARGATE_SPOT and the configured ones.

    >>> created_providers(["my-asg"])
    ['FARGATE', 'FARGATE_SPOT', 'my-asg']
    """
    return _union(FARGATE_PROVIDERS, configured)


def planned_providers(described: dict[str, Any] | None, configured: Sequence[str] = ()) -> list[str]:
    """The providers the cluster has once the cluster step ran: an existing cluster's own (DescribeClusters
    `capacityProviders`) plus the configured ones; for a cluster ci-ecs creates (`described` None),
    `created_providers`. What pre-flight checks a service's capacity provider strategy against.

    >>> planned_providers({"capacityProviders": ["FARGATE"]}, ["FARGATE_SPOT"])
    ['FARGATE', 'FARGATE_SPOT']
    >>> planned_providers({"clusterName": "c"})
    []
    """
    if described is None:
        return created_providers(configured)
    return _union(list(described.get("capacityProviders") or []), configured)


def ensure_cluster(ecs: EcsGateway, cluster: str, *, exists: bool | None = None,
                   capacity_providers: Sequence[str] = ()) -> Step[bool]:
    """Create `cluster` when it is missing (or INACTIVE); never touch an existing one. True when created.

    A step (ci_ecs.act): `act(ensure_cluster(ecs, "demo"))` creates it, `act(..., dry_run=True)` says so only.
    A created cluster has FARGATE, FARGATE_SPOT and `capacity_providers` associated (`created_providers`).
    `exists`: what the caller already knows (an ACTIVE service in it means it exists; DescribeServices'
    ClusterNotFoundException that it does not), so DescribeClusters is not called again.
    """
    if exists is None:
        exists = ecs.describe_cluster(cluster) is not None
    if exists:
        log.info("cluster %s exists", cluster)
        return False
    yield would(True, log, "cluster %s: would create", cluster)
    ecs.create_cluster(cluster, capacity_providers=created_providers(capacity_providers))
    log.info("cluster %s created", cluster)
    return True


def associate_capacity_providers(ecs: EcsGateway, cluster: str, described: dict[str, Any],
                                 wanted: Sequence[str]) -> Step[Change | None]:
    """Associate the `wanted` capacity providers the existing cluster lacks; the change, or None when all are.

    PutClusterCapacityProviders replaces both lists: "If the specified cluster has existing capacity providers
    associated with it, you must specify all existing capacity providers in addition to any new ones you want to
    add. Any existing capacity providers ... omitted ... will be disassociated", and the default strategy is
    required ("you must specify an empty array ([]) to bypass defining a default strategy") (ECS API reference,
    PutClusterCapacityProviders). So the call carries the cluster's providers plus the new ones, and its own
    default strategy as DescribeClusters reports it: nothing the config leaves out changes. A step (ci_ecs.act).
    """
    current = list(described.get("capacityProviders") or [])
    providers = _union(current, wanted)
    if providers == current:
        return None
    change = Change("cluster.capacityProviders", old=current, new=providers)
    added = ", ".join(p for p in providers if p not in current)
    yield would(change, log, "cluster %s: would associate capacity providers %s", cluster, added)
    strategy = [{k: item[k] for k in ("capacityProvider", "weight", "base") if k in item}
                for item in described.get("defaultCapacityProviderStrategy") or []]
    ecs.put_cluster_capacity_providers(cluster, providers, strategy)
    log.info("cluster %s: capacity providers %s associated", cluster, added)
    return change
