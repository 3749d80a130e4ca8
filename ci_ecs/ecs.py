"""A thin gateway over the ECS API: injected client, no I/O in __init__, paginated, errors verb-first."""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ci_ecs.aws_failures import aws_errors, error_code
from ci_ecs.batching import ClusterTasks
from ci_ecs.errors import AwsError, DeployTimeoutError

# ECS answers DescribeTasks for at most 100 tasks per call.
_DESCRIBE_TASKS_BATCH = 100
# DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs (API reference).
_SERVICE_DEPLOYMENTS_BATCH = 20
SERVICE_DEPLOYMENT_API_MISSING = ("UnknownOperationException", "InvalidAction", "UnsupportedOperation",
                                  "NotImplemented", "404")
# ...and DescribeServices for at most 10.
_DESCRIBE_SERVICES_BATCH = 10
_CONCURRENT_REVISION_ATTEMPTS = 6
# A service's events kept from ECS's answers: up to 100 come with each service (API reference, Service.events:
# "A maximum of 100 of the latest events are displayed", newest first), ci-ecs shows the newest few
# (ci_ecs.follow.state.service_events). A deploy of 100 services keeps each one's description and update answer:
# 20,000 events of ~0.5 KB, where 1,000 are read.
SERVICE_EVENTS_KEPT = 5


def lean_service(service: dict[str, Any]) -> dict[str, Any]:
    """A copy of a described service with only its newest SERVICE_EVENTS_KEPT events.

    >>> lean_service({"serviceName": "web", "events": [{"id": str(i)} for i in range(100)]})["events"][-1]
    {'id': '4'}
    """
    events = service.get("events")
    if isinstance(events, list) and len(events) > SERVICE_EVENTS_KEPT:
        return {**service, "events": events[:SERVICE_EVENTS_KEPT]}
    return dict(service)


def create_cluster_params(cluster: str, tags: dict[str, str] | None = None,
                          capacity_providers: list[str] | None = None) -> dict[str, Any]:
    """CreateCluster's input, as `EcsGateway.create_cluster` sends it (the pre-flight checks this one)."""
    params: dict[str, Any] = {"clusterName": cluster}
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if capacity_providers:
        params["capacityProviders"] = list(capacity_providers)
    return params


class EcsGateway:
    """The ECS calls ci-ecs makes, each wrapped so an error says what was being done."""

    def __init__(self, client: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._sleep = sleep

    # clusters
    def describe_cluster(self, cluster: str) -> dict[str, Any] | None:
        """The cluster, or None when it does not exist (or is INACTIVE)."""
        with aws_errors(f"describe cluster {cluster}"):
            response = self.client.describe_clusters(clusters=[cluster])
        for found in response.get("clusters", []):
            if found.get("status") != "INACTIVE":
                return dict(found)
        return None

    def create_cluster(self, cluster: str, tags: dict[str, str] | None = None,
                       capacity_providers: list[str] | None = None) -> dict[str, Any]:
        """Create the cluster (ECS makes this idempotent by name), with `capacity_providers` associated."""
        params = create_cluster_params(cluster, tags, capacity_providers)
        with aws_errors(f"create cluster {cluster}"):
            return dict(self.client.create_cluster(**params)["cluster"])

    def put_cluster_capacity_providers(self, cluster: str, providers: list[str],
                                       default_strategy: list[dict[str, Any]]) -> dict[str, Any]:
        """Set the cluster's capacity providers and default strategy (both replace what the cluster has)."""
        with aws_errors(f"associate capacity providers with cluster {cluster}"):
            return dict(self.client.put_cluster_capacity_providers(
                cluster=cluster, capacityProviders=providers,
                defaultCapacityProviderStrategy=default_strategy)["cluster"])

    # task definitions
    def latest_task_definition(self, family: str) -> dict[str, Any] | None:
        """The latest ACTIVE revision of `family`, or None when the family has none."""
        with aws_errors(f"describe task definition {family}"):
            try:
                response = self.client.describe_task_definition(taskDefinition=family, include=["TAGS"])
            except Exception as exc:
                # ECS says ClientException "Unable to describe task definition." for an unknown family.
                if error_code(exc) in ("ClientException", "InvalidParameterException"):
                    return None
                raise
        definition = dict(response["taskDefinition"])
        if response.get("tags"):
            definition["tags"] = response["tags"]
        return definition if definition.get("status", "ACTIVE") == "ACTIVE" else None

    def describe_task_definition(self, arn: str) -> dict[str, Any]:
        """One task definition revision by ARN or family:revision."""
        with aws_errors(f"describe task definition {arn}"):
            return dict(self.client.describe_task_definition(taskDefinition=arn)["taskDefinition"])

    def register_task_definition(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Register a new revision.

        botocore's standard retries cover throttling and 5xx. ECS also refuses concurrent registrations
        in one family with a ClientException ("Too many concurrent attempts to create a new revision"),
        which no retry mode knows: that one is retried here, with jittered exponential backoff.
        """
        attempt = 1
        with aws_errors(f"register task definition {definition.get('family')}"):
            while True:
                try:
                    return dict(self.client.register_task_definition(**definition)["taskDefinition"])
                except Exception as exc:
                    concurrent = error_code(exc) == "ClientException" and "concurrent" in str(exc).lower()
                    if not concurrent or attempt >= _CONCURRENT_REVISION_ATTEMPTS:
                        raise
                self._sleep(random.uniform(0, min(2.0 ** attempt, 10.0)))
                attempt += 1

    # services
    def expect(self, *, service: str | None = None, service_deployment: str | None = None) -> None:
        """A wait is about to poll this service or service deployment (batching gateways describe them together)."""

    def forget(self, service: str, service_deployment: str | None = None) -> None:
        """The service's deploy is done (batching gateways stop describing it)."""

    def describe_service(self, cluster: str, service: str) -> dict[str, Any] | None:
        """The service, or None when it is missing (INACTIVE services are returned as they are)."""
        with aws_errors(f"describe service {service}"):
            try:
                response = self.client.describe_services(cluster=cluster, services=[service])
            except Exception as exc:
                if error_code(exc) == "ClusterNotFoundException":  # a dry run before the cluster exists
                    return None
                raise
        for found in response.get("services", []):
            return lean_service(found)
        for failure in response.get("failures", []):
            if failure.get("reason") == "MISSING":
                return None
            raise AwsError(f"describe service {service}", failure.get("reason", ""),
                           failure.get("detail", failure.get("arn", "")))
        return None

    def list_tags(self, arn: str) -> dict[str, str]:
        """A resource's tags (ListTagsForResource), as a mapping."""
        with aws_errors(f"list tags of {arn.rsplit('/', 1)[-1]}"):
            response = self.client.list_tags_for_resource(resourceArn=arn)
        return {str(t.get("key")): str(t.get("value", "")) for t in response.get("tags", [])}

    def tag_service(self, arn: str, add: dict[str, str], remove: list[str]) -> None:
        """Set `add` and remove the `remove` keys on a resource (TagResource, UntagResource)."""
        name = arn.rsplit("/", 1)[-1]
        if add:
            with aws_errors(f"tag service {name}"):
                self.client.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in add.items()])
        if remove:
            with aws_errors(f"untag service {name}"):
                self.client.untag_resource(resourceArn=arn, tagKeys=list(remove))

    def create_service(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create the service with a client token, so a retried call cannot create it twice."""
        params = {**params, "clientToken": params.get("clientToken") or uuid.uuid4().hex}
        with aws_errors(f"create service {params['serviceName']}"):
            return lean_service(self.client.create_service(**params)["service"])

    def update_service(self, params: dict[str, Any]) -> dict[str, Any]:
        """Update the service with exactly the fields in `params`."""
        with aws_errors(f"update service {params['service']}"):
            return lean_service(self.client.update_service(**params)["service"])

    # tasks
    def list_tasks(self, cluster: str, *, service: str | None = None, desired_status: str = "RUNNING",
                   started_by: str | None = None) -> list[str]:
        """Task ARNs, all pages."""
        params: dict[str, Any] = {"cluster": cluster, "desiredStatus": desired_status}
        if service:
            params["serviceName"] = service
        if started_by:
            params["startedBy"] = started_by
        arns: list[str] = []
        with aws_errors(f"list tasks of {service or cluster}"):
            for page in self.client.get_paginator("list_tasks").paginate(**params):
                arns.extend(page.get("taskArns", []))
        return arns

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        """Describe tasks, batched by ECS's limit of 100 per call."""
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(arns), _DESCRIBE_TASKS_BATCH):
            with aws_errors(f"describe tasks in {cluster}"):
                response = self.client.describe_tasks(cluster=cluster,
                                                      tasks=arns[start:start + _DESCRIBE_TASKS_BATCH])
            tasks.extend(response.get("tasks", []))
        return tasks

    # one-off tasks (ci-ecs run-task)
    def run_task(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """RunTask with a client token, so a retried call cannot start the tasks twice; (tasks, failures).

        RunTask reports tasks it could not place in `failures` (reason/detail) next to those it started
        (API reference, RunTask response).
        """
        params = {**params, "clientToken": params.get("clientToken") or uuid.uuid4().hex}
        with aws_errors(f"run task {params.get('taskDefinition')}"):
            response = self.client.run_task(**params)
        return [dict(t) for t in response.get("tasks", [])], [dict(f) for f in response.get("failures", [])]

    def stop_task(self, cluster: str, task: str, reason: str) -> dict[str, Any]:
        """StopTask (ECS sends the containers' stop signal, then SIGKILL after their stopTimeout)."""
        with aws_errors(f"stop task {task.rsplit('/', 1)[-1]}"):
            return dict(self.client.stop_task(cluster=cluster, task=task, reason=reason[:255])["task"])

    # revisions (ci-ecs rollback, deregister)
    def list_task_definitions(self, family: str, *, status: str = "ACTIVE") -> list[str]:
        """The revision ARNs of exactly `family` (newest first), all pages.

        ListTaskDefinitions' familyPrefix matches by prefix ("hello" also lists "hello-worker"), so the
        ARNs are filtered on their family.
        """
        arns: list[str] = []
        with aws_errors(f"list task definitions of {family}"):
            pages = self.client.get_paginator("list_task_definitions").paginate(
                familyPrefix=family, status=status, sort="DESC")
            for page in pages:
                arns.extend(arn for arn in page.get("taskDefinitionArns", []) if revision_of(arn)[0] == family)
        return arns

    def deregister_task_definition(self, arn: str) -> dict[str, Any]:
        """Deregister one revision (it becomes INACTIVE; running tasks and services that use it carry on)."""
        with aws_errors(f"deregister task definition {arn.rsplit('/', 1)[-1]}"):
            return dict(self.client.deregister_task_definition(taskDefinition=arn)["taskDefinition"])

    def delete_task_definitions(self, arns: list[str]) -> list[str]:
        """DeleteTaskDefinitions of INACTIVE revisions (ECS takes at most 10 per call); the ARNs deleted."""
        deleted: list[str] = []
        for start in range(0, len(arns), 10):
            with aws_errors("delete task definitions"):
                answer = self.client.delete_task_definitions(taskDefinitions=arns[start:start + 10])
            deleted.extend(str(d.get("taskDefinitionArn")) for d in answer.get("taskDefinitions", []))
        return deleted

    def delete_service(self, cluster: str, service: str) -> dict[str, Any]:
        """DeleteService of a service scaled to 0 (ECS refuses one with tasks unless forced: not used here)."""
        with aws_errors(f"delete service {service}"):
            return dict(self.client.delete_service(cluster=cluster, service=service)["service"])

    def wait_inactive(self, cluster: str, service: str, timeout: float) -> None:
        """botocore's services_inactive waiter: until ECS reports the deleted service INACTIVE."""
        import botocore.exceptions

        delay = 1
        with aws_errors(f"wait for service {service} to be deleted"):
            try:
                self.client.get_waiter("services_inactive").wait(
                    cluster=cluster, services=[service],
                    WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout // delay))})
            except botocore.exceptions.WaiterError as exc:
                failures = (exc.last_response or {}).get("failures") or []
                if any(f.get("reason") == "MISSING" for f in failures):
                    return  # gone altogether: as good as INACTIVE
                raise DeployTimeoutError(f"service {service} was not INACTIVE within {int(timeout)} s of its "
                                         "deletion") from None

    def services_with_tags(self, cluster: str, services: list[str]) -> list[dict[str, Any]]:
        """DescribeServices with their tags (include TAGS), batched by ECS's limit of 10 per call."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(services), _DESCRIBE_SERVICES_BATCH):
            with aws_errors(f"describe services of {cluster}"):
                response = self.client.describe_services(
                    cluster=cluster, services=services[start:start + _DESCRIBE_SERVICES_BATCH], include=["TAGS"])
            found.extend(dict(s) for s in response.get("services", []))
        return found

    def list_services(self, cluster: str) -> list[str]:
        """The cluster's service ARNs, all pages."""
        arns: list[str] = []
        with aws_errors(f"list services of {cluster}"):
            for page in self.client.get_paginator("list_services").paginate(cluster=cluster):
                arns.extend(page.get("serviceArns", []))
        return arns

    def find_services(self, cluster: str, services: list[str]) -> dict[str, dict[str, Any]] | None:
        """The named services that exist (INACTIVE ones too), by name; None when the cluster does not exist.

        DescribeServices answers ClusterNotFoundException for a missing cluster (ECS API reference,
        DescribeServices errors), and a failure with reason MISSING for a missing service.
        """
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(services), _DESCRIBE_SERVICES_BATCH):
            with aws_errors(f"describe services of {cluster}"):
                try:
                    response = self.client.describe_services(
                        cluster=cluster, services=services[start:start + _DESCRIBE_SERVICES_BATCH])
                except Exception as exc:
                    if error_code(exc) == "ClusterNotFoundException":
                        return None
                    raise
            found.update((str(s.get("serviceName")), lean_service(s)) for s in response.get("services", []))
            for failure in response.get("failures", []):
                if failure.get("reason") != "MISSING":
                    raise AwsError(f"describe services of {cluster}", failure.get("reason", ""),
                                   failure.get("detail", failure.get("arn", "")))
        return found

    def describe_services(self, cluster: str, services: list[str]) -> list[dict[str, Any]]:
        """Describe services, batched by ECS's limit of 10 per call."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(services), _DESCRIBE_SERVICES_BATCH):
            with aws_errors(f"describe services of {cluster}"):
                response = self.client.describe_services(
                    cluster=cluster, services=services[start:start + _DESCRIBE_SERVICES_BATCH])
            found.extend(dict(s) for s in response.get("services", []))
        return found


    # service deployments (ECS's service-deployment API, 2025)
    def list_service_deployments(self, cluster: str, service: str, *, status: list[str] | None = None,
                                 created_after: float | None = None) -> list[dict[str, Any]]:
        """The service's service deployments (briefs: arn, status, target revision, createdAt), all pages.

        An endpoint without the API answers an error whose code `SERVICE_DEPLOYMENT_API_MISSING` lists.
        """
        params: dict[str, Any] = {"cluster": cluster, "service": service}
        if status:
            params["status"] = status
        if created_after is not None:
            params["createdAt"] = {"after": created_after}
        briefs: list[dict[str, Any]] = []
        with aws_errors(f"list service deployments of {service}"):
            while True:
                response = self.client.list_service_deployments(**params)
                briefs.extend(dict(b) for b in response.get("serviceDeployments", []))
                if not response.get("nextToken"):
                    return briefs
                params["nextToken"] = response["nextToken"]

    def describe_service_deployments(self, arns: list[str]) -> list[dict[str, Any]]:
        """DescribeServiceDeployments, batched by ECS's limit of 20 ARNs per call."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(arns), _SERVICE_DEPLOYMENTS_BATCH):
            with aws_errors("describe service deployments"):
                response = self.client.describe_service_deployments(
                    serviceDeploymentArns=arns[start:start + _SERVICE_DEPLOYMENTS_BATCH])
            found.extend(dict(d) for d in response.get("serviceDeployments", []))
        return found

    def describe_service_revisions(self, arns: list[str]) -> list[dict[str, Any]]:
        """DescribeServiceRevisions, batched by ECS's limit of 20 ARNs per call."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(arns), _SERVICE_DEPLOYMENTS_BATCH):
            with aws_errors("describe service revisions"):
                response = self.client.describe_service_revisions(
                    serviceRevisionArns=arns[start:start + _SERVICE_DEPLOYMENTS_BATCH])
            found.extend(dict(r) for r in response.get("serviceRevisions", []))
        return found

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        """Release (CONTINUE) or roll back (ROLLBACK) a service deployment paused at a lifecycle hook."""
        with aws_errors(f"continue service deployment {arn}"):
            self.client.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)

# The `services:` deploy's waits poll on one grid: each sleep ends on a whole multiple of this from the deploy's
# start, so services whose updates went out within the same second poll at the same instant, in one call. A
# second (wait.MIN_POLL_SECONDS) bounds what it adds to a wait, and keeps a large deploy's polls at one batch
# a second whatever the number of services (ECS throttles Describe* calls per account and region).
POLL_GRID_SECONDS = 1.0


class BatchingEcsGateway(EcsGateway):
    """An EcsGateway for the services of one deploy: their waits poll on one schedule (`align`) and the threads
    that poll at the same grid instant share one call: DescribeServices (≤ 10 services a call) for waits that
    follow deployments by id, DescribeServiceDeployments (≤ 20 a call) for those that follow service deployments.

    A caller gets an answer sent no earlier than `tolerance` seconds before it asked; services (and service
    deployments) not asked about for `forget_seconds` (their deploy is done) are left out of the next batch.
    """

    def __init__(self, client: Any, cluster: str, sleep: Callable[[float], None] = time.sleep, *,
                 tolerance: float = 0.2, forget_seconds: float = 30.0, grid: float = POLL_GRID_SECONDS) -> None:
        super().__init__(client, sleep)
        self.cluster = cluster
        self.tolerance = tolerance
        self.forget_seconds = forget_seconds
        self.grid = grid
        self._epoch = time.monotonic()
        self._lock = threading.Lock()
        self._asked: dict[str, float] = {}
        self._described: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._sd_lock = threading.Lock()
        self._sd_asked: dict[str, float] = {}
        self._sd_described: dict[str, tuple[float, dict[str, Any] | None]] = {}
        # The cluster's tasks listed and described once per grid instant for every wait (ci_ecs.batching).
        self.tasks = ClusterTasks(self._list_tasks_page,
                                  lambda arns: EcsGateway.describe_tasks(self, cluster, arns), tolerance=tolerance,
                                  forget_seconds=forget_seconds)

    def align(self, delay: float) -> float:
        """`delay`, lengthened to end on the deploy's shared poll grid, so the waits wake together and share a
        batch (at most one grid step, POLL_GRID_SECONDS, longer)."""
        if delay <= 0 or self.grid <= 0:
            return delay
        now = time.monotonic() - self._epoch
        return (math.ceil((now + delay) / self.grid - 1e-9) * self.grid) - now

    def expect(self, *, service: str | None = None, service_deployment: str | None = None) -> None:
        """A wait is about to poll this service (or service deployment): include it in every batch from now on,
        so the first waits to wake at a grid instant describe the others too."""
        now = time.monotonic()
        if service is not None:
            with self._lock:
                self._asked[service] = now
        if service_deployment is not None:
            with self._sd_lock:
                self._sd_asked[service_deployment] = now

    def forget(self, service: str, service_deployment: str | None = None) -> None:
        """The service's deploy is done: leave it (and its service deployment) out of the next batches at once,
        instead of describing it for `forget_seconds` more."""
        with self._lock:
            self._asked.pop(service, None)
        if service_deployment is not None:
            with self._sd_lock:
                self._sd_asked.pop(service_deployment, None)
        self.tasks.forget(service)

    def describe_service(self, cluster: str, service: str) -> dict[str, Any] | None:
        """The service as one batched DescribeServices call described it (None when missing)."""
        if cluster != self.cluster:
            return super().describe_service(cluster, service)
        asked = time.monotonic()
        with self._lock:
            self._asked[service] = asked
            sent, found = self._described.get(service, (-float("inf"), None))
            if sent >= asked - self.tolerance:
                return found
            names = [n for n, t in self._asked.items() if asked - t < self.forget_seconds]
            sent = time.monotonic()
            services = self.find_services(cluster, names) or {}
            for name in names:
                self._described[name] = (sent, services.get(name))
            return services.get(service)

    def _list_tasks_page(self, desired_status: str, token: str | None) -> tuple[list[str], str | None]:
        params: dict[str, Any] = {"cluster": self.cluster, "desiredStatus": desired_status}
        if token:
            params["nextToken"] = token
        with aws_errors(f"list tasks of {self.cluster}"):
            response = self.client.list_tasks(**params)
        return list(response.get("taskArns", [])), response.get("nextToken")

    def list_tasks(self, cluster: str, *, service: str | None = None, desired_status: str = "RUNNING",
                   started_by: str | None = None) -> list[str]:
        """A service's tasks from the cluster's listing shared by every wait (`ClusterTasks`), else ListTasks."""
        if cluster == self.cluster and service and not started_by:
            arns = self.tasks.service_tasks(service, desired_status)
            if arns is not None:
                return arns
        return super().list_tasks(cluster, service=service, desired_status=desired_status, started_by=started_by)

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        """Tasks described at this grid instant (or stopped for good) as they were, the rest in one DescribeTasks
        for every wait asking."""
        if cluster != self.cluster:
            return super().describe_tasks(cluster, arns)
        return self.tasks.describe(arns)

    def describe_service_deployments(self, arns: list[str]) -> list[dict[str, Any]]:
        """One service deployment (a wait's poll) as one batched DescribeServiceDeployments described it; several
        ARNs at once go straight to ECS."""
        if len(arns) != 1:
            return super().describe_service_deployments(arns)
        arn = arns[0]
        asked = time.monotonic()
        with self._sd_lock:
            self._sd_asked[arn] = asked
            sent, found = self._sd_described.get(arn, (-float("inf"), None))
            if sent < asked - self.tolerance:
                wanted = [a for a, t in self._sd_asked.items() if asked - t < self.forget_seconds]
                sent = time.monotonic()
                answered = {str(d.get("serviceDeploymentArn")): d for d in super().describe_service_deployments(wanted)}
                for name in wanted:
                    self._sd_described[name] = (sent, answered.get(name))
                found = answered.get(arn)
            return [found] if found is not None else []


def revision_of(arn: str) -> tuple[str, int]:
    """(family, revision) of a task definition ARN or FAMILY:REVISION.

    >>> revision_of("arn:aws:ecs:us-east-1:123456789012:task-definition/hello:7")
    ('hello', 7)
    """
    name = arn.rsplit("/", 1)[-1]
    family, _, revision = name.rpartition(":")
    if not revision.isdigit():
        return name, 0
    return family, int(revision)
