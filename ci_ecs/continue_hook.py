"""`ci-ecs continue`: release (or roll back) the lifecycle hook a service deployment is paused at.

A PAUSE hook stops a blue/green, canary or linear deployment at its stage until someone calls
ContinueServiceDeployment with the hook's id (ECS API reference: "To find the hookId of the paused hook,
call DescribeServiceDeployments and inspect the lifecycleHookDetails field").
"""

from __future__ import annotations

from typing import Any

from ci_ecs.aws import ClientFactory, aws_settings
from ci_ecs.aws_failures import aws_errors
from ci_ecs.config import Config
from ci_ecs.ecs import EcsGateway
from ci_ecs.errors import ConfigError, ServiceStateError
from ci_ecs.follow.service_deployment import describe_service_deployment, paused_hook

IN_FLIGHT = ["PENDING", "IN_PROGRESS"]


def continue_deployment(config: Config, *, rollback: bool = False,
                        factory: ClientFactory | None = None) -> dict[str, Any]:
    """ContinueServiceDeployment (action CONTINUE, or ROLLBACK) for the paused hook of the service's current
    service deployment; ServiceStateError (exit 1) when none is paused.

    >>> continue_deployment(load_config("ci-ecs.yml"))["action"]  # doctest: +SKIP
    'CONTINUE'
    """
    factory = factory or ClientFactory(aws_settings(config))
    targets = config.targets()
    if len(targets) != 1 or not targets[0].service.name:
        raise ConfigError("name the one service to continue (service.name, or --service with a services list)",
                          key="service.name")
    cluster, name = config.cluster or "default", str(targets[0].service.name)
    ecs = EcsGateway(factory.client("ecs"))
    briefs = ecs.list_service_deployments(cluster, name, status=list(IN_FLIGHT))
    for brief in sorted(briefs, key=lambda b: str(b.get("createdAt") or ""), reverse=True):
        arn = str(brief["serviceDeploymentArn"])
        with aws_errors(f"describe service deployment {arn}"):
            described = describe_service_deployment(ecs, arn)
        hook = paused_hook(described)
        if hook is None:
            continue
        action = "ROLLBACK" if rollback else "CONTINUE"
        ecs.continue_service_deployment(arn, str(hook["hookId"]), action)
        return {"cluster": cluster, "service": name, "serviceDeploymentArn": arn, "hookId": hook["hookId"],
                "lifecycleStage": described.get("lifecycleStage"), "action": action}
    raise ServiceStateError(f"service {name}: no service deployment is paused at a lifecycle hook")
