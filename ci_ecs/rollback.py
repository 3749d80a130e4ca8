"""`ci-ecs rollback`: put the service back on the revision it ran before the current one, followed like a deploy.

Which revision: `--to` (a revision number of the service's family, FAMILY:REVISION or an ARN), else what the
service ran before its newest service deployment, read from ECS's own records (ListServiceDeployments,
DescribeServiceDeployments' `sourceServiceRevisions` — "the currently deployed workload configuration" when the
deployment started — and DescribeServiceRevisions for their task definitions; ECS API reference). Revision
numbers say nothing about what ran: after a manual revert (2 bad, back to 1, then 3) "the revision before the
newest" is the bad 2, while the service ran 1 before 3.

Idempotent: when the newest deployment itself reverted the one before it (X → Y → X: its target is what the
previous one started from, and it started from what the previous one deployed), or ECS rolled it back
(status ROLLBACK_*), the service already runs what it ran before: nothing changes. Going further back is
`--to`'s job. Where the endpoint keeps no service deployments (no API, or a service last deployed before ECS
kept them, October 2024), the family's ACTIVE revisions stand in: the newest one older than the family's
newest. A deregistered revision is not a target: ECS refuses UpdateService to an INACTIVE task definition (ECS
Developer Guide, "Deregistering an Amazon ECS task definition revision").

The move itself is `ci-ecs deploy --task-definition FAMILY:REVISION`: nothing is registered or pushed, the
config's service section applies, and the deployment is followed the same way. Its verify checks that the
tasks answer (path and status); the `body` the config expects belongs to the release being left, so it is not
asked of the one put back. A rollback whose deployment fails is not itself rolled back (exit 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.config import Config, ImageConfig, ServiceEntry, TaskConfig
from ci_ecs.deploy import Deployer
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


# ServiceDeploymentStatus values (ECS API reference) for a deployment ECS rolled back, or is rolling back.
_ROLLED_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
# The newest service deployments read: the newest one, the one before it and a little history for its sources.
_HISTORY = 20


@dataclass(frozen=True)
class Step:
    """One service deployment, its revisions as task definition ARNs."""

    created: float
    status: str
    target: str | None
    sources: tuple[str, ...]


def ran_before(steps: list[Step]) -> tuple[str | None, str]:
    """What the service ran before its newest deployment, and why (for the log); None when nothing did.

    `steps`: the service's deployments, newest first.

    >>> td = "arn:aws:ecs:us-east-1:1:task-definition/web:{}".format
    >>> ran_before([Step(3, "SUCCESSFUL", td(3), (td(1),)), Step(2, "SUCCESSFUL", td(1), (td(2),)),
    ...             Step(1, "SUCCESSFUL", td(2), (td(1),))])[0]  # 1, 2 (bad), back to 1, then 3: back to 1
    'arn:aws:ecs:us-east-1:1:task-definition/web:1'
    >>> ran_before([Step(2, "SUCCESSFUL", td(1), (td(2),)), Step(1, "SUCCESSFUL", td(2), (td(1),))])  # 1 → 2 → 1
    ('arn:aws:ecs:us-east-1:1:task-definition/web:1', 'its newest deployment already reverted the one before it')
    >>> ran_before([Step(3, "SUCCESSFUL", td(2), (td(2),)), Step(2, "SUCCESSFUL", td(2), (td(1),))])[0]  # forced
    'arn:aws:ecs:us-east-1:1:task-definition/web:1'
    """
    if not steps:
        return None, "the service has no service deployments"
    if steps[0].status in _ROLLED_BACK:
        # ECS put back (or is putting back) what ran before it: that is still the answer, and usually current.
        found = steps[0].sources[0] if steps[0].sources else None
        return found, f"its newest deployment was rolled back by ECS ({steps[0].status})"
    # Deployments that kept the task definition (a forced new deployment, a count or network change) are not
    # where the revision changed: looked past, for the newest deployment and for the one before it.
    rest = [step for step in steps if not (step.sources and set(step.sources) == {step.target})]
    if not rest:
        return None, "none of its deployments changed the task definition"
    newest = rest[0]
    if len(rest) > 1:
        previous = rest[1]
        if newest.target in previous.sources and previous.target in newest.sources:
            return newest.target, "its newest deployment already reverted the one before it"
    if not newest.sources:
        return None, "its newest deployment created the service (nothing ran before it)"
    if len(newest.sources) > 1:
        # Started while another deployment was under way: what ran before is what last completed, if listed.
        done = next((s.target for s in rest[1:] if s.status == "SUCCESSFUL" and s.target in newest.sources), None)
        if done:
            return done, "the service ran it before its newest deployment"
    return newest.sources[0], "the service ran it before its newest deployment"


def deployment_history(ecs: EcsGateway, cluster: str, service: str) -> list[Step] | None:
    """The service's newest service deployments, newest first, their revisions as task definitions; None
    when the endpoint has no service-deployment API."""
    try:
        briefs = ecs.list_service_deployments(cluster, service)
    except AwsError as exc:
        if exc.code in SERVICE_DEPLOYMENT_API_MISSING:
            log.debug("no service-deployment API here (%s): the family's revisions stand in for the history",
                      exc.code)
            return None
        raise
    except NotImplementedError:  # moto's in-process mock has no such operation
        return None
    # ListServiceDeployments documents no order: sorted here by createdAt.
    briefs.sort(key=lambda b: _seconds(b.get("createdAt")), reverse=True)
    arns = [str(b["serviceDeploymentArn"]) for b in briefs[:_HISTORY] if b.get("serviceDeploymentArn")]
    described = ecs.describe_service_deployments(arns) if arns else []
    revisions = {str(d.get("targetServiceRevision", {}).get("arn")) for d in described} | {
        str(s.get("arn")) for d in described for s in d.get("sourceServiceRevisions") or []}
    revisions.discard("None")
    task_definitions = {str(r["serviceRevisionArn"]): str(r["taskDefinition"])
                        for r in (ecs.describe_service_revisions(sorted(revisions)) if revisions else [])
                        if r.get("serviceRevisionArn") and r.get("taskDefinition")}
    steps = [Step(created=_seconds(d.get("createdAt")), status=str(d.get("status")),
                  target=task_definitions.get(str((d.get("targetServiceRevision") or {}).get("arn"))),
                  sources=tuple(dict.fromkeys(task_definitions[str(s.get("arn"))]
                                              for s in d.get("sourceServiceRevisions") or []
                                              if str(s.get("arn")) in task_definitions)))
             for d in described]
    return sorted(steps, key=lambda step: step.created, reverse=True)


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


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
        history = deployment_history(ecs, cluster, name)
        if history:
            found, why = ran_before(history)
            if found is None:
                raise ConfigError(f"nothing to roll back to: {why} (give --to)", key="service.name")
            described = ecs.describe_task_definition(found)
            if described.get("status") == "INACTIVE":
                raise ConfigError(f"service {name} ran {found.rsplit('/', 1)[-1]} before, but it is INACTIVE "
                                  "(deregistered): ECS does not update a service to it (give --to)",
                                  key="service.name")
            log.info("rollback target %s: %s", found.rsplit("/", 1)[-1], why)
        else:
            found = previous_revision(current, ecs.list_task_definitions(family))
            if found is None:
                raise ConfigError(f"nothing to roll back to: family {family} has no ACTIVE revision older than "
                                  f"{current.rsplit('/', 1)[-1]} (give --to)", key="service.name")
        wanted = found
    if wanted == current:
        log.info("service %s already runs %s", name, wanted.rsplit("/", 1)[-1])
    else:
        log.info("rolling service %s back from %s to %s", name, current.rsplit("/", 1)[-1],
                 wanted.rsplit("/", 1)[-1])
    # Deploy that revision as is: no image, no repository, the config's service settings. Its verify asks that
    # the tasks answer (path, status), not for the body of the release being left; a failed rollback is not
    # itself undone (that would put back what the user is leaving).
    verify = config.verify_for(target)
    pinned = config.model_copy(update={
        "services": [], "task": TaskConfig(definition=wanted), "service": target.service,
        "repository": None, "image": ImageConfig(), "image_uri": None,
        "verify": verify.model_copy(update={"body": None}) if verify is not None else None,
        "verify_enabled": None if verify is not None else False,
        "deploy": config.deploy.model_copy(update={"rollback": False})})
    # None when the service already ran it (a re-run): nothing was rolled back.
    moved = {"rolledBackFrom": current if wanted != current else None, "rolledBackTo": wanted}
    try:
        result = Deployer(pinned, factory, base_dir=Path(".")).run().as_json()
    except CiEcsError as exc:
        if exc.result is not None:
            exc.result = {**exc.result, **moved}
        raise
    return {**result, **moved}
