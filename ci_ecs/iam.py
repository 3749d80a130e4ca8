"""`ci-ecs iam-policy`: the least-privilege IAM policy a config's deploy needs."""

from __future__ import annotations

from typing import Any

from ci_ecs.config import Config

ECR_REPOSITORY_ACTIONS = [
    "ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:PutImageTagMutability",
    "ecr:PutImageScanningConfiguration", "ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy",
    "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
]


def iam_policy(config: Config, *, account_id: str = "*", region: str | None = None) -> dict[str, Any]:
    """The IAM policy document for deploying `config`: scoped to its repository, cluster, service and roles.

    Actions that AWS does not scope to a resource (GetAuthorizationToken, RegisterTaskDefinition,
    DescribeTaskDefinition, the EC2/ELB describes) are on "*", as AWS requires.
    """
    assert config.cluster and config.service.name and config.task is not None
    region = region or config.region or "*"
    ecs_arn = f"arn:aws:ecs:{region}:{account_id}"
    statements: list[dict[str, Any]] = []
    if config.repository:
        statements.append({"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
                           "Resource": "*"})
        statements.append({"Sid": "EcrRepository", "Effect": "Allow", "Action": ECR_REPOSITORY_ACTIONS,
                           "Resource": f"arn:aws:ecr:{region}:{account_id}:repository/{config.repository.name}"})
    statements.append({"Sid": "EcsCluster", "Effect": "Allow", "Action": ["ecs:DescribeClusters", "ecs:CreateCluster"],
                       "Resource": f"{ecs_arn}:cluster/{config.cluster}"})
    statements.append({"Sid": "EcsTaskDefinitions", "Effect": "Allow",
                       "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition",
                                  "ecs:ListTaskDefinitions"], "Resource": "*"})
    statements.append({"Sid": "EcsService", "Effect": "Allow",
                       "Action": ["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService"],
                       "Resource": f"{ecs_arn}:service/{config.cluster}/{config.service.name}"})
    cluster_arn = f"{ecs_arn}:cluster/{config.cluster}"
    statements.append({"Sid": "EcsTasks", "Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:DescribeTasks"],
                       "Resource": "*", "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}})
    describes = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    if config.service.load_balancers:
        describes += ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers"]
    statements.append({"Sid": "NetworkDescribe", "Effect": "Allow", "Action": describes, "Resource": "*"})
    roles = sorted({arn for arn in (config.task.execution_role_arn, config.task.task_role_arn) if arn})
    if roles:
        statements.append({"Sid": "PassTaskRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": roles,
                           "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}})
    if config.assume_role_arn:
        statements.append({"Sid": "AssumeDeployRole", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                           "Resource": config.assume_role_arn})
    return {"Version": "2012-10-17", "Statement": statements}
