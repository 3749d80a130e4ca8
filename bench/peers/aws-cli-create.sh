#!/usr/bin/env bash
# What a pipeline built on a deploy tool that cannot create anything (fabfuel/ecs-deploy, the
# aws-CLI script) runs first when the service does not exist yet: cluster, task definition,
# service, with the aws CLI. The benchmark counts it as part of those tools' first deploy.
#
# usage: aws-cli-create.sh CLUSTER SERVICE TASKDEF_JSON SUBNET DESIRED_COUNT
set -euo pipefail
cluster=$1 service=$2 taskdef=$3 subnet=$4 desired=$5

aws ecs create-cluster --cluster-name "$cluster" --query cluster.clusterArn --output text
arn=$(aws ecs register-task-definition --cli-input-json "file://$taskdef" \
  --query taskDefinition.taskDefinitionArn --output text)
echo "registered $arn"
aws ecs create-service --cluster "$cluster" --service-name "$service" --task-definition "$arn" \
  --desired-count "$desired" --launch-type FARGATE \
  --network-configuration "awsvpcConfiguration={subnets=[$subnet],assignPublicIp=ENABLED}" \
  --deployment-configuration \
  "deploymentCircuitBreaker={enable=true,rollback=false},minimumHealthyPercent=100,maximumPercent=200" \
  --query service.serviceArn --output text
