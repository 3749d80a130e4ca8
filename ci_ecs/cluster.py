"""The cluster step: create the cluster when it is missing; an existing cluster is never changed."""

from __future__ import annotations

import logging

from ci_ecs.ecs import EcsGateway

log = logging.getLogger(__name__)


def ensure_cluster(ecs: EcsGateway, cluster: str, *, dry_run: bool = False, exists: bool | None = None) -> bool:
    """Create `cluster` when it is missing (or INACTIVE); never touch an existing one. True when created.

    `exists`: what the caller already knows (an ACTIVE service in it means it exists; DescribeServices'
    ClusterNotFoundException that it does not), so DescribeClusters is not called again.
    """
    if exists is None:
        exists = ecs.describe_cluster(cluster) is not None
    if exists:
        log.info("cluster %s exists", cluster)
        return False
    if dry_run:
        log.info("cluster %s: would create", cluster)
        return True
    ecs.create_cluster(cluster)
    log.info("cluster %s created", cluster)
    return True
