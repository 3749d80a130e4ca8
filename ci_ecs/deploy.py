"""The deploy flow: describe -> pure diff -> act only on a non-empty diff.

ECR repository -> image -> cluster -> task definition -> service -> wait -> addresses. Each write step is a
ci_ecs.act step run through `Deployer._act`, the one dry-run gate: a dry run (`ci-ecs plan`, `--dry-run`) stops
each step before its first write and follows nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ci_ecs import network, phases, startup
from ci_ecs.act import Step, act
from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.cluster import associate_capacity_providers, ensure_cluster, planned_providers
from ci_ecs.config import Config, ServiceEntry
from ci_ecs.diff import Change, masked_changes
from ci_ecs.ecs import BatchingEcsGateway, EcsGateway
from ci_ecs.errors import AwsError, CiEcsError, ConfigError, DeployCancelledError
from ci_ecs.express_deploy import deploy_express
from ci_ecs.follow.follower import Follower
from ci_ecs.follow.state import WaitOutcome
from ci_ecs.image import (
    ResolvedImage,
    TagResolver,
    ensure_image_repository,
    image_repository,
    preflight,
    resolve_image,
)
from ci_ecs.memory import limit_malloc_arenas
from ci_ecs.network import Addresses, attribute_draining, default_subnets, service_addresses, service_port
from ci_ecs.output import service_url
from ci_ecs.pacing import pace
from ci_ecs.parallel import each_service
from ci_ecs.preflight.keys import Keys
from ci_ecs.preflight.limits import size_problems
from ci_ecs.preflight.plan import check_config, check_rendered, check_requests, refuse_other_controllers
from ci_ecs.preflight.plan import placeholder_image as _placeholder
from ci_ecs.preflight.problems import raise_problems, target_prefix
from ci_ecs.preflight.rules import inferred_launch_type
from ci_ecs.redact import mask_secrets
from ci_ecs.results import DeployResult, RegisterResult, combine, combined_error
from ci_ecs.service import ServiceResult, desired_service, ensure_service, primary_deployment, refuse_missing_services
from ci_ecs.tails import LogTail, failure_tails
from ci_ecs.task_files import base_definition
from ci_ecs.taskdef import TaskDefinitionResult, ensure_task_definition, render
from ci_ecs.verify import verify_deployment

log = logging.getLogger(__name__)

T = TypeVar("T")

# The services and task families described before the image step are used as they are when that step took
# less than this (no build or push): otherwise they are described again, right before the update.
_DESCRIBED_FRESH_SECONDS = 10.0


def _network_mode(definition: dict[str, Any]) -> str | None:
    mode = definition.get("networkMode")
    return str(mode) if mode else None


@dataclass
class _Shared:
    """What every service of one deploy shares: the image, the cluster and the deadline."""

    ecs: EcsGateway
    image: ResolvedImage
    cluster_created: bool
    started: float
    clock_start: float
    resolver: TagResolver | None = None
    phases: phases.Phases | None = None  # the deploy's phases so far; each service records its own from here
    # What the cluster step changed on an existing cluster (capacity providers associated), for the diff.
    cluster_changes: list[Change] = field(default_factory=list)

    def remaining(self, timeout: float) -> float:
        """Seconds left of the deploy's `timeout`, counted from its start (the rollback shares it)."""
        return timeout - (time.monotonic() - self.clock_start)


def _cluster_name(config: Config) -> str:
    # As in ECS, "default" when nothing names one (Config's default; library callers may pass "").
    return config.cluster or "default"


class Deployer:
    """Runs the deploy flow for one config with one client factory (so API calls are counted together)."""

    def __init__(self, config: Config, factory: ClientFactory, *, base_dir: Path = Path("."),
                 dry_run: bool = False) -> None:
        self.config = config
        self.factory = factory
        self.base_dir = base_dir
        self.dry_run = dry_run
        self._subnets: list[str] | None = None
        # task.definition revisions read from ECS, by id() of their TaskConfig (read before anything is written).
        self._definitions: dict[int, dict[str, Any]] = {}
        self._subnets_lock = threading.Lock()
        self._cancelled = threading.Event()
        # What `_describe_first` read (service by name, None = missing; latest revision by family), used once.
        self._services: dict[str, dict[str, Any] | None] | None = None
        self._latest: dict[str, dict[str, Any] | None] = {}
        self._known_definitions: dict[str, dict[str, Any]] = {}
        self._align: Callable[[float], float] | None = None
        self._interfaces: network.Interfaces | None = None  # several services: their tasks' ENIs read together
        self._unpace: Callable[[], None] = lambda: None  # ends the pacing of the ECS client's calls
        # The capacity providers the cluster has once the cluster step ran (cluster.planned_providers); None
        # until it was described, or when the deploy neither names providers nor associates any.
        self.cluster_providers: list[str] | None = None
        # Tags set on a task definition revision this deploy registers (`ci-ecs preview`: the preview's own).
        self.task_tags: dict[str, str] | None = None

    def cancel(self) -> None:
        """Stop every wait of this deploy at its next sleep (SIGTERM/SIGINT: CI runners wait seconds, not minutes)."""
        self._cancelled.set()

    def _act(self, step: Step[T]) -> T:
        """The one dry-run gate: a step's writes are sent unless this is a dry run (ci_ecs.act)."""
        return act(step, dry_run=self.dry_run)

    def _sleep(self, seconds: float) -> None:
        if self._align is not None:  # several services: every wait wakes on the deploy's shared poll grid
            seconds = self._align(seconds)
        self._wait(seconds)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        startup.resume_collector()  # the start-up is over (ci_ecs.startup): its first wait is as good a time as any
        while True:
            # A SIGTERM/SIGINT (ci_ecs.aws_guard.cancel_calls) ends every wait, in whichever thread it sleeps.
            cancelled = self.factory.guard.cancellation()
            if cancelled is not None:
                raise cancelled
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._cancelled.wait(min(left, 0.1)):
                raise DeployCancelledError("cancelled while waiting; what was done so far stays done", 130)

    @phases.recorded("preflight")
    def run(self) -> DeployResult:
        """Deploy, or with dry_run only describe and diff. Raises a CiEcsError on failure.
        Every CiEcsError raised carries `result`: the JSON result so far, with `error` set."""
        try:
            return self._run()
        finally:  # the factory's client may serve another deploy (a library caller)
            self._unpace()

    def _run(self) -> DeployResult:
        config = self.config
        if config.express is not None:  # ECS Express Mode: one Express service instead of task + service
            return deploy_express(self)
        cluster = _cluster_name(config)
        started, clock_start = time.time(), time.monotonic()
        names = [str(t.service.name) for t in config.targets()]
        partial = DeployResult(cluster=cluster, service=",".join(names), dryRun=self.dry_run)
        # `--timeout` bounds the whole run: every AWS call and its retries end by then (exit 4).
        self.factory.set_deadline(config.deploy.timeout, start=clock_start)
        try:
            check_config(config, self.base_dir)
            preflight(config, dry_run=self.dry_run, base_dir=self.base_dir)
            client = self.factory.client("ecs")
            # Several services: their waits poll on one schedule and share each poll's reads; calls paced (pacing.py).
            ecs = BatchingEcsGateway(client, cluster) if len(config.targets()) > 1 else EcsGateway(client)
            if isinstance(ecs, BatchingEcsGateway):
                limit_malloc_arenas()  # before the services' threads start (ci_ecs.memory)
                self._align, self._unpace = ecs.align, pace(client, self._wait)
                self._interfaces = network.batched_interfaces(lambda: self.factory.client("ec2"))
            described = self._describe_first(ecs, cluster, config.targets())
            # An ACTIVE (or DRAINING) service means its cluster exists; ClusterNotFoundException that it does not.
            exists = False if described is None else (
                True if any(s.get("status") in ("ACTIVE", "DRAINING") for s in described.values()) else None)
            # Before the cluster is made: a service only flags name (drop-in) is updated, never created.
            refuse_missing_services(ecs, cluster, names, described, create=config.create is not False)
            described_cluster, exists = self._read_cluster(ecs, cluster, exists)
            if exists:  # a cluster that does not exist yet has no service
                # Before anything is written: a service ECS does not deploy itself is refused.
                refuse_other_controllers(ecs, cluster, config.targets(), described=described)
            # The requests this deploy will send, checked after the reads and before the first write.
            check_requests(config, self.base_dir, self.factory, cluster, config.targets(), services=self._services,
                           definitions=self._definitions, default_subnets=self._default_subnets,
                           cluster_providers=self.cluster_providers)
            cluster_created, cluster_changes = self._cluster(ecs, cluster, exists, described_cluster)
            resolver = TagResolver(self.factory, config.image.pin)
            phases.begin("image")
            image = self._image(resolver)
            if image.pushed or time.monotonic() - clock_start > _DESCRIBED_FRESH_SECONDS:
                # A build or push took a while: what was described then may be stale, describe again.
                self._services, self._latest = None, {}
            partial.imageUri, partial.imageDigest, partial.imagePushed = image.uri, image.digest, image.pushed
        except CiEcsError as exc:
            if exc.result is None:
                partial.error = exc.message
                exc.result = self._finish(partial, started)
            raise
        shared = _Shared(ecs, image, cluster_created, started, clock_start, resolver, phases.current(), cluster_changes)
        if not config.services:
            return self._deploy_service(shared, config.targets()[0])
        return self._deploy_many(shared, config.targets())

    def _read_cluster(self, ecs: EcsGateway, cluster: str, exists: bool | None
                      ) -> tuple[dict[str, Any] | None, bool | None]:
        """The cluster's read, before the pre-flight: (DescribeClusters' answer or None, whether it exists).

        The cluster is described when its capacity providers matter (a service's strategy names some, or the
        config associates some) or when nothing said yet whether it exists; `cluster_providers` keeps what it
        has once the cluster step ran.
        """
        config = self.config
        configured = list(config.cluster_capacity_providers)
        named = configured or any(t.service.capacity_provider_strategy for t in config.targets())
        described = None
        if exists is None or (exists and named):
            described = ecs.describe_cluster(cluster)
            exists = described is not None
        if named:
            self.cluster_providers = planned_providers(described, configured)
        return described, exists

    def _cluster(self, ecs: EcsGateway, cluster: str, exists: bool | None, described: dict[str, Any] | None
                 ) -> tuple[bool, list[Change]]:
        """The cluster step: create it when missing (FARGATE, FARGATE_SPOT and `cluster_capacity_providers`
        associated), or associate the configured capacity providers an existing cluster lacks. (created, the
        changes made to an existing cluster). `exists`/`described`: what `_read_cluster` found.
        """
        configured = list(self.config.cluster_capacity_providers)
        created = self._act(ensure_cluster(ecs, cluster, exists=exists, capacity_providers=configured))
        if described is None or not configured:
            return created, []
        change = self._act(associate_capacity_providers(ecs, cluster, described, configured))
        return created, [change] if change else []

    def _describe_first(self, ecs: EcsGateway, cluster: str, targets: list[ServiceEntry]
                        ) -> dict[str, dict[str, Any]] | None:
        """The independent reads before anything is written, at once: the services (≤ 10 per DescribeServices
        call), each config-made task family's latest revision, and any `task.definition` read from ECS.

        Kept for the service and task definition steps so nothing is described twice; None when the
        cluster does not exist.
        """
        names = [str(t.service.name) for t in targets]
        families = sorted({str(t.task.family) for t in targets if not t.task.definition and t.task.family})
        workers = 1 + min(len(families), self.config.deploy.parallelism)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ci-ecs-describe") as pool:
            services = pool.submit(ecs.find_services, cluster, names)
            latest = {family: pool.submit(ecs.latest_task_definition, family) for family in families}
            self._read_definitions(ecs)
            found = services.result()
            self._latest = {family: future.result() for family, future in latest.items()}
        self._services = {name: (found or {}).get(name) for name in names}
        return found

    def _image(self, resolver: TagResolver) -> ResolvedImage:
        """The deployed image: `--image` (a tag in ECR resolved to its digest), else the config's repository."""
        config = self.config
        if config.image_uri:
            resolution = resolver.resolve(config.image_uri)
            return ResolvedImage(resolution.uri, resolution.digest)
        ecr = None
        repository = None
        if config.repository:  # private ECR, or ECR Public with repository.public (image.py)
            ecr = image_repository(config, self.factory)
            repository = self._act(ensure_image_repository(config, ecr, base_dir=self.base_dir))
        return self._act(resolve_image(config, ecr, repository, base_dir=self.base_dir))

    def register(self) -> RegisterResult:
        """`ci-ecs register`: the image (as deploy puts it), then each task definition, registered only when it
        differs from the latest ACTIVE revision. No cluster or service is looked at or touched.
        """
        config = self.config
        started, clock_start = time.time(), time.monotonic()
        result = RegisterResult(dryRun=self.dry_run)
        try:
            check_config(config, self.base_dir, with_service=False)
            preflight(config, dry_run=self.dry_run, base_dir=self.base_dir)
            ecs = EcsGateway(self.factory.client("ecs"))
            self._read_definitions(ecs, with_service=False)
            resolver = TagResolver(self.factory, config.image.pin)
            image = self._image(resolver)
            result.imageUri, result.imageDigest, result.imagePushed = image.uri, image.digest, image.pushed
            shared = _Shared(ecs, image, False, started, clock_start, resolver)
            done = []
            for target in config.targets():
                _, taskdef = self._task_definition(shared, target, with_service=False)
                done.append(taskdef)
                result.changes.extend(mask_secrets({"resource": "taskDefinition", "family": taskdef.family,
                                                    **change.as_dict()}) for change in taskdef.changes)
            result.taskDefinitionArn = ",".join(t.arn for t in done)
            result.taskDefinitionRegistered = any(t.registered for t in done)
            result.family = ",".join(t.family for t in done)
            result.revision = done[0].revision if len(done) == 1 else None
            result.changed = result.taskDefinitionRegistered
            if len(done) > 1:
                result.taskDefinitions = [{"taskDefinitionArn": t.arn, "family": t.family, "revision": t.revision,
                                           "registered": t.registered} for t in done]
            result.warnings = list(resolver.notes)
        except CiEcsError as exc:
            result.error = exc.message
            result.durationSeconds = round(time.time() - started, 3)
            result.apiCalls = self.factory.counter.by_service()
            exc.result = result.as_json()
            raise
        result.durationSeconds = round(time.time() - started, 3)
        result.apiCalls = self.factory.counter.by_service()
        return result

    def _read_definitions(self, ecs: EcsGateway, *, with_service: bool = True) -> None:
        """Read every `task.definition` from ECS and check it, before anything is written (bad ones: exit 2).

        A FAMILY's latest ACTIVE revision is rendered with a stand-in image and held to the same rules as
        a native file; a FAMILY:REVISION or ARN must exist.
        """
        config = self.config
        placeholder = config.image_uri or _placeholder(config)
        for target in config.targets():
            task = target.task
            if not task.definition:
                continue
            if task.pinned_revision():
                try:
                    described = ecs.describe_task_definition(task.definition)
                except AwsError as exc:
                    if exc.fields.get("code") in ("ClientException", "InvalidParameterException"):
                        raise ConfigError(f"task definition {task.definition} not found in ECS ({exc.message})",
                                          key="task.definition") from None
                    raise
            else:
                found = ecs.latest_task_definition(task.definition)
                if found is None:
                    raise ConfigError(f"task definition family {task.definition} has no ACTIVE revision in ECS: "
                                      "register one first, or give a task definition file", key="task.definition")
                described = found
                log.info("task definition %s:%s read from ECS as the base", task.definition,
                         described.get("revision"))
                images = {name: placeholder for name in task.images}
                definition = render(task, placeholder, base_dir=self.base_dir, region=config.region,
                                    base=described, images=images)
                check_rendered(config, target, definition, with_service=with_service)
            self._definitions[id(target.task)] = described

    def _task_definition(self, shared: _Shared, target: ServiceEntry, *, with_service: bool = True
                         ) -> tuple[dict[str, Any], TaskDefinitionResult]:
        """The target's task definition: rendered and registered when it differs, or a revision as is.

        `task.definition` FAMILY: the latest ACTIVE revision is the base (fields ci-ecs does not model
        kept), the image(s) and environment applied, checked like a native file, registered only if that
        changed it. FAMILY:REVISION or an ARN: described (it must exist) and used as is.
        """
        task = target.task
        resolver = shared.resolver
        images = {name: (resolver.resolve(ref).uri if resolver else ref) for name, ref in task.images.items()}
        base = self._definitions.get(id(target.task)) if task.definition else None
        if task.definition and base is None:
            self._read_definitions(shared.ecs, with_service=with_service)  # a library caller's own flow
            base = self._definitions[id(target.task)]
        if base is not None and task.pinned_revision():
            log.info("task definition %s:%s deployed as is", base.get("family"), base.get("revision"))
            return base_definition(base), TaskDefinitionResult(
                str(base["taskDefinitionArn"]), False, str(base.get("family")), base.get("revision"))
        definition = render(task, shared.image.uri, base_dir=self.base_dir, region=self.factory.region,
                            base=base, images=images)
        # The size again with the real image (a digest reference is longer than the placeholder): pure, cheap.
        raise_problems(size_problems(definition, Keys(task, target_prefix(self.config, target))))
        if base is not None or not with_service:
            check_rendered(self.config, target, definition, with_service=with_service)
        if base is not None:
            return definition, self._act(ensure_task_definition(shared.ecs, definition, current=base,
                                                                          tags=self.task_tags))
        if with_service and definition.get("family") in self._latest:
            latest = self._latest.pop(str(definition["family"]))
            return definition, self._act(ensure_task_definition(shared.ecs, definition, current=latest,
                                                                          tags=self.task_tags))
        return definition, self._act(ensure_task_definition(shared.ecs, definition, tags=self.task_tags))

    def _deploy_many(self, shared: _Shared, targets: list[ServiceEntry]) -> DeployResult:
        """Deploy several services at once (at most deploy.parallelism), then report them together.

        Two passes: every service's task definition and create/update first, then every wait at once. ECS admits
        registrations past its bucket's 20 one a second (pacing.py): waits started as each update went out would
        each poll with a few others for as long, while together one poll reads them all in a batch (issue 27).
        One service's error (of any kind) does not lose the others' results. A cancel (SIGTERM/SIGINT
        in the main thread) stops every service's wait at its next sleep and returns at once.
        """
        cluster = _cluster_name(self.config)
        forks = {id(t): shared.phases.fork() if shared.phases else None for t in targets}  # each service's own
        phases.begin("services", f"{len(targets)} services, {self.config.deploy.parallelism} at a time")
        staged: dict[str, tuple[DeployResult, dict[str, Any], ServiceResult]] = {}

        def run(target: ServiceEntry) -> DeployResult:
            return self._deploy_service(shared, target, forks[id(target)], staged)

        width = self.config.deploy.parallelism
        outcomes, errors = each_service(targets, run, parallelism=width, cancel=self.cancel)
        followed, failed = each_service([t for t in targets if str(t.service.name) in staged], run,
                                        parallelism=width, cancel=self.cancel)
        outcomes.update(followed)
        errors.update(failed)
        names = [str(t.service.name) for t in targets]
        results = [outcomes[n] for n in names if n in outcomes]
        total = DeployResult(cluster=cluster, service=",".join(names), dryRun=self.dry_run,
                             imageUri=shared.image.uri, imageDigest=shared.image.digest,
                             imagePushed=shared.image.pushed)
        combine(total, results)
        if errors:
            total.error = "; ".join(f"{n}: {errors[n].message}" for n in names if n in errors)
            result = self._finish(total, shared.started)
            log.error("%d of %d services did not deploy", len(errors), len(names))
            raise combined_error(total.error, names, errors, result, any_result=bool(results))
        self._finish(total, shared.started)
        return total

    def _deploy_service(self, shared: _Shared, target: ServiceEntry, recorder: phases.Phases | None = None,
                        staged: dict[str, tuple[DeployResult, dict[str, Any], ServiceResult]] | None = None
                        ) -> DeployResult:
        image, config, name = shared.image, self.config, str(target.service.name)
        result = staged[name][0] if staged and name in staged else DeployResult(
            cluster=_cluster_name(config), service=name, dryRun=self.dry_run, imageUri=image.uri,
            imageDigest=image.digest, imagePushed=image.pushed)
        with phases.use(recorder or phases.current()):
            try:
                self._deploy_into(result, shared, target, staged)
            except CiEcsError as exc:
                if exc.result is None:
                    result.error = exc.message
                    exc.result = self._finish(result, shared.started)
                raise
            finally:
                shared.ecs.forget(result.service, result.serviceDeploymentArn)
            self._finish(result, shared.started)
        return result

    def _deploy_into(self, result: DeployResult, shared: _Shared, target: ServiceEntry,
                     staged: dict[str, tuple[DeployResult, dict[str, Any], ServiceResult]] | None = None) -> None:
        """Register, create or update (`_apply`), then follow the rollout, look up the addresses and verify.
        `staged` (several services): the first call applies and keeps what the second, the wait, follows."""
        if staged is not None and result.service in staged:
            _, definition, outcome = staged.pop(result.service)
        else:
            definition, outcome = self._apply(result, shared, target)
            if self.dry_run or not outcome.deployment_id:
                return
            if staged is not None:  # ECS rolls out meanwhile; followed once every service is updated
                phases.begin(phases.ROLLOUT, "the other services' updates (their waits start together)")
                staged[result.service] = (result, definition, outcome)
                return
        follower = self._follower(shared, result.cluster)
        deployment_id, service, addresses = follower.rollout(
            outcome, result, definition, lambda described: self._addresses(shared.ecs, described, result))
        self._report(result, shared, target, follower, definition, outcome, deployment_id, service, addresses)

    def _apply(self, result: DeployResult, shared: _Shared, target: ServiceEntry
               ) -> tuple[dict[str, Any], ServiceResult]:
        """The act step of one service: its task definition registered and its service created or updated
        when they differ from what ECS has (dry run: nothing sent), recorded in `result`."""
        config, ecs = self.config, shared.ecs
        cluster, name = result.cluster, result.service
        phases.begin("register")
        definition, taskdef = self._task_definition(shared, target)
        if shared.resolver:
            result.warnings.extend(shared.resolver.notes)
        result.taskDefinitionArn = taskdef.arn
        result.taskDefinitionRegistered = taskdef.registered
        if taskdef.registered:
            self._known_definitions[taskdef.arn] = definition  # what the log tails of a failure need

        spec = desired_service(target.service, task_definition=taskdef.arn)
        described = {"current": self._services.pop(name)} if self._services and name in self._services else {}
        phases.begin("service-update")
        outcome = self._act(ensure_service(ecs, cluster, name, spec, network_mode=_network_mode(definition),
                                           default_subnets=self._default_subnets,
                                           launch_type=inferred_launch_type(definition, target.service),
                                           force_new_deployment=config.deploy.force_new_deployment, **described))
        result.serviceAction = outcome.action
        result.serviceArn = outcome.service.get("serviceArn")
        result.deploymentId = outcome.deployment_id
        result.changes = masked_changes(("cluster", [Change("cluster", new="(create)")] if shared.cluster_created
                                            else shared.cluster_changes),
                                           ("taskDefinition", taskdef.changes), ("service", outcome.changes))
        if self.dry_run and outcome.sent:
            result.request = {("CreateService" if outcome.action == "created" else "UpdateService"): outcome.sent}
        result.changed = bool(result.changes) or outcome.action != "unchanged"
        primary = primary_deployment(outcome.service)
        result.rolloutState = (primary or {}).get("rolloutState")
        return definition, outcome

    def _report(self, result: DeployResult, shared: _Shared, target: ServiceEntry, follower: Follower,
                definition: dict[str, Any], outcome: ServiceResult, deployment_id: str, service: dict[str, Any],
                addresses: Addresses | None) -> None:
        """After the rollout: the addresses into `result`, then `verify` (a failed check is the failure verdict)."""
        config, name = self.config, result.service
        if addresses:
            result.publicIps, result.privateIps = addresses.public_ips, addresses.private_ips
            result.loadBalancerDns = addresses.load_balancer_dns
            result.serviceUrl = service_url({"loadBalancerDns": result.loadBalancerDns,
                                             "publicIps": result.publicIps,
                                             "servicePort": service_port(definition)}) or None
        verify = config.verify_for(target)
        if verify is not None and not config.deploy.wait:
            result.warnings.append("verify skipped: the deployment was not waited for (--no-wait)")
        elif verify is not None:
            phases.begin("verify", f"{verify.path} on every task (or the load balancer), up to {verify.within:g} s")
            checked, probed = verify_deployment(verify, definition, shared.image.uri, addresses, deployment_id,
                                                sleep=self._sleep)
            result.verify = checked.as_json()
            if not checked.ok:
                result.rolloutState = "FAILED"
                failed = set(checked.failed_tasks())
                tail_tasks = [t for t in probed if t.get("taskArn") in failed] or probed
                raise follower.failure(name, WaitOutcome("FAILED", deployment_id, service, checked.message()),
                                       outcome, result, tail_tasks=tail_tasks)
            log.info("verify: %d check(s) passed (%s)", len(checked.checks),
                     ", ".join(f"{c.url} {c.status} in {c.ms} ms" for c in checked.checks[:3]))

    def _log_tails(self, shared: _Shared, tasks: list[dict[str, Any]]) -> list[LogTail]:
        """The last `deploy.log_lines` lines of the tasks' essential containers (never fails the deploy)."""
        return failure_tails(tasks, self._known_definitions, shared.ecs.describe_task_definition,
                             lambda region: self.factory.client("logs", region=region), self.config.deploy.log_lines)

    def _addresses(self, ecs: EcsGateway, service: dict[str, Any], result: DeployResult) -> Addresses | None:
        """The service's addresses; a failed lookup is a warning, not a failed deploy (the rollout is done)."""
        try:
            found = service_addresses(ecs, self.factory.client("ec2"), self._elbv2(service), result.cluster, service,
                                      self._interfaces)
            attribute_draining(phases.current(), self._elbv2(service), service)
            return found
        except CiEcsError as exc:
            log.warning("could not look up the service's addresses: %s", exc.message)
            result.warnings.append(f"addresses not looked up: {exc.message}")
            return None

    def _default_subnets(self) -> list[str]:
        """The default VPC's default subnets, looked up once per deploy (for creating a service only)."""
        with self._subnets_lock:
            if self._subnets is None:
                self._subnets = default_subnets(self.factory.client("ec2"))
                if not self._subnets:
                    raise ConfigError("no subnets configured and the region has no default VPC subnets: "
                                      "set service.subnets", key="service.subnets")
                log.info("no subnets configured: the new service uses the default VPC's subnets %s",
                         ", ".join(self._subnets))
            return list(self._subnets)

    def _elbv2(self, service: dict[str, Any]) -> Any:
        if any(lb.get("targetGroupArn") for lb in service.get("loadBalancers", [])):
            return self.factory.client("elbv2")
        return None

    def _follower(self, shared: _Shared, cluster: str) -> Follower:
        return Follower(self.config, shared.ecs, cluster, started=shared.started, remaining=shared.remaining,
                        sleep=self._sleep, finish=lambda result: self._finish(result, shared.started),
                        log_tails=lambda tasks: self._log_tails(shared, tasks))

    def _finish(self, result: DeployResult, started: float) -> dict[str, Any]:
        result.durationSeconds = round(time.time() - started, 3)
        recorder = phases.current()
        result.phases = recorder.as_json() if recorder else []
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


def register_task_definitions(config: Config, *, factory: ClientFactory | None = None, base_dir: Path = Path("."),
                              dry_run: bool = False) -> RegisterResult:
    """`ci-ecs register`: put the image in place and register the task definition(s) only when they differ.

    No service is needed or touched; safe to re-run (an unchanged definition registers nothing).

    >>> register_task_definitions(load_config("ci-ecs.yml", purpose="register")).taskDefinitionArn  # doctest: +SKIP
    'arn:aws:ecs:us-east-1:123456789012:task-definition/hello:7'
    """
    return Deployer(config, factory or ClientFactory(aws_settings(config)), base_dir=base_dir,
                    dry_run=dry_run).register()
