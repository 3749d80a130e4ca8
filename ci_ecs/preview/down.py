"""`ci-ecs preview down|list|gc`: previews found by their tag, removed only when every part of them carries it.

down, of the preview `<service>-pr-<id>`: the service (scaled to 0, deleted, waited for until INACTIVE so its
target group is no longer in use), the listener rule, the target group, and the revisions of the preview's task
family (deregistered, then deleted). A service, target group or rule of the preview's name without the tag
`ci-ecs:preview=<id>` is refused (exit 2) before anything is removed; a revision without it is left alone.
Nothing there: nothing removed, exit 0.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.aws_failures import aws_errors
from ci_ecs.config import Config
from ci_ecs.ecs import EcsGateway
from ci_ecs.elb import ElbGateway
from ci_ecs.errors import AwsError, CiEcsError, ConfigError
from ci_ecs.express import ExpressGateway, endpoint, service_url
from ci_ecs.preflight.preview import family_of
from ci_ecs.preview import listener as routing_steps
from ci_ecs.preview.naming import (
    CREATED_TAG,
    PREVIEW_TAG,
    age_text,
    check_id,
    parse_created,
    preview_name,
    render_host,
    target_group_name,
)

log = logging.getLogger(__name__)

# ELB answers ResourceInUse for a target group a rule or listener still uses (API reference, DeleteTargetGroup);
# right after the rule's deletion it may still be seen in use for a moment.
_IN_USE_ATTEMPTS = 10
# ECS API reference, UpdateService / DeleteService errors: the service is no longer ACTIVE, or no longer there.
_GONE = ("ServiceNotActiveException", "ServiceNotFoundException")


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value", "")) for t in items or []}


@dataclass
class _Found:
    """What `down` will remove, each part checked to carry the preview's tag."""

    service: dict[str, Any] | None = None
    express: bool = False
    target_group: str | None = None
    rules: list[str] = field(default_factory=list)
    revisions: list[tuple[str, str]] = field(default_factory=list)  # (ARN, status)


class Previews:
    """The previews of one config's service (or Express service) in its cluster."""

    def __init__(self, config: Config, *, base_dir: Path = Path("."), factory: ClientFactory | None = None) -> None:
        self.config = config
        self.base_dir = base_dir
        self.factory = factory or ClientFactory(aws_settings(config))
        # `--timeout` (deploy.timeout) bounds the whole command, every AWS call and the waits, as it bounds a deploy.
        self.factory.set_deadline(float(config.deploy.timeout))
        express = config.express
        if express is None and config.services:
            raise ConfigError("a preview is of one service: give task + service, not a services list", key="services")
        self.base = express.service_name if express is not None else str(config.service.name)
        if not self.base or self.base == "None":
            raise ConfigError("service.name is required (in the file, CI_ECS_SERVICE or --service)",
                              key="service.name")
        self.cluster = (express.cluster if express is not None and express.cluster else None) or config.cluster \
            or "default"
        self.ecs = EcsGateway(self.factory.client("ecs"))
        self._elb: ElbGateway | None = None

    @property
    def elb(self) -> ElbGateway:
        """The ELB gateway (a client made only when a preview has a load balancer part)."""
        if self._elb is None:
            self._elb = ElbGateway(self.factory.client("elbv2"))
        return self._elb

    # ------------------------------------------------------------------ down

    def down(self, preview_id: str) -> dict[str, Any]:
        """Remove the preview; {"previewId", "removed": [{"type", "id"}]} (empty when nothing was there)."""
        check_id(preview_id)
        found = self._find(preview_id)
        removed: list[dict[str, str]] = []
        for rule in found.rules:  # first: the listener stops sending the preview's host to its tasks
            if self.elb.delete_rule(rule):
                removed.append({"type": "listenerRule", "id": rule})
        if found.service is not None:
            self._remove_service(found)
            removed.append({"type": "expressService" if found.express else "service",
                            "id": str(found.service["serviceArn"])})
        if found.target_group is not None and self._delete_target_group(found.target_group):
            removed.append({"type": "targetGroup", "id": found.target_group})
        removed.extend(self._remove_revisions(found.revisions))
        log.info("preview %s: %s", preview_id, f"{len(removed)} resource(s) removed" if removed else "nothing there")
        return {"previewId": preview_id, "removed": removed}

    def _find(self, preview_id: str) -> _Found:
        """Every part of the preview, each checked for the tag before anything is removed (ConfigError if not)."""
        found = _Found()
        name = preview_name(self.base, preview_id)
        service = self.ecs.describe_service(self.cluster, name)
        if service is not None and service.get("status") in ("ACTIVE", "DRAINING"):
            if self.config.express is not None:
                described = ExpressGateway(self.ecs.client).describe(str(service["serviceArn"]))
                found.express = described is not None
                tags = _tags((described or {}).get("tags")) if described else self.ecs.list_tags(
                    str(service["serviceArn"]))
            else:
                tags = self.ecs.list_tags(str(service["serviceArn"]))
            self._refuse_untagged(tags, f"service {name}", preview_id)
            found.service = service
        if self.config.express is None:
            self._find_routing(found, preview_id)
            family = family_of(self.config, self.base_dir)
            if family:
                found.revisions = self._revisions(preview_name(family, preview_id), preview_id)
        return found

    def _find_routing(self, found: _Found, preview_id: str) -> None:
        group = self.elb.target_group(name=target_group_name(self.cluster, self.base, preview_id))
        if group is None:
            return
        arn = str(group["TargetGroupArn"])
        self._refuse_untagged(self.elb.tags([arn]).get(arn, {}), f"target group {group['TargetGroupName']}",
                              preview_id)
        found.target_group = arn
        for listener in self._listeners(group):
            rules = [r for r in self.elb.rules(listener) if not r.get("IsDefault")
                     and routing_steps.forwards_to(r, arn)]
            tags = self.elb.tags([str(r["RuleArn"]) for r in rules]) if rules else {}
            for rule in rules:
                self._refuse_untagged(tags.get(str(rule["RuleArn"]), {}), "listener rule for its target group",
                                      preview_id)
                found.rules.append(str(rule["RuleArn"]))

    def _listeners(self, group: dict[str, Any]) -> list[str]:
        """The listeners whose rules may forward to the group: the configured one, and those of the group's load
        balancers (a rule left by a preview made with another listener)."""
        preview = self.config.preview
        arns = [preview.listener_arn] if preview is not None and preview.listener_arn else []
        for balancer in group.get("LoadBalancerArns") or []:
            with aws_errors("describe the load balancer's listeners"):
                pages = self.elb.client.get_paginator("describe_listeners").paginate(LoadBalancerArn=balancer)
                arns.extend(str(item["ListenerArn"]) for page in pages for item in page.get("Listeners", []))
        return list(dict.fromkeys(arns))

    @staticmethod
    def _refuse_untagged(tags: dict[str, str], what: str, preview_id: str) -> None:
        if tags.get(PREVIEW_TAG) != preview_id:
            raise ConfigError(f"{what} is not tagged {PREVIEW_TAG}={preview_id}: it is not this preview's, so "
                              "nothing was removed", key="--id")

    def _revisions(self, family: str, preview_id: str) -> list[tuple[str, str]]:
        """The preview family's revisions (ACTIVE and INACTIVE) that carry the preview's tag."""
        out = []
        for status in ("ACTIVE", "INACTIVE"):
            for arn in self.ecs.list_task_definitions(family, status=status):
                with aws_errors(f"describe task definition {arn.rsplit('/', 1)[-1]}"):
                    answer = self.ecs.client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
                if _tags(answer.get("tags")).get(PREVIEW_TAG) == preview_id:
                    out.append((arn, status))
                else:
                    log.warning("task definition %s is not tagged %s=%s: left alone", arn.rsplit("/", 1)[-1],
                                PREVIEW_TAG, preview_id)
        return out

    def _remove_service(self, found: _Found) -> None:
        service = found.service
        assert service is not None
        name = str(service["serviceName"])
        try:
            if found.express:
                log.info("deleting express service %s", name)
                ExpressGateway(self.ecs.client).delete(str(service["serviceArn"]))
            else:
                if service.get("status") == "ACTIVE" and int(service.get("desiredCount") or 0) > 0:
                    self.ecs.update_service({"cluster": self.cluster, "service": name, "desiredCount": 0})
                if service.get("status") == "ACTIVE":
                    log.info("deleting service %s", name)
                    self.ecs.delete_service(self.cluster, name)
        except AwsError as exc:
            # Another `down` (or a person) deleted it since it was read: UpdateService, DeleteService and
            # DeleteExpressGatewayService answer ServiceNotActiveException or ServiceNotFoundException (ECS API
            # reference, their Errors). What is left to do is the same: wait until it is INACTIVE.
            if exc.fields.get("code") not in _GONE:
                raise
            log.info("service %s was deleted meanwhile", name)
        # Until INACTIVE: its tasks are gone from the target group, which can then be deleted.
        self.ecs.wait_inactive(self.cluster, name, float(self.config.deploy.timeout))

    def _delete_target_group(self, arn: str) -> bool:
        for attempt in range(_IN_USE_ATTEMPTS):
            try:
                return self.elb.delete_target_group(arn)
            except AwsError as exc:
                if exc.fields.get("code") != "ResourceInUse" or attempt == _IN_USE_ATTEMPTS - 1:
                    raise
            time.sleep(1.0)
        return False

    def _remove_revisions(self, revisions: list[tuple[str, str]]) -> list[dict[str, str]]:
        removed = []
        for arn, status in revisions:
            if status == "ACTIVE":
                try:
                    self.ecs.deregister_task_definition(arn)
                except AwsError:
                    if self._revision_active(arn):
                        raise
                    log.info("task definition %s was deregistered meanwhile", arn.rsplit("/", 1)[-1])
            removed.append({"type": "taskDefinition", "id": arn})
        if revisions:
            try:  # DeleteTaskDefinitions (ECS, 2023): INACTIVE revisions only, hence after deregistering
                self.ecs.delete_task_definitions([arn for arn, _ in revisions])
            except AwsError as exc:  # e.g. an ECS-compatible API without it: deregistered is what matters
                log.warning("deregistered revisions not deleted: %s", exc.message)
        return removed

    def _revision_active(self, arn: str) -> bool:
        """Whether the revision is still ACTIVE: another `down` may have deregistered or deleted it since it was
        read (DescribeTaskDefinition answers its status, INACTIVE or DELETE_IN_PROGRESS, or an error once gone)."""
        try:
            with aws_errors(f"describe task definition {arn.rsplit('/', 1)[-1]}"):
                answer = self.ecs.client.describe_task_definition(taskDefinition=arn)
        except AwsError:
            return False
        return str((answer.get("taskDefinition") or {}).get("status")) == "ACTIVE"

    # ------------------------------------------------------------------ list / gc

    def list(self, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
        """This config's previews in the cluster: id, service, created, age, URL (None when not known)."""
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        arns = self.ecs.list_services(self.cluster)
        services = self.ecs.services_with_tags(self.cluster, arns) if arns else []
        hosts = self._hosts()
        out = []
        for service in services:
            tags = _tags(service.get("tags"))
            preview_id = tags.get(PREVIEW_TAG)
            if not preview_id or service.get("serviceName") != preview_name(self.base, preview_id) or \
                    service.get("status") not in ("ACTIVE", "DRAINING"):
                continue  # another config's preview, not a preview, or one deleted already
            created = parse_created(tags.get(CREATED_TAG))
            age = (moment - created).total_seconds() if created else None
            out.append({"id": preview_id, "service": service["serviceName"], "status": service.get("status"),
                        "created": tags.get(CREATED_TAG), "ageSeconds": None if age is None else int(age),
                        "age": None if age is None else age_text(age), "url": self._url(service, preview_id, hosts)})
        return sorted(out, key=lambda p: str(p["created"] or ""))

    def _hosts(self) -> tuple[routing_steps.Listener | None, dict[str, str]]:
        """The configured listener and its rules' hosts by target group ARN."""
        preview = self.config.preview
        if preview is None or not preview.listener_arn or self.config.express is not None:
            return None, {}
        try:
            listener = routing_steps.read_listener(self.elb, preview.listener_arn)
        except ConfigError as exc:
            log.warning("no URLs: %s", exc.message)
            return None, {}
        hosts = {}
        for rule in self.elb.rules(listener.arn):
            host = routing_steps.host_of(rule)
            for action in rule.get("Actions") or []:
                groups = [action.get("TargetGroupArn")] + [
                    g.get("TargetGroupArn") for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or []]
                hosts.update({str(g): host for g in groups if g and host})
        return listener, hosts

    def _url(self, service: dict[str, Any], preview_id: str,
             hosts: tuple[routing_steps.Listener | None, dict[str, str]]) -> str | None:
        if self.config.express is not None:
            described = ExpressGateway(self.ecs.client).describe(str(service["serviceArn"])) or {}
            return service_url(endpoint(described), "http" if self._http_verify() else "https")
        listener, by_group = hosts
        for balancer in service.get("loadBalancers") or []:
            host = by_group.get(str(balancer.get("targetGroupArn")))
            if listener is not None and host:
                return listener.url(host)
        preview = self.config.preview
        if listener is not None and preview is not None and preview.host:
            return listener.url(render_host(preview.host, preview_id))
        return None

    def _http_verify(self) -> bool:
        verify = self.config.verify_for_express() if self.config.express is not None else None
        return bool(verify and verify.scheme == "http")

    def gc(self, older_than: float) -> dict[str, Any]:
        """`down` of every preview at least `older_than` seconds old; {"removed": [...], "kept": [...]}.

        A preview without a readable creation time is kept (its age is unknown). One preview that cannot be
        removed does not stop the others: the errors are raised together at the end.
        """
        removed, kept, errors = [], [], []
        for preview in self.list():
            age = preview["ageSeconds"]
            if age is None or age < older_than:
                kept.append({"previewId": preview["id"], "age": preview["age"]})
                continue
            try:
                removed.append(self.down(str(preview["id"])))
            except CiEcsError as exc:
                errors.append(f"{preview['id']}: {exc.message}")
        result = {"olderThanSeconds": older_than, "removed": removed, "kept": kept}
        if errors:
            error = CiEcsError(f"{len(errors)} preview(s) not removed: " + "; ".join(errors))
            error.result = result
            raise error
        return result
