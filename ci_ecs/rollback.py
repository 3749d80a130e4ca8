"""`ci-ecs rollback`: put the service back on an earlier revision of its family, followed like a deploy.

Which revision: `--to` (a revision number of the service's family, FAMILY:REVISION or an ARN), else the
newest revision the service was *deployed with* (its successful service deployments, ECS's
service-deployment API) that is older than the newest one it was deployed with. Revisions registered
but never deployed to this service (by `run-task`, `register` or another tool) are not candidates.
Where the endpoint has no service-deployment API, the family's ACTIVE revisions stand in for the
history. Counting back from the newest deployed revision, not from the one the service runs, keeps the
command idempotent: run again, it finds the service already there and changes nothing (going further
back is `--to`'s job). A revision that was deregistered is not a target: ECS refuses UpdateService to
an INACTIVE task definition (ECS Developer Guide, "Deregistering an Amazon ECS task definition revision").

The move itself is `ci-ecs deploy --task-definition FAMILY:REVISION`: nothing is registered or pushed,
the config's service section applies, and the deployment is followed and verified the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory
from ci_ecs.config import Config, ImageConfig, ServiceEntry, TaskConfig
from ci_ecs.deploy import Deployer, aws_settings
from ci_ecs.ecs import SERVICE_DEPLOYMENT_API_MISSING, EcsGateway, revision_of
from ci_ecs.errors import AwsError, CiEcsError, ConfigError

log = logging.getLogger(__name__)


def previous_revision(current: str, active: list[str], *, newest: int | None = None) -> str | None:
    """The revision to roll back to: the newest ACTIVE revision older than the family's newest one.

    `current` is the service's task definition ARN, `active` the candidate ACTIVE revision ARNs. The
    service's own revision counts as the newest when it is newer than every ACTIVE one (deregistered);
    `newest` overrides that (the newest revision the service was ever deployed with).

    >>> arn = "arn:aws:ecs:us-east-1:1:task-definition/web:{}".format
    >>> previous_revision(arn(3), [arn(3), arn(2), arn(1)])
    'arn:aws:ecs:us-east-1:1:task-definition/web:2'
    >>> previous_revision(arn(2), [arn(3), arn(2), arn(1)])  # already rolled back from 3: stays
    'arn:aws:ecs:us-east-1:1:task-definition/web:2'
    >>> previous_revision(arn(1), [arn(1)]) is None
    True
    """
    by_number = sorted(active, key=lambda arn: revision_of(arn)[1], reverse=True)
    if newest is None:
        newest = max([revision_of(current)[1], *(revision_of(arn)[1] for arn in by_number)])
    return next((arn for arn in by_number if revision_of(arn)[1] < newest), None)


def deployed_revisions(ecs: EcsGateway, cluster: str, service: str, family: str) -> list[str] | None:
    """The task definitions of `family` the service was successfully deployed with, from its service
    deployments (ListServiceDeployments → DescribeServiceRevisions); None when the endpoint has no such API.
    """
    try:
        briefs = ecs.list_service_deployments(cluster, service, status=["SUCCESSFUL"])
    except AwsError as exc:
        if exc.code in SERVICE_DEPLOYMENT_API_MISSING:
            log.debug("no service-deployment API here (%s): the family's revisions stand in for the history",
                      exc.code)
            return None
        raise
    except NotImplementedError:  # moto's in-process mock has no such operation
        return None
    revisions = [str(b["targetServiceRevisionArn"]) for b in briefs if b.get("targetServiceRevisionArn")]
    described = ecs.describe_service_revisions(revisions) if revisions else []
    return [str(r["taskDefinition"]) for r in described
            if r.get("taskDefinition") and revision_of(str(r["taskDefinition"]))[0] == family]


def _resolve_to(ecs: EcsGateway, to: str, family: str) -> dict[str, Any]:
    reference = f"{family}:{to}" if to.isdigit() else to
    try:
        described = ecs.describe_task_definition(reference)
    except AwsError as exc:
        if exc.code in ("ClientException", "InvalidParameterException"):
            raise ConfigError(f"task definition {reference} not found in ECS ({exc.message})", key="--to") from None
        raise
    if described.get("status") == "INACTIVE":
        raise ConfigError(f"task definition {reference} is INACTIVE (deregistered): ECS does not update a service "
                          "to it", key="--to")
    return described


def _single(config: Config) -> ServiceEntry:
    targets = config.targets()
    if len(targets) != 1 or not targets[0].service.name:
        raise ConfigError("name the one service to roll back (service.name, or --service with a services list)",
                          key="service.name")
    return targets[0]


def roll_back(config: Config, *, to: str | None = None, factory: ClientFactory | None = None) -> dict[str, Any]:
    """Move the service to the previous revision (or `to`) and follow the deployment like deploy.

    Returns deploy's result plus `rolledBackFrom` / `rolledBackTo` (ARNs; From is None when the service
    already ran the target). ConfigError (exit 2) when the
    service does not exist or there is nothing to go back to.

    >>> roll_back(load_config("ci-ecs.yml"))["taskDefinitionArn"]  # doctest: +SKIP
    'arn:aws:ecs:us-east-1:123456789012:task-definition/hello:6'
    """
    factory = factory or ClientFactory(aws_settings(config))
    target = _single(config)
    cluster, name = config.cluster or "default", str(target.service.name)
    ecs = EcsGateway(factory.client("ecs"))
    service = ecs.describe_service(cluster, name)
    if service is None or service.get("status") != "ACTIVE":
        raise ConfigError(f"service {name} not found (or not ACTIVE) in cluster {cluster}: nothing to roll back",
                          key="service.name")
    current = str(service.get("taskDefinition"))
    family = revision_of(current)[0]
    if to:
        wanted = str(_resolve_to(ecs, to, family)["taskDefinitionArn"])
    else:
        active = ecs.list_task_definitions(family)
        history = deployed_revisions(ecs, cluster, name, family)
        if history is not None:
            # Candidates: revisions this service ran that are still ACTIVE; newest counted over all it ran.
            newest = max([revision_of(current)[1], *(revision_of(arn)[1] for arn in history)])
            deployed_active = [arn for arn in active if arn in set(history)]
            found = previous_revision(current, deployed_active, newest=newest)
            where = f"service {name} was never deployed with an ACTIVE revision older than"
        else:
            found = previous_revision(current, active)
            where = f"family {family} has no ACTIVE revision older than"
        if found is None:
            raise ConfigError(f"nothing to roll back to: {where} {current.rsplit('/', 1)[-1]} (give --to)",
                              key="service.name")
        wanted = found
    if wanted == current:
        log.info("service %s already runs %s", name, wanted.rsplit("/", 1)[-1])
    else:
        log.info("rolling service %s back from %s to %s", name, current.rsplit("/", 1)[-1],
                 wanted.rsplit("/", 1)[-1])
    # Deploy that revision as is: no image, no repository, the config's service settings.
    pinned = config.model_copy(update={
        "services": [], "task": TaskConfig(definition=wanted), "service": target.service,
        "repository": None, "image": ImageConfig(), "image_uri": None})
    # None when the service already ran it (a re-run): nothing was rolled back.
    moved = {"rolledBackFrom": current if wanted != current else None, "rolledBackTo": wanted}
    try:
        result = Deployer(pinned, factory, base_dir=Path(".")).run().as_json()
    except CiEcsError as exc:
        if exc.result is not None:
            exc.result = {**exc.result, **moved}
        raise
    return {**result, **moved}
