"""`ci-ecs preview up`: the config's service deployed as a preview of its own (`<service>-pr-<id>`), behind a
host-header rule on a shared listener when the config has `preview.listener_arn`, or an Express service of its
own with an `express:` config.

Order: every check that needs no write (the id, the host, the priority range, the listener, the config as the
deploy's pre-flight checks it, resources of the preview's names that are not the preview's), then the target
group and the rule, then the deploy (ci_ecs.deploy, with its own pre-flight), then `verify` through the listener.
A second `up` with nothing changed writes nothing: the creation tag is read back, never rewritten.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.config import Config, LoadBalancer, ServiceEntry
from ci_ecs.deploy import Deployer
from ci_ecs.ecs import EcsGateway
from ci_ecs.elb import ElbGateway
from ci_ecs.errors import CiEcsError, ConfigError, DeploymentFailedError
from ci_ecs.express import ExpressGateway
from ci_ecs.preflight.plan import check_config, placeholder_image, planned_definition
from ci_ecs.preflight.preview import check_listener, preview_names
from ci_ecs.preview import listener as routing_steps
from ci_ecs.preview.naming import (
    CREATED_TAG,
    PREVIEW_TAG,
    check_id,
    check_name_length,
    now_tag,
    preview_tags,
    target_group_name,
)
from ci_ecs.preview.probe import ThroughLoadBalancer
from ci_ecs.results import DeployResult
from ci_ecs.verify import Target as VerifyTarget
from ci_ecs.verify import image_port_mapping, verify_targets

log = logging.getLogger(__name__)

# Settings of the service that belong to its own traffic shifting (blue/green, canary, linear: listener rules and
# an alternate target group of its own): a preview deploys ROLLING behind its own target group instead.
_STRATEGY_KEYS = {"strategy": None, "canary": None, "linear": None, "bake_time_minutes": None,
                  "lifecycle_hooks": None}


def private_settings(service: Any) -> tuple[dict[str, Any], list[str]]:
    """The settings that would put the preview's tasks into the service's own traffic, replaced: (updates for the
    ServiceConfig, warnings saying what the preview leaves out).

    - service_connect `services`: the names the service publishes in its Cloud Map namespace. ECS API reference,
      ServiceConnectService.discoveryName: "This must be unique within the Cloud Map namespace": a preview
      publishing the service's own names is refused by ECS, or, in another namespace setup, would answer the
      service's clients. The preview keeps the client side (namespace, logs): it reaches the other services.
    - vpc_lattice: VpcLatticeConfiguration.targetGroupArn (ECS API reference) is the VPC Lattice target group ECS
      registers the service's tasks in: the preview's tasks would receive the service's own Lattice traffic.
    """
    updates: dict[str, Any] = {}
    warnings: list[str] = []
    connect = service.service_connect
    if connect and connect.get("services"):
        updates["service_connect"] = {k: v for k, v in connect.items() if k != "services"}
        warnings.append("service.service_connect.services left out of the preview: its discovery names and client "
                        "aliases are the service's own (the preview is a Service Connect client only)")
    if service.vpc_lattice:
        updates["vpc_lattice"] = None
        warnings.append("service.vpc_lattice left out of the preview: its target groups carry the service's own "
                        "traffic")
    return updates, warnings


def _result(result: DeployResult | dict[str, Any], preview_id: str, url: str | None) -> dict[str, Any]:
    out = result.as_json() if isinstance(result, DeployResult) else dict(result)
    return {**out, "previewId": preview_id, "previewUrl": url}


def created_tag(tags: dict[str, str] | None, name: str, preview_id: str, what: str = "service") -> str:
    """The preview's creation time: from its tags when it exists (never rewritten), else now. A resource of that
    name without `ci-ecs:preview=<id>` is not this preview: refused (exit 2), left as it is."""
    if tags is None:
        return now_tag()
    if tags.get(PREVIEW_TAG) != preview_id:
        raise ConfigError(f"{what} {name} exists and is not tagged {PREVIEW_TAG}={preview_id}: it is not this "
                          "preview's, so it is left alone (give another --id)", key="--id")
    return tags.get(CREATED_TAG) or now_tag()


def _service_tags(ecs: EcsGateway, cluster: str, name: str) -> dict[str, str] | None:
    """The tags of the ACTIVE (or DRAINING) service `name`, None when there is none."""
    current = ecs.describe_service(cluster, name)
    if current is None or current.get("status") == "INACTIVE":
        return None
    return ecs.list_tags(str(current["serviceArn"]))


def _balanced_container(config: Config, target: ServiceEntry, base_dir: Path) -> tuple[str, int]:
    """The container (name, port) the preview's target group sends to: the service's load balancer's, else the
    first port mapping of the image container."""
    if target.service.load_balancers:
        first = target.service.load_balancers[0]
        return first.container_name, first.container_port
    if target.task.definition:
        raise ConfigError("name the container for the preview's target group: service.load_balancers "
                          "(container_name, container_port) with a task definition from ECS",
                          key="service.load_balancers")
    image = config.image_uri or placeholder_image(config)
    mapping = image_port_mapping(planned_definition(config, base_dir, target, image, None), image) or {}
    if not mapping.get("containerPort"):
        raise ConfigError("no port for the preview's target group: the task definition has no port mapping",
                          key="preview.listener_arn")
    return str(mapping["container"]), int(mapping["containerPort"])


class PreviewUp:
    """One `preview up` of a task + service config (`run`), or of an `express:` config (`run_express`)."""

    def __init__(self, config: Config, preview_id: str, *, base_dir: Path = Path("."),
                 factory: ClientFactory | None = None, desired_count: int | None = None) -> None:
        self.config = config
        self.preview_id = preview_id
        self.base_dir = base_dir
        self.factory = factory or ClientFactory(aws_settings(config))
        self.desired_count = desired_count  # --desired-count: over preview.desired_count
        self.warnings: list[str] = []  # what the preview leaves out of the service's settings (private_settings)

    def run(self) -> dict[str, Any]:
        """Deploy the preview; the deploy's JSON result with `previewId` and `previewUrl`."""
        if self.config.express is not None:
            return self.run_express()
        config, preview_id = self.config, self.preview_id
        names = preview_names(config, preview_id, self.base_dir)  # pre-flight without AWS: every problem at once
        name, preview_family, host = names.service, names.family, names.host
        preview = config.preview
        target = config.targets()[0]
        cluster = config.cluster or "default"
        ecs = EcsGateway(self.factory.client("ecs"))
        foreign: ConfigError | None = None
        try:
            tags = preview_tags(preview_id, created_tag(_service_tags(ecs, cluster, name), name, preview_id))
        except ConfigError as exc:
            foreign, tags = exc, {}
        listener = routing = elb = None
        balancers: list[LoadBalancer] = []
        group_name = target_group_name(cluster, str(config.service.name), preview_id)
        if preview is not None and preview.listener_arn and host:
            elb = ElbGateway(self.factory.client("elbv2"))
            listener, routing = check_listener(elb, config, group_name, preview_id, foreign)
        elif foreign is not None:
            raise foreign
        if listener is not None and routing is not None:
            container, port = _balanced_container(config, target, self.base_dir)
            arn = str((routing.target_group or {}).get("TargetGroupArn") or
                      f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{group_name}/0000000000000000")
            balancers = [LoadBalancer(target_group_arn=arn, container_name=container, container_port=port)]
        preview_config = self._preview_config(target, name, preview_family, tags, balancers, bool(listener))
        # The deploy's own pure pre-flight, before the target group and rule are written.
        check_config(preview_config, self.base_dir)
        if listener is not None and routing is not None and elb is not None and preview is not None and host:
            self._route(elb, listener, routing, preview, host, tags, balancers, preview_config, target)
            assert routing.target_group is not None
            balancers = [balancers[0].model_copy(update={"target_group_arn": routing.target_group["TargetGroupArn"]})]
            preview_config = preview_config.model_copy(update={"service": preview_config.service.model_copy(
                update={"load_balancers": balancers})})
        deployer = Deployer(preview_config, self.factory, base_dir=self.base_dir)
        deployer.task_tags = {PREVIEW_TAG: preview_id}
        try:
            result = deployer.run()
        except CiEcsError as exc:
            if isinstance(exc, ConfigError) and routing is not None and elb is not None:
                routing_steps.undo(elb, routing)  # refused before the deploy wrote anything: nothing stays
            url = listener.url(host) if listener is not None and host else None
            exc.result = _result(exc.result or {}, preview_id, url)
            raise
        result.warnings.extend(self.warnings)
        if listener is None or not host:
            return _result(result, preview_id, result.serviceUrl)
        url = listener.url(host)
        self._verify(result, target, listener, host, url)
        return _result(result, preview_id, url)

    def _preview_config(self, target: ServiceEntry, name: str, family: str | None, tags: dict[str, str],
                        balancers: list[LoadBalancer], behind_listener: bool) -> Config:
        """The config the preview deploys: its own names, tags, target group and desired count."""
        config = self.config
        preview = config.preview
        service = target.service
        desired = (self.desired_count if self.desired_count is not None
                   else preview.desired_count if preview and preview.desired_count is not None
                   else service.desired_count if service.desired_count is not None else 1)
        private, self.warnings = private_settings(service)
        new_service = service.model_copy(update={
            **_STRATEGY_KEYS, **private, "name": name, "desired_count": desired, "load_balancers": balancers,
            "tags": {**service.tags, **tags}, "propagate_tags": service.propagate_tags or "SERVICE"})
        task = target.task.model_copy(update={"family": family}) if family else target.task
        update: dict[str, Any] = {"service": new_service, "task": task, "create": True}
        if behind_listener:
            # The deploy would probe the load balancer without the preview's host name (its default rule
            # answers): the preview's own verify runs after it (`_verify`).
            update["verify_enabled"] = False
        return config.model_copy(update=update)

    def _route(self, elb: ElbGateway, listener: routing_steps.Listener, routing: routing_steps.Routing,
               preview: Any, host: str, tags: dict[str, str], balancers: list[LoadBalancer], config: Config,
               target: ServiceEntry) -> None:
        """The target group (copied from the service's own, when it has one) and the host-header rule."""
        source, attributes = None, {}
        own = target.service.load_balancers[0].target_group_arn if target.service.load_balancers else None
        if routing.target_group is None and own:
            source = elb.target_group(arn=own)
            attributes = elb.target_group_attributes(own) if source else {}
        verify = self.config.verify_for(target)
        params, copied = routing_steps.target_group_request(
            target_group_name(config.cluster or "default", str(self.config.service.name), self.preview_id),
            listener, source, attributes, balancers[0].container_port, target.task.network_mode, tags,
            verify.path if verify else "/")
        copied["deregistration_delay.timeout_seconds"] = str(preview.deregistration_delay)
        try:
            routing_steps.ensure_target_group(elb, routing, params, copied)
            routing_steps.ensure_rule(elb, listener, preview, routing, host, tags)
        except ConfigError:
            routing_steps.undo(elb, routing)
            raise

    def _verify(self, result: DeployResult, target: ServiceEntry, listener: routing_steps.Listener, host: str,
                url: str) -> None:
        """`verify` of the preview through the listener's load balancer with its host name (probe.py)."""
        config = self.config
        verify = config.verify_for(target)
        if verify is None:
            return
        if not config.deploy.wait:
            result.warnings.append("verify skipped: the deployment was not waited for (--no-wait)")
            return
        kind = ThroughLoadBalancer(verify, host, listener.dns_name)
        log.info("verify: probing %s through the load balancer %s", url, listener.dns_name)
        checked = verify_targets([VerifyTarget(listener.dns_name, label="load balancer")], verify,
                                 verify.port or listener.port, kind=kind)
        result.verify = checked.as_json()
        if not checked.ok:
            result.rolloutState = "FAILED"
            result.error = checked.message()
            raise DeploymentFailedError(checked.message(), deployment_id=result.deploymentId,
                                        result=_result(result, self.preview_id, url))
        log.info("verify: %s answered %s", url, checked.checks[0].status)

    def run_express(self) -> dict[str, Any]:
        """An Express service of its own per preview: `<service_name>-pr-<id>`, tagged; URL = its endpoint."""
        config, preview_id = self.config, self.preview_id
        express = config.express
        assert express is not None
        cluster = express.cluster or config.cluster or "default"
        check_id(preview_id)
        name = check_name_length(express.service_name, preview_id, "express service")
        if config.preview is not None and config.preview.listener_arn:
            raise ConfigError("an Express preview gets a load balancer and URL of its own from ECS: remove "
                              "preview.listener_arn and preview.host", key="preview.listener_arn")
        client = self.factory.client("ecs")
        ecs = EcsGateway(client)
        current = ecs.describe_service(cluster, name)
        tags: dict[str, str] | None = None
        if current is not None and current.get("status") != "INACTIVE":
            described = ExpressGateway(client).describe(str(current["serviceArn"])) or {}
            tags = {str(t.get("key")): str(t.get("value", "")) for t in described.get("tags") or []}
        own = preview_tags(preview_id, created_tag(tags, name, preview_id, "express service"))
        preview_express = express.model_copy(update={"service_name": name, "tags": {**express.tags, **own}})
        deployer = Deployer(config.model_copy(update={"express": preview_express}), self.factory,
                            base_dir=self.base_dir)
        try:
            result = deployer.run()
        except CiEcsError as exc:
            exc.result = _result(exc.result or {}, preview_id, None)
            raise
        return _result(result, preview_id, result.serviceUrl)


def preview_up(config: Config, preview_id: str, *, base_dir: Path = Path("."), factory: ClientFactory | None = None,
               desired_count: int | None = None) -> dict[str, Any]:
    """`ci-ecs preview up`: deploy `config`'s service as the preview `preview_id`; the JSON result.

    >>> preview_up(load_config("ci-ecs.yml"), "42")["previewUrl"]  # doctest: +SKIP
    'http://pr-42.preview.example.com'
    """
    started = time.monotonic()
    result = PreviewUp(config, preview_id, base_dir=base_dir, factory=factory, desired_count=desired_count).run()
    log.debug("preview %s up in %.1f s", preview_id, time.monotonic() - started)
    return result
