"""`ci-ecs iam-policy`: the least-privilege IAM policy a config's deploy needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ecs.config import Config, ServiceEntry
from ci_ecs.config.service import API_STRUCTURES
from ci_ecs.errors import ConfigError
from ci_ecs.task_files import read_task_file

ECR_REPOSITORY_ACTIONS = [
    "ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:PutImageTagMutability",
    "ecr:PutImageScanningConfiguration", "ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy",
    "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
]
# `repository.public`: what ci-ecs calls on an ECR Public repository (ecr_public.py) and a push needs.
ECR_PUBLIC_REPOSITORY_ACTIONS = [
    "ecr-public:DescribeRepositories", "ecr-public:CreateRepository", "ecr-public:GetRepositoryCatalogData",
    "ecr-public:PutRepositoryCatalogData", "ecr-public:DescribeImages", "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:InitiateLayerUpload", "ecr-public:UploadLayerPart", "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
]


@dataclass(frozen=True)
class _Target:
    """What one task + service of the config puts into the policy."""

    service: str
    family: str
    roles: tuple[str, ...]
    service_tags: bool
    task_tags: bool
    # awslogs groups of the containers, as (region or None, group); ("*", "*") when unknown (a family in ECS).
    log_groups: tuple[tuple[str | None, str], ...] = ()


def _awslogs(container: dict[str, Any]) -> tuple[str | None, str] | None:
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    return options.get("awslogs-region"), str(options["awslogs-group"])


def _log_groups(entry: ServiceEntry, definition: dict[str, Any] | None) -> tuple[tuple[str | None, str], ...]:
    task = entry.task
    if task.definition:
        return (("*", "*"),)  # read from ECS at deploy time: any group of the account
    groups: list[tuple[str | None, str] | None] = []
    for container in task.containers:
        if container.logs:
            groups.append((container.logs.region, container.logs.group))
        else:
            groups.append(_awslogs(container.extra))
    for container in (definition or {}).get("containerDefinitions", []):
        groups.append(_awslogs(container))
    return tuple(sorted({g for g in groups if g}, key=lambda g: (g[0] or "", g[1])))


def _target(entry: ServiceEntry, base_dir: Path) -> _Target:
    task = entry.task
    family, roles, task_tags = task.family, [task.execution_role_arn, task.task_role_arn], False
    definition = None
    if task.file:
        # A native file names its own family, roles and tags; the config's values override them (as in render).
        definition = read_task_file(base_dir / task.file)
        family = family or definition.get("family")
        roles = [task.execution_role_arn or definition.get("executionRoleArn"),
                 task.task_role_arn or definition.get("taskRoleArn")]
        task_tags = bool(definition.get("tags"))
    if not family:
        raise ConfigError("the task definition file has no family (set task.family)", key="task.family")
    return _Target(service=str(entry.service.name), family=str(family),
                   roles=tuple(str(r) for r in roles if r), service_tags=bool(entry.service.tags),
                   task_tags=task_tags, log_groups=_log_groups(entry, definition))


@dataclass(frozen=True)
class _Scope:
    """What every statement is scoped to: the config's cluster and services in one account and region."""

    config: Config
    targets: list[_Target]
    account_id: str
    region: str

    @property
    def ecs_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account_id}"

    @property
    def cluster_arn(self) -> str:
        return f"{self.ecs_arn}:cluster/{self.config.cluster}"

    @property
    def service_arns(self) -> list[str]:
        return [f"{self.ecs_arn}:service/{self.config.cluster}/{t.service}" for t in self.targets]

    def in_cluster(self) -> dict[str, Any]:
        """The condition that keeps a statement to the config's cluster (a new dict each time)."""
        return {"ArnEquals": {"ecs:cluster": self.cluster_arn}}


def iam_policy(config: Config, *, account_id: str = "*", region: str | None = None,
               base_dir: Path = Path(".")) -> dict[str, Any]:
    """The IAM policy document for deploying `config`: scoped to its repository, cluster, services and roles.

    Every task + service of the config counts (the top-level pair, or each entry of `services:`).
    Actions that AWS does not scope to a resource (GetAuthorizationToken, RegisterTaskDefinition,
    DescribeTaskDefinition, the EC2/ELB describes) are on "*", as AWS requires.
    """
    if not config.cluster:
        raise ConfigError("cluster is required (in the file, CI_ECS_CLUSTER or --cluster)", key="cluster")
    if config.express is not None:
        return express_policy(config, account_id, region or config.region or "*")
    scope = _Scope(config, [_target(entry, base_dir) for entry in config.targets()], account_id,
                   region or config.region or "*")
    return {"Version": "2012-10-17", "Statement": [statement for feature in _FEATURES for statement in feature(scope)]}


def _repository_statements(scope: _Scope) -> list[dict[str, Any]]:
    """Logging in to the registry and pushing to the config's repository (ECR, or ECR Public)."""
    repository, account_id = scope.config.repository, scope.account_id
    if repository and repository.public:
        # "Amazon ECR requires that users have permission to make calls to the ecr-public:GetAuthorizationToken
        # and sts:GetServiceBearerToken API ... before they can authenticate to a registry and push" (Amazon ECR
        # Public user guide, repository policies); both on "*". A public repository's ARN has no region.
        return [{"Sid": "EcrPublicLogin", "Effect": "Allow",
                 "Action": ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"], "Resource": "*"},
                {"Sid": "EcrPublicRepository", "Effect": "Allow", "Action": ECR_PUBLIC_REPOSITORY_ACTIONS,
                 "Resource": f"arn:aws:ecr-public::{account_id}:repository/{repository.name}"}]
    if repository:
        return [{"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
                {"Sid": "EcrRepository", "Effect": "Allow", "Action": ECR_REPOSITORY_ACTIONS,
                 "Resource": f"arn:aws:ecr:{scope.region}:{account_id}:repository/{repository.name}"}]
    return []


def _deploy_statements(scope: _Scope) -> list[dict[str, Any]]:
    """The cluster, the task definitions and the services a deploy describes, creates and updates."""
    # `cluster_capacity_providers`: PutClusterCapacityProviders adds them to an existing cluster (cluster.py).
    cluster_actions = ["ecs:DescribeClusters", "ecs:CreateCluster",
                       *(["ecs:PutClusterCapacityProviders"] if scope.config.cluster_capacity_providers else [])]
    # The pre-flight reads the type of a strategy's capacity providers other than FARGATE/FARGATE_SPOT (Managed
    # Instances ones need a task definition made for them: preflight/references.py). A read, on `*`: a provider's
    # ARN is not known from its name.
    providers = any(c.capacity_provider not in ("FARGATE", "FARGATE_SPOT")
                    for entry in scope.config.targets() for c in entry.service.capacity_provider_strategy)
    return [
        {"Sid": "EcsCluster", "Effect": "Allow", "Action": cluster_actions, "Resource": scope.cluster_arn},
        *([{"Sid": "EcsCapacityProviders", "Effect": "Allow", "Action": ["ecs:DescribeCapacityProviders"],
            "Resource": "*"}] if providers else []),
        {"Sid": "EcsTaskDefinitions", "Effect": "Allow",
         "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"],
         "Resource": "*"},
        {"Sid": "EcsService", "Effect": "Allow",
         "Action": ["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService"],
         "Resource": _one_or_list(scope.service_arns)},
    ]


def _tag_statements(scope: _Scope) -> list[dict[str, Any]]:
    """Tags on the services and task definitions the config tags."""
    statements: list[dict[str, Any]] = []
    targets = scope.targets
    # Tags on CreateService / RegisterTaskDefinition need ecs:TagResource on the new resource as well
    # ("Grant permission to tag resources on creation", Amazon ECS Developer Guide); the condition keeps
    # it to tag-on-create, so the policy cannot tag existing resources.
    tagged_services = [arn for arn, t in zip(scope.service_arns, targets, strict=True) if t.service_tags]
    tagged = tagged_services + sorted({f"{scope.ecs_arn}:task-definition/{t.family}:*" for t in targets
                                       if t.task_tags})
    if tagged:
        actions = sorted({"CreateService" for t in targets if t.service_tags}
                         | {"RegisterTaskDefinition" for t in targets if t.task_tags})
        statements.append({"Sid": "EcsTagOnCreate", "Effect": "Allow", "Action": ["ecs:TagResource"],
                           "Resource": _one_or_list(tagged),
                           "Condition": {"StringEquals": {"ecs:CreateAction": actions}}})
    # Tags the config names on an existing service: read (ListTagsForResource), set (TagResource) and, for a key set
    # to null, removed (UntagResource) on that service only (ci_ecs/service.py tag_plan).
    if tagged_services:
        statements.append({"Sid": "EcsServiceTags", "Effect": "Allow",
                           "Action": ["ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource"],
                           "Resource": _one_or_list(tagged_services)})
    return statements


def _task_statements(scope: _Scope) -> list[dict[str, Any]]:
    """The cluster's tasks a deploy reads, and the lifecycle commands (issue 16), one statement each so a
    pipeline that does not use one can drop it."""
    families = sorted({f"{scope.ecs_arn}:task-definition/{t.family}:*" for t in scope.targets})
    return [
        {"Sid": "EcsTasks", "Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:DescribeTasks"], "Resource": "*",
         "Condition": scope.in_cluster()},
        # run-task: RunTask on the family's revisions in this cluster, StopTask when cancelled (ecs:cluster
        # condition keys as the Amazon ECS service authorization reference lists them).
        {"Sid": "EcsRunTask", "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": _one_or_list(families),
         "Condition": scope.in_cluster()},
        {"Sid": "EcsStopTask", "Effect": "Allow", "Action": ["ecs:StopTask"], "Resource": "*",
         "Condition": scope.in_cluster()},
        # deregister: every service of the cluster is read (a revision one of them uses is kept);
        # DeregisterTaskDefinition takes no resource-level permission.
        {"Sid": "EcsDeregister", "Effect": "Allow", "Action": ["ecs:DeregisterTaskDefinition"], "Resource": "*"},
        {"Sid": "EcsClusterServices", "Effect": "Allow", "Action": ["ecs:ListServices"], "Resource": "*",
         "Condition": scope.in_cluster()},
        {"Sid": "EcsDescribeClusterServices", "Effect": "Allow", "Action": ["ecs:DescribeServices"],
         "Resource": f"{scope.ecs_arn}:service/{scope.config.cluster}/*"},
    ]


def _network_statements(scope: _Scope) -> list[dict[str, Any]]:
    """DescribeSubnets / DescribeSecurityGroups / DescribeTargetGroups: pre-flight's reference checks
    (preflight/references.py) as well as the default subnets, the tasks' addresses and the load balancer's name;
    DescribeTargetGroupAttributes: the deregistration delay a rolling deploy's draining phase names (phases)."""
    describes = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    if any(entry.service.load_balancers for entry in scope.config.targets()):
        describes += ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers",
                      "elasticloadbalancing:DescribeTargetGroupAttributes"]
    return [{"Sid": "NetworkDescribe", "Effect": "Allow", "Action": describes, "Resource": "*"}]


def _log_statements(scope: _Scope) -> list[dict[str, Any]]:
    """The last log lines of stopped tasks (GetLogEvents; "log-group:NAME:*" covers the group's streams, as the
    CloudWatch Logs permissions reference asks for all actions but tagging)."""
    groups = sorted({f"arn:aws:logs:{group_region or scope.region}:{scope.account_id}:log-group:{group}:*"
                     for t in scope.targets for group_region, group in t.log_groups})
    if not groups:
        return []
    return [{"Sid": "LogsTail", "Effect": "Allow", "Action": ["logs:GetLogEvents"], "Resource": _one_or_list(groups)}]


def _task_role_statements(scope: _Scope) -> list[dict[str, Any]]:
    """PassRole for the task and execution roles, to ECS tasks only."""
    roles = sorted({role for t in scope.targets for role in t.roles})
    if not roles:
        return []
    return [{"Sid": "PassTaskRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": roles,
             "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]


def _assume_role_statements(scope: _Scope) -> list[dict[str, Any]]:
    """`assume_role_arn`: the role the deploy assumes."""
    if not scope.config.assume_role_arn:
        return []
    return [{"Sid": "AssumeDeployRole", "Effect": "Allow", "Action": ["sts:AssumeRole"],
             "Resource": scope.config.assume_role_arn}]


def _strategy_statements(scope: _Scope) -> list[dict[str, Any]]:
    """The service-deployment API every deploy follows (issue 15: ROLLING too); for blue/green, canary, linear,
    hooks and alarms also the ContinueServiceDeployment `continue` calls, PassRole for the load balancers'
    infrastructure role and the Lambda hooks' roles (passed to ECS), and cloudwatch:DescribeAlarms."""
    config, ecs_arn = scope.config, scope.ecs_arn
    services = [entry.service for entry in config.targets()]
    staged = any(s.strategy not in (None, "ROLLING") or s.lifecycle_hooks or s.alarms for s in services)
    out: list[dict[str, Any]] = [{
        "Sid": "EcsServiceDeployments", "Effect": "Allow",
        "Action": ["ecs:ListServiceDeployments", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions",
                   *(["ecs:ContinueServiceDeployment"] if staged else [])],
        "Resource": [f"{ecs_arn}:service/{config.cluster}/*", f"{ecs_arn}:service-deployment/{config.cluster}/*",
                     f"{ecs_arn}:service-revision/{config.cluster}/*"]}]
    # The infrastructure roles of the request structures (VPC Lattice, managed EBS volumes, Service Connect TLS):
    # ECS uses them on the caller's behalf, so the caller passes them (iam:PassRole to ecs.amazonaws.com).
    roles = sorted({role for s in services for role in _structure_roles(s)})
    if staged:
        roles = sorted(set(roles) | {lb.advanced.role_arn for s in services for lb in s.load_balancers if lb.advanced}
                       | {h.role_arn for s in services for h in s.lifecycle_hooks or [] if h.role_arn})
    if roles:
        out.append({"Sid": "PassEcsInfrastructureRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
                    "Resource": _one_or_list(roles),
                    "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}})
    if staged and any(s.alarms for s in services):
        out.append({"Sid": "DeploymentAlarms", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
                    "Resource": "*"})
    return out


def _listener_rules_arn(listener_arn: str) -> str:
    """listener/app/LB/ID/LISTENER -> listener-rule/app/LB/ID/LISTENER/* (the rules' ARN form, ELB's ARN table in
    the Service Authorization Reference)."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"


def _preview_statements(scope: _Scope) -> list[dict[str, Any]]:
    """`ci-ecs preview` (a config with a `preview:` section): the preview services `<service>-pr-*` and families
    `<family>-pr-*` (created, tagged on creation, deleted), and with a shared listener its target groups `pr-*`
    and host-header rules (created with tags, which needs elasticloadbalancing:AddTags as well)."""
    config = scope.config
    preview = config.preview
    if preview is None:
        return []
    ecs_arn, elb_arn = scope.ecs_arn, f"arn:aws:elasticloadbalancing:{scope.region}:{scope.account_id}"
    services = [f"{ecs_arn}:service/{config.cluster}/{t.service}-pr-*" for t in scope.targets]
    families = sorted({f"{ecs_arn}:task-definition/{t.family}-pr-*:*" for t in scope.targets})
    out: list[dict[str, Any]] = [
        {"Sid": "PreviewServices", "Effect": "Allow",
         "Action": ["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
                    "ecs:ListTagsForResource", "ecs:TagResource"], "Resource": _one_or_list(services)},
        {"Sid": "PreviewTaskDefinitionTags", "Effect": "Allow", "Action": ["ecs:TagResource"],
         "Resource": _one_or_list(families),
         "Condition": {"StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition"]}}},
        # DeregisterTaskDefinition and DeleteTaskDefinitions take no resource-level permission.
        {"Sid": "PreviewTaskDefinitions", "Effect": "Allow",
         "Action": ["ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions"], "Resource": "*"},
    ]
    if preview.listener_arn:
        out += [
            {"Sid": "PreviewLoadBalancerDescribe", "Effect": "Allow",
             "Action": ["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
                        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers",
                        "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTags"],
             "Resource": "*"},
            {"Sid": "PreviewTargetGroups", "Effect": "Allow",
             "Action": ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
                        "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:AddTags"],
             "Resource": f"{elb_arn}:targetgroup/pr-*/*"},
            {"Sid": "PreviewListenerRules", "Effect": "Allow",
             "Action": ["elasticloadbalancing:CreateRule", "elasticloadbalancing:ModifyRule",
                        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:AddTags"],
             "Resource": [preview.listener_arn, _listener_rules_arn(preview.listener_arn)]},
        ]
    return out


def _structure_roles(service: Any) -> set[str]:
    """Every `role_arn` in the service's snake_case request structures (config/api.py), at any depth."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if str(key).replace("_", "").lower() == "rolearn" and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name in API_STRUCTURES:
        walk(getattr(service, name))
    return found


def express_policy(config: Config, account_id: str, region: str) -> dict[str, Any]:
    """The policy for deploying an `express:` config: the Express Mode calls, following the underlying service's
    deployment, the repository, and PassRole for the execution, task and infrastructure roles."""
    express = config.express
    assert express is not None
    cluster = express.cluster or config.cluster or "default"
    ecs_arn = f"arn:aws:ecs:{region}:{account_id}"
    scope = _Scope(config, [], account_id, region)
    # With a `preview:` section the previews `<service_name>-pr-<id>` too (ci-ecs preview).
    names = [express.service_name, *([f"{express.service_name}-pr-*"] if config.preview is not None else [])]
    # The resource types the Service Authorization Reference gives the Express actions were not at hand when
    # this was written: "*" (the call works) rather than a guessed ARN pattern that could refuse it.
    statements = [*_repository_statements(scope), {
        "Sid": "EcsExpressService", "Effect": "Allow",
        "Action": ["ecs:CreateExpressGatewayService", "ecs:UpdateExpressGatewayService",
                   "ecs:DescribeExpressGatewayService",
                   # `ci-ecs preview down|gc` of Express previews (a `preview:` section)
                   *(["ecs:DeleteExpressGatewayService"] if config.preview is not None else [])],
        "Resource": "*"}, {
        "Sid": "EcsFollowDeployment", "Effect": "Allow",
        "Action": ["ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:ListServiceDeployments",
                   "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions"],
        "Resource": [*(f"{ecs_arn}:service/{cluster}/{name}" for name in names), f"{ecs_arn}:task/{cluster}/*",
                     *(f"{ecs_arn}:service-deployment/{cluster}/{name}/*" for name in names),
                     *(f"{ecs_arn}:service-revision/{cluster}/{name}/*" for name in names)]}, {
        # DescribeTaskDefinition and the EC2/ELB describes take no resource-level permissions (as in deploy's).
        "Sid": "Describe", "Effect": "Allow",
        "Action": ["ecs:DescribeTaskDefinition", *(["ecs:ListServices"] if config.preview is not None else []),
                   "ec2:DescribeNetworkInterfaces",
                   "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers"],
        "Resource": "*"}, {
        "Sid": "PassExpressRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
        "Resource": _one_or_list(sorted({r for r in (express.execution_role_arn, express.task_role_arn) if r})),
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}, {
        # The infrastructure role: ECS uses it to make the load balancer, security groups and scaling.
        "Sid": "PassExpressInfrastructureRole", "Effect": "Allow", "Action": ["iam:PassRole"],
        "Resource": express.infrastructure_role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}}]
    if express.tags:
        # The config's tags: set on create (tagging on creation needs ecs:TagResource, Amazon ECS Developer Guide)
        # and, on an existing service, read and set (express_deploy: UpdateExpressGatewayService takes no tags).
        statements.append({"Sid": "EcsExpressServiceTags", "Effect": "Allow",
                           "Action": ["ecs:ListTagsForResource", "ecs:TagResource"],
                           "Resource": _one_or_list([f"{ecs_arn}:service/{cluster}/{name}" for name in names])})
    return {"Version": "2012-10-17", "Statement": statements}


# The policy's statements, feature by feature, in the order the document lists them.
_FEATURES: tuple[Callable[[_Scope], list[dict[str, Any]]], ...] = (
    _repository_statements, _deploy_statements, _tag_statements, _task_statements, _network_statements,
    _log_statements, _task_role_statements, _strategy_statements, _assume_role_statements, _preview_statements,
)


def _one_or_list(arns: list[str]) -> str | list[str]:
    # One ARN stays a string: the policy of a single-service config reads as before.
    return arns[0] if len(arns) == 1 else arns
