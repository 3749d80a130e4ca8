"""`ci-ecs deploy` of an `express:` config: describe, compare, create or update the Express service only when
something differs, follow its deployment with the same rules as any deploy (ci_ecs/follow/), verify its URL.

Deploy = describe -> pure diff (ci_ecs.express) -> act only on a non-empty diff. The requests are checked
against botocore's model before the first write (pre-flight); a dry run (`plan`) stops before it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ci_ecs import phases
from ci_ecs.config import Config
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import CiEcsError, ConfigError
from ci_ecs.express import ExpressGateway, cluster_of, create_request, endpoint, service_url, update_request
from ci_ecs.follow.follower import Follower
from ci_ecs.follow.state import WaitOutcome
from ci_ecs.image import ResolvedImage, TagResolver
from ci_ecs.preflight.model import check_params
from ci_ecs.preflight.problems import raise_problems
from ci_ecs.redact import mask_secrets
from ci_ecs.results import DeployResult
from ci_ecs.service import ServiceResult, primary_deployment, tag_plan
from ci_ecs.verify import Target, load_balancer_port, verify_targets

if TYPE_CHECKING:
    from ci_ecs.deploy import Deployer

log = logging.getLogger(__name__)

# Config keys of the request members (snake_case of the request's), for pre-flight messages.
_KEYS = {"serviceName": "service_name", "primaryContainer": "primary_container", "healthCheckPath":
         "health_check_path", "scalingTarget": "scaling_target", "executionRoleArn": "execution_role_arn",
         "infrastructureRoleArn": "infrastructure_role_arn", "taskRoleArn": "task_role_arn",
         "networkConfiguration": "network_configuration"}


def check_request(operation: str, request: dict[str, Any]) -> None:
    """Pre-flight: every problem botocore's model finds in the request, each naming its `express.` key (exit 2)."""
    def locate(path: str) -> tuple[str, str | None]:
        head, _, rest = path.partition(".")
        return "express." + ".".join(p for p in (_KEYS.get(head, head), rest) if p), None

    raise_problems(check_params(operation, request, locate))


def _image(deployer: Deployer, config: Config) -> ResolvedImage:
    express = config.express
    assert express is not None
    if express.primary_container.image and not config.image_uri:
        return ResolvedImage(express.primary_container.image, None)  # deployed as the config names it
    return deployer._image(TagResolver(deployer.factory, config.image.pin))


def deploy_express(deployer: Deployer) -> DeployResult:
    """The whole deploy of `deployer.config.express`; raises a CiEcsError (carrying the result) on failure."""
    config = deployer.config
    express = config.express
    assert express is not None
    cluster, name = cluster_of(express, config.cluster), express.service_name
    started, clock_start = time.time(), time.monotonic()
    result = DeployResult(cluster=cluster, service=name, dryRun=deployer.dry_run)
    deployer.factory.set_deadline(config.deploy.timeout, start=clock_start)
    try:
        _deploy(deployer, config, result, cluster, started, clock_start)
    except CiEcsError as exc:
        if exc.result is None:
            result.error = exc.message
            exc.result = deployer._finish(result, started)
        raise
    deployer._finish(result, started)
    return result


def _deploy(deployer: Deployer, config: Config, result: DeployResult, cluster: str, started: float,
            clock_start: float) -> None:
    express = config.express
    assert express is not None
    name = express.service_name
    # Pre-flight, before any AWS call (the image step may push): every member the config gives, as CreateExpress-
    # GatewayService would carry it (an update sends a subset of them).
    check_request("CreateExpressGatewayService", create_request(
        express, cluster, str(config.image_uri or express.primary_container.image or "registry.invalid/image")))
    client = deployer.factory.client("ecs")
    ecs, gateway = EcsGateway(client), ExpressGateway(client)
    described = ecs.describe_service(cluster, name)
    current = gateway.describe(str(described["serviceArn"])) if described and described.get(
        "status") != "INACTIVE" else None
    if described and described.get("status") == "ACTIVE" and current is None:
        raise ConfigError(f"service {name} in cluster {cluster} is not an Express service: deploy it with task + "
                          "service, or give express.service_name a name of its own", key="express.service_name")
    phases.begin("image")
    image = _image(deployer, config)
    uri = str(image.uri or express.primary_container.image)
    result.imageUri, result.imageDigest, result.imagePushed = image.uri, image.digest, image.pushed
    add_tags: dict[str, str] = {}
    remove_tags: list[str] = []
    if current is None:
        request = create_request(express, cluster, uri)
        check_request("CreateExpressGatewayService", request)
        result.serviceAction, operation = "created", "CreateExpressGatewayService"
        result.changes = [{"resource": "express", "path": "service", "new": f"(create {name})"}]
    else:
        request, changes = update_request(express, current, uri)
        if request:
            check_request("UpdateExpressGatewayService", request)
        if express.tags:
            # UpdateExpressGatewayService takes no tags: TagResource changes them on the service's ARN (ECS API
            # reference), only the keys the config names, as for any other service (service.tag_plan).
            tag_changes, add_tags, remove_tags = tag_plan(
                dict(express.tags), ecs.list_tags(str(described["serviceArn"])) if described else {})
            changes = [*changes, *tag_changes]
        result.serviceAction = "updated" if changes else "unchanged"
        operation = "UpdateExpressGatewayService"
        result.changes = [mask_secrets({"resource": "express", **c.as_dict()}) for c in changes]
    result.changed = result.serviceAction != "unchanged"
    if deployer.dry_run:
        if request:
            result.request = {operation: request}
        return
    phases.begin("service-update")
    if result.serviceAction == "created":
        log.info("creating express service %s in cluster %s", name, cluster)
        gateway.create(request)
    elif result.changes:
        log.info("updating express service %s: %s", name, ", ".join(str(c["path"]) for c in result.changes))
        if request:
            gateway.update(request)
        if add_tags or remove_tags:
            ecs.tag_service(str((described or {}).get("serviceArn")), add_tags, remove_tags)
    _follow(deployer, config, result, ecs, gateway, cluster, started, clock_start, started_deployment=bool(request)
            or result.serviceAction == "created")


def _follow(deployer: Deployer, config: Config, result: DeployResult, ecs: EcsGateway, gateway: ExpressGateway,
            cluster: str, started: float, clock_start: float, *, started_deployment: bool) -> None:
    """Follow the underlying ECS service's deployment (the canary ECS started, or the one still running), then
    report the URL and verify it."""
    express = config.express
    assert express is not None
    service = ecs.describe_service(cluster, express.service_name) or {}
    result.serviceArn = service.get("serviceArn")
    result.taskDefinitionArn = service.get("taskDefinition")
    primary = primary_deployment(service) or {}
    outcome = ServiceResult(result.serviceAction, service, primary.get("id"), None,
                            started_deployment=started_deployment)
    result.deploymentId, result.rolloutState = primary.get("id"), primary.get("rolloutState")
    definition = ecs.describe_task_definition(str(service.get("taskDefinition")))
    follower = Follower(config, ecs, cluster, started=started,
                        remaining=lambda timeout: timeout - (time.monotonic() - clock_start),
                        sleep=deployer._sleep, finish=lambda r: deployer._finish(r, started),
                        log_tails=lambda tasks: [])
    deployment_id, service, addresses = follower.rollout(
        outcome, result, definition, lambda described: deployer._addresses(ecs, described, result))
    if addresses:
        result.publicIps, result.privateIps = addresses.public_ips, addresses.private_ips
        result.loadBalancerDns = addresses.load_balancer_dns
    verify = config.verify_for_express()
    now = gateway.describe(str(result.serviceArn)) or {}
    result.serviceUrl = service_url(endpoint(now), verify.scheme if verify else "https")
    if verify is None:
        return
    if not config.deploy.wait:
        result.warnings.append("verify skipped: the deployment was not waited for (--no-wait)")
        return
    host = (endpoint(now) or "").split("://")[-1].split("/")[0]
    phases.begin("verify", f"{verify.path} on the express endpoint {host}, up to {verify.within:g} s")
    checked = verify_targets([Target(host, label="express endpoint")], verify, load_balancer_port(verify),
                             sleep=deployer._sleep)
    result.verify = checked.as_json()
    if not checked.ok:
        result.rolloutState = "FAILED"
        raise follower.failure(express.service_name, WaitOutcome("FAILED", deployment_id, service, checked.message()),
                               outcome, result)
