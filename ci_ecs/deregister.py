"""`ci-ecs deregister --keep N`: deregister a family's old ACTIVE revisions, never one in use.

In use: the task definition of any service in the cluster or of any of its deployments (a rollout in
progress, a rollback target), and of any task whose desired status is RUNNING (PENDING ones included:
ListTasks with desiredStatus RUNNING lists them). ECS keeps INACTIVE revisions working for what already
runs, but a service cannot be updated back to one and a new task cannot start from one, so a revision in
use is never deregistered, however old.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.config import Config, ServiceEntry
from ci_ecs.ecs import EcsGateway, revision_of
from ci_ecs.errors import ConfigError
from ci_ecs.task_files import read_task_file

log = logging.getLogger(__name__)


def plan_deregistration(active: list[str], in_use: set[str], keep: int) -> tuple[list[str], list[str], list[str]]:
    """(kept, kept because in use, to deregister) of a family's ACTIVE revision ARNs.

    >>> arn = "arn:aws:ecs:r:1:task-definition/web:{}".format
    >>> plan_deregistration([arn(n) for n in (4, 3, 2, 1)], {arn(1)}, 2)[2]
    ['arn:aws:ecs:r:1:task-definition/web:2']
    """
    newest_first = sorted(active, key=lambda arn: revision_of(arn)[1], reverse=True)
    kept = newest_first[:keep]
    older = newest_first[keep:]
    used = [arn for arn in older if arn in in_use]
    return kept, used, [arn for arn in older if arn not in in_use]


def _family(entry: ServiceEntry, base_dir: Path) -> str:
    task = entry.task
    if task.definition:
        return revision_of(task.definition)[0]
    if task.family:
        return task.family
    if task.file:
        family = read_task_file(base_dir / task.file).get("family")
        if family:
            return str(family)
    raise ConfigError("the task definition has no family (set task.family)", key="task.family")


def in_use(ecs: EcsGateway, cluster: str) -> set[str]:
    """Task definition ARNs that the cluster's services (and their deployments) and live tasks use."""
    used: set[str] = set()
    if ecs.describe_cluster(cluster) is None:  # no cluster: nothing runs anything
        return used
    services = ecs.list_services(cluster)
    for service in ecs.describe_services(cluster, services):
        if service.get("taskDefinition"):
            used.add(str(service["taskDefinition"]))
        used.update(str(d["taskDefinition"]) for d in service.get("deployments", []) if d.get("taskDefinition"))
    tasks = ecs.list_tasks(cluster, desired_status="RUNNING")
    used.update(str(t["taskDefinitionArn"]) for t in (ecs.describe_tasks(cluster, tasks) if tasks else [])
                if t.get("taskDefinitionArn"))
    return used


def deregister_old(config: Config, *, keep: int, dry_run: bool = False, factory: ClientFactory | None = None,
                   base_dir: Path = Path(".")) -> dict[str, Any]:
    """Deregister the family's ACTIVE revisions beyond the newest `keep`, except those in use.

    Returns {family, kept, inUse, deregistered, dryRun}; run again, it deregisters nothing.

    >>> deregister_old(load_config("ci-ecs.yml", purpose="register"), keep=5)["deregistered"]  # doctest: +SKIP
    ['arn:aws:ecs:us-east-1:123456789012:task-definition/hello:1']
    """
    if keep < 1:
        raise ConfigError("keep at least 1 revision", key="--keep")
    targets = config.targets()
    if len(targets) != 1:
        raise ConfigError("name the one service whose family to clean up (--service with a services list)",
                          key="service.name")
    family = _family(targets[0], base_dir)
    cluster = config.cluster or "default"
    factory = factory or ClientFactory(aws_settings(config))
    ecs = EcsGateway(factory.client("ecs"))
    active = ecs.list_task_definitions(family)
    used = in_use(ecs, cluster)
    kept, used_older, doomed = plan_deregistration(active, used, keep)
    for arn in used_older:
        log.info("%s is older than the newest %d but in use: kept", arn.rsplit("/", 1)[-1], keep)
    for arn in doomed:
        if dry_run:
            log.info("would deregister %s", arn.rsplit("/", 1)[-1])
        else:
            ecs.deregister_task_definition(arn)
            log.info("deregistered %s", arn.rsplit("/", 1)[-1])
    return {"family": family, "cluster": cluster, "kept": kept, "inUse": used_older, "deregistered": doomed,
            "dryRun": dry_run}
