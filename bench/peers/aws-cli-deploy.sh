#!/usr/bin/env bash
# The aws-CLI deploy that GitLab's Deploy-ECS template and silinternational/ecs-deploy do:
# describe-services -> describe-task-definition -> register-task-definition (new image, via jq,
# or python when jq is missing)
# -> update-service -> aws ecs wait services-stable.
#
# usage: aws-cli-deploy.sh CLUSTER SERVICE CONTAINER IMAGE
# WAIT_TIMEOUT (seconds, default 600): cap on the waiter (its own limit is 40 x 15 s = 10 min).
# Exit: 0 stable, the waiter's code when it gives up, 124 when WAIT_TIMEOUT cut it off.
set -euo pipefail
cluster=$1 service=$2 container=$3 image=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

current=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
  --query 'services[0].taskDefinition' --output text)
aws ecs describe-task-definition --task-definition "$current" --query taskDefinition > "$work/current.json"
if command -v jq >/dev/null; then
  jq --arg name "$container" --arg image "$image" '
    .containerDefinitions |= map(if .name == $name then .image = $image else . end)
    | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
          .registeredAt, .registeredBy, .deregisteredAt)' "$work/current.json" > "$work/new.json"
else  # the same edit without jq
  python3 - "$work/current.json" "$container" "$image" > "$work/new.json" <<'PY'
import json, sys
td = json.load(open(sys.argv[1]))
for c in td["containerDefinitions"]:
    if c["name"] == sys.argv[2]:
        c["image"] = sys.argv[3]
for k in ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
          "registeredAt", "registeredBy", "deregisteredAt"):
    td.pop(k, None)
json.dump(td, sys.stdout)
PY
fi
new=$(aws ecs register-task-definition --cli-input-json "file://$work/new.json" \
  --query taskDefinition.taskDefinitionArn --output text)
echo "registered $new"
aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$new" \
  --query service.serviceArn --output text
echo "waiting for services-stable"
timeout "${WAIT_TIMEOUT:-600}" aws ecs wait services-stable --cluster "$cluster" --services "$service"
echo "deployed $new"
