"""The deploy flow: describe -> pure diff -> act only on a non-empty diff, with dry-run threaded through.

ECR repository -> image -> cluster -> task definition -> service -> wait -> addresses.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ci_ecs.aws import AwsSettings, ClientFactory
from ci_ecs.config import Config, ServiceEntry
from ci_ecs.diff import Change
from ci_ecs.ecr import EcrGateway, ensure_repository
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import CiEcsError, DeploymentFailedError, DeployTimeoutError
from ci_ecs.image import ResolvedImage, preflight, resolve_image
from ci_ecs.network import default_subnets, service_addresses
from ci_ecs.output import service_url
from ci_ecs.service import desired_service, ensure_cluster, ensure_service, primary_deployment
from ci_ecs.taskdef import ensure_task_definition, render, validate_registration
from ci_ecs.wait import WaitOutcome, wait_for_deployment

log = logging.getLogger(__name__)

# Stands in for an ECR image not known yet, so a config can be rendered and checked before any AWS call.
_PLACEHOLDER_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/placeholder:validate"


@dataclass
class DeployResult:
    """The outcome of a deploy; `as_json()` is the `--output json` contract (design.md)."""

    cluster: str
    service: str
    serviceArn: str | None = None  # noqa: N815 - the JSON contract's names
    serviceAction: str = "unchanged"  # noqa: N815
    taskDefinitionArn: str | None = None  # noqa: N815
    taskDefinitionRegistered: bool = False  # noqa: N815
    imageUri: str | None = None  # noqa: N815
    imageDigest: str | None = None  # noqa: N815
    imagePushed: bool = False  # noqa: N815
    deploymentId: str | None = None  # noqa: N815
    rolloutState: str | None = None  # noqa: N815
    publicIps: list[str] = field(default_factory=list)  # noqa: N815
    privateIps: list[str] = field(default_factory=list)  # noqa: N815
    loadBalancerDns: str | None = None  # noqa: N815
    serviceUrl: str | None = None  # noqa: N815
    durationSeconds: float = 0.0  # noqa: N815
    apiCalls: dict[str, int] = field(default_factory=dict)  # noqa: N815
    dryRun: bool = False  # noqa: N815
    changed: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # With a `services:` list: each service's own result (the fields above then sum them up).
    services: list[dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object `--output json` prints."""
        return asdict(self)


def aws_settings(config: Config) -> AwsSettings:
    """The client factory settings a config asks for."""
    return AwsSettings(region=config.region, profile=config.profile, endpoint_url=config.endpoint_url,
                       assume_role_arn=config.assume_role_arn, max_attempts=config.max_attempts)


def check_config(config: Config, base_dir: Path) -> None:
    """Everything that can be checked without AWS: render each task definition and validate its shape.

    Raises ConfigError (exit 2) before any AWS call.
    """
    placeholder = config.image_uri or (_PLACEHOLDER_IMAGE if config.repository else None)
    for target in config.targets():
        validate_registration(render(target.task, placeholder, base_dir=base_dir, region=config.region))


def _network_mode(definition: dict[str, Any]) -> str | None:
    mode = definition.get("networkMode")
    return str(mode) if mode else None


def _service_port(definition: dict[str, Any]) -> int | None:
    for container in definition.get("containerDefinitions", []):
        for mapping in container.get("portMappings", []):
            port = mapping.get("hostPort") or mapping.get("containerPort")
            if port:
                return int(port)
    return None


def _describe_changes(*groups: tuple[str, list[Change]]) -> list[dict[str, Any]]:
    return [{"resource": name, **change.as_dict()} for name, changes in groups for change in changes]


@dataclass
class _Shared:
    """What every service of one deploy shares: the image and the cluster."""

    ecs: EcsGateway
    image: ResolvedImage
    cluster_created: bool
    started: float
    clock_start: float


class Deployer:
    """Runs the deploy flow for one config with one client factory (so API calls are counted together)."""

    def __init__(self, config: Config, factory: ClientFactory, *, base_dir: Path = Path("."),
                 dry_run: bool = False) -> None:
        self.config = config
        self.factory = factory
        self.base_dir = base_dir
        self.dry_run = dry_run
        self._subnets: list[str] | None = None
        self._subnets_lock = threading.Lock()

    def run(self) -> DeployResult:
        """Deploy, or with dry_run only describe and diff. Raises a CiEcsError on failure."""
        config = self.config
        assert config.cluster
        started, clock_start = time.time(), time.monotonic()
        check_config(config, self.base_dir)
        preflight(config)
        ecs = EcsGateway(self.factory.client("ecs"))
        ecr = None
        repository = None
        if config.repository and not config.image_uri:
            ecr = EcrGateway(self.factory.client("ecr"))
            repository = ensure_repository(ecr, config.repository, dry_run=self.dry_run)
        image = resolve_image(config, ecr, repository, dry_run=self.dry_run, base_dir=self.base_dir)
        cluster_created = ensure_cluster(ecs, config.cluster, dry_run=self.dry_run)
        shared = _Shared(ecs, image, cluster_created, started, clock_start)
        if not config.services:
            return self._deploy_service(shared, config.targets()[0])
        return self._deploy_many(shared, config.targets())

    def _deploy_many(self, shared: _Shared, targets: list[ServiceEntry]) -> DeployResult:
        """Deploy several services at once (at most deploy.parallelism), then report them together."""
        assert self.config.cluster
        outcomes: dict[str, DeployResult] = {}
        errors: dict[str, CiEcsError] = {}
        with ThreadPoolExecutor(max_workers=self.config.deploy.parallelism, thread_name_prefix="ci-ecs") as pool:
            futures = {pool.submit(self._deploy_service, shared, target): str(target.service.name)
                       for target in targets}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    outcomes[name] = future.result()
                except (DeploymentFailedError, DeployTimeoutError) as exc:
                    errors[name] = exc
                    if exc.result:
                        outcomes[name] = DeployResult(**exc.result)
        names = [str(t.service.name) for t in targets]
        results = [outcomes[n] for n in names if n in outcomes]
        total = DeployResult(cluster=self.config.cluster, service=",".join(names), dryRun=self.dry_run,
                             imageUri=shared.image.uri, imageDigest=shared.image.digest,
                             imagePushed=shared.image.pushed)
        actions = {r.serviceAction for r in results}
        total.serviceAction = next((a for a in ("created", "updated") if a in actions), "unchanged")
        total.taskDefinitionRegistered = any(r.taskDefinitionRegistered for r in results)
        states = {r.rolloutState for r in results}
        total.rolloutState = states.pop() if len(states) == 1 else "MIXED"
        total.publicIps = sorted({ip for r in results for ip in r.publicIps})
        total.privateIps = sorted({ip for r in results for ip in r.privateIps})
        total.changed = any(r.changed for r in results)
        total.changes = [{**c, "service": r.service} for r in results for c in r.changes]
        total.services = [r.as_json() for r in results]
        result = self._finish(total, shared.started)
        if errors:
            failed = [n for n in names if isinstance(errors.get(n), DeploymentFailedError)]
            exc_type = DeploymentFailedError if failed else DeployTimeoutError
            message = "; ".join(f"{n}: {errors[n].message}" for n in names if n in errors)
            error: CiEcsError = DeployTimeoutError(message, result=result)
            if failed:
                failures = {n: e for n, e in errors.items() if isinstance(e, DeploymentFailedError)}
                error = DeploymentFailedError(
                    message, result=result,
                    stopped_reasons=[f"{n}: {r}" for n, e in failures.items() for r in e.stopped_reasons],
                    events=[f"{n}: {event}" for n, e in failures.items() for event in e.events])
            log.error("%d of %d services did not deploy (%s)", len(errors), len(names), exc_type.__name__)
            raise error
        return total

    def _deploy_service(self, shared: _Shared, target: ServiceEntry) -> DeployResult:
        config, ecs, image = self.config, shared.ecs, shared.image
        name = str(target.service.name)
        assert config.cluster
        result = DeployResult(cluster=config.cluster, service=name, dryRun=self.dry_run, imageUri=image.uri,
                              imageDigest=image.digest, imagePushed=image.pushed)
        definition = render(target.task, image.uri, base_dir=self.base_dir, region=self.factory.region)
        taskdef = ensure_task_definition(ecs, definition, dry_run=self.dry_run)
        result.taskDefinitionArn = taskdef.arn
        result.taskDefinitionRegistered = taskdef.registered

        subnets = list(target.service.subnets)
        if _network_mode(definition) == "awsvpc" and not subnets:
            subnets = self._default_subnets()
        spec = desired_service(target.service, task_definition=taskdef.arn, subnets=subnets,
                               network_mode=_network_mode(definition))
        outcome = ensure_service(ecs, config.cluster, name, spec,
                                 force_new_deployment=config.deploy.force_new_deployment, dry_run=self.dry_run)
        result.serviceAction = outcome.action
        result.serviceArn = outcome.service.get("serviceArn")
        result.deploymentId = outcome.deployment_id
        result.changes = _describe_changes(("cluster", [Change("cluster", new="(create)")] if shared.cluster_created
                                            else []),
                                           ("taskDefinition", taskdef.changes), ("service", outcome.changes))
        result.changed = bool(result.changes) or outcome.action != "unchanged"
        primary = primary_deployment(outcome.service)
        result.rolloutState = (primary or {}).get("rolloutState")

        if not self.dry_run and outcome.deployment_id:
            settled = self._settled(outcome.service, outcome.deployment_id)
            if config.deploy.wait and not settled:
                remaining = config.deploy.timeout - (time.monotonic() - shared.clock_start)
                final = self._follow(ecs, name, outcome.deployment_id, outcome.previous_task_definition,
                                     outcome.service, remaining, shared.started, result)
                result.rolloutState = "COMPLETED"
                outcome.service = final.service
            addresses = service_addresses(ecs, self.factory.client("ec2"), self._elbv2(outcome.service),
                                          config.cluster, outcome.service)
            result.publicIps, result.privateIps = addresses.public_ips, addresses.private_ips
            result.loadBalancerDns = addresses.load_balancer_dns
            result.serviceUrl = service_url({"loadBalancerDns": result.loadBalancerDns,
                                             "publicIps": result.publicIps,
                                             "servicePort": _service_port(definition)}) or None
        self._finish(result, shared.started)
        return result

    def _default_subnets(self) -> list[str]:
        """The default VPC's default subnets, looked up once per deploy."""
        with self._subnets_lock:
            if self._subnets is None:
                self._subnets = default_subnets(self.factory.client("ec2"))
                log.info("no subnets configured: using the default VPC's subnets %s", ", ".join(self._subnets))
            return list(self._subnets)

    def _elbv2(self, service: dict[str, Any]) -> Any:
        if any(lb.get("targetGroupArn") for lb in service.get("loadBalancers", [])):
            return self.factory.client("elbv2")
        return None

    @staticmethod
    def _settled(service: dict[str, Any], deployment_id: str) -> bool:
        """True when the service already runs only this deployment, complete (an unchanged re-run)."""
        deployments = service.get("deployments", [])
        if len(deployments) != 1 or deployments[0].get("id") != deployment_id:
            return False
        only = deployments[0]
        return only.get("rolloutState") in ("COMPLETED", None) and \
            only.get("runningCount") == only.get("desiredCount") and service.get("status") == "ACTIVE"

    @staticmethod
    def _circuit_breaker(service: dict[str, Any]) -> tuple[bool, bool]:
        breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        return bool(breaker.get("enable")), bool(breaker.get("rollback"))

    def _follow(self, ecs: EcsGateway, name: str, deployment_id: str, previous: str | None,
                service: dict[str, Any], remaining: float, started: float, result: DeployResult) -> WaitOutcome:
        config = self.config
        assert config.cluster
        breaker, breaker_rollback = self._circuit_breaker(service)
        log.info("waiting for deployment %s of %s (timeout %d s)", deployment_id, name, max(0, int(remaining)))
        try:
            outcome = wait_for_deployment(ecs, config.cluster, name, deployment_id,
                                          timeout=max(1.0, remaining), max_interval=config.deploy.max_poll_interval,
                                          started_at=started, circuit_breaker=breaker,
                                          timeout_label=config.deploy.timeout)
        except DeployTimeoutError as exc:
            result.rolloutState = "IN_PROGRESS"
            exc.result = self._finish(result, started)
            raise
        if outcome.state == "COMPLETED":
            log.info("deployment %s of %s completed", deployment_id, name)
            return outcome
        result.rolloutState = outcome.state
        lines = [outcome.reason]
        rolled_back_to = None
        if outcome.state == "ROLLED_BACK":
            rolled_back_to = outcome.service.get("taskDefinition") or None
        elif outcome.state == "FAILED" and breaker and breaker_rollback:
            rolled_back_to = previous
            lines.append("ECS's circuit breaker rolls back the service")
        elif outcome.state == "FAILED":
            rolled_back_to = self._roll_back(ecs, name, previous, breaker_rollback, lines)
        raise DeploymentFailedError(
            "; ".join(line for line in lines if line), deployment_id=deployment_id,
            stopped_reasons=outcome.stopped_reasons, events=outcome.events, rolled_back_to=rolled_back_to,
            result=self._finish(result, started))

    def _roll_back(self, ecs: EcsGateway, name: str, previous: str | None, breaker_rollback: bool,
                   lines: list[str]) -> str | None:
        config = self.config
        assert config.cluster
        wanted = config.deploy.rollback if config.deploy.rollback is not None else not breaker_rollback
        if not wanted:
            lines.append("not rolled back (--no-rollback)")
            return None
        if not previous:
            lines.append("nothing to roll back to: the service was created by this deploy")
            return None
        log.warning("rolling back service %s to %s", name, previous)
        updated = ecs.update_service({"cluster": config.cluster, "service": name, "taskDefinition": previous})
        back = primary_deployment(updated)
        if back and back.get("id"):
            breaker, _ = self._circuit_breaker(updated)
            try:
                outcome = wait_for_deployment(ecs, config.cluster, name, str(back["id"]),
                                              timeout=config.deploy.timeout,
                                              max_interval=config.deploy.max_poll_interval, circuit_breaker=breaker)
                lines.append(f"rolled back to {previous} ({outcome.state.lower()})")
            except DeployTimeoutError:
                lines.append(f"rolling back to {previous}: not finished within the timeout")
        return previous

    def _finish(self, result: DeployResult, started: float) -> dict[str, Any]:
        result.durationSeconds = round(time.time() - started, 3)
        result.apiCalls = self.factory.counter.by_service()
        return result.as_json()


def deploy(config: Config, *, factory: ClientFactory | None = None, base_dir: Path = Path("."),
           dry_run: bool = False) -> DeployResult:
    """Deploy `config` idempotently: running it twice with the same inputs changes nothing the second time.

    >>> from ci_ecs.config import load_config  # doctest: +SKIP
    >>> deploy(load_config("ci-ecs.yml")).publicIps  # doctest: +SKIP
    ['203.0.113.10']
    """
    return Deployer(config, factory or ClientFactory(aws_settings(config)), base_dir=base_dir,
                    dry_run=dry_run).run()
