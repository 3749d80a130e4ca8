"""A thin gateway over the ELBv2 calls previews make: injected client, no I/O in __init__, paginated (botocore's
paginators), errors verb-first. What each call answers is ELB's (API reference, Elastic Load Balancing v2)."""

from __future__ import annotations

from typing import Any

from ci_ecs.aws_failures import aws_errors, error_code

# ELB's answers for a resource that is not there (API reference, Errors of each Describe* / Delete* call).
_NOT_FOUND = ("TargetGroupNotFound", "TargetGroupNotFoundException", "RuleNotFound", "RuleNotFoundException",
              "ListenerNotFound", "ListenerNotFoundException", "LoadBalancerNotFound", "LoadBalancerNotFoundException")
# DescribeTags takes at most 20 resource ARNs (API reference, DescribeTags: ResourceArns "Maximum number of 20
# items").
_TAGS_BATCH = 20


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """ELB's tag shape: [{"Key", "Value"}]."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class ElbGateway:
    """The ELBv2 calls of `ci-ecs preview`, each wrapped so an error says what was being done."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def _first(describe: Any, member: str, **params: Any) -> dict[str, Any] | None:
        """The one resource a Describe* call by name or ARN answers, None when ELB does not know it."""
        try:
            found = describe(**params)[member]
        except Exception as exc:
            if error_code(exc) in _NOT_FOUND:
                return None
            raise
        return dict(found[0]) if found else None

    def describe_listener(self, arn: str) -> dict[str, Any] | None:
        """The listener, or None when ELB does not know it (ListenerNotFound)."""
        with aws_errors(f"describe listener {arn.rsplit('/', 1)[-1]}"):
            return self._first(self.client.describe_listeners, "Listeners", ListenerArns=[arn])

    def describe_load_balancer(self, arn: str) -> dict[str, Any] | None:
        """The load balancer (DNSName, VpcId), or None."""
        with aws_errors(f"describe load balancer {arn.rsplit('/', 2)[-2] if '/' in arn else arn}"):
            return self._first(self.client.describe_load_balancers, "LoadBalancers", LoadBalancerArns=[arn])

    def rules(self, listener_arn: str) -> list[dict[str, Any]]:
        """Every rule of the listener, the default rule included (DescribeRules, paginated)."""
        with aws_errors("describe the listener's rules"):
            pages = self.client.get_paginator("describe_rules").paginate(ListenerArn=listener_arn)
            return [dict(rule) for page in pages for rule in page.get("Rules", [])]

    def target_group(self, *, name: str | None = None, arn: str | None = None) -> dict[str, Any] | None:
        """One target group by name or ARN, or None when there is none."""
        params: dict[str, Any] = {"Names": [name]} if name else {"TargetGroupArns": [arn]}
        with aws_errors(f"describe target group {name or arn}"):
            return self._first(self.client.describe_target_groups, "TargetGroups", **params)

    def target_group_attributes(self, arn: str) -> dict[str, str]:
        """The target group's attributes as {key: value}."""
        with aws_errors("describe target group attributes"):
            found = self.client.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        return {str(a["Key"]): str(a.get("Value", "")) for a in found}

    def tags(self, arns: list[str]) -> dict[str, dict[str, str]]:
        """The tags of each resource, {arn: {key: value}} (DescribeTags, 20 ARNs per call)."""
        out: dict[str, dict[str, str]] = {}
        with aws_errors("describe tags"):
            for start in range(0, len(arns), _TAGS_BATCH):
                answer = self.client.describe_tags(ResourceArns=arns[start:start + _TAGS_BATCH])
                for item in answer.get("TagDescriptions", []):
                    out[str(item["ResourceArn"])] = {str(t["Key"]): str(t.get("Value", ""))
                                                     for t in item.get("Tags", [])}
        return out

    def create_target_group(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateTargetGroup (tags included in `params`)."""
        with aws_errors(f"create target group {params.get('Name')}"):
            return dict(self.client.create_target_group(**params)["TargetGroups"][0])

    def modify_target_group_attributes(self, arn: str, attributes: dict[str, str]) -> None:
        """ModifyTargetGroupAttributes with `attributes`."""
        with aws_errors("modify target group attributes"):
            self.client.modify_target_group_attributes(
                TargetGroupArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()])

    def create_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateRule; a priority another rule has raises the AwsError with code PriorityInUse (callers retry)."""
        with aws_errors(f"create listener rule at priority {params.get('Priority')}"):
            return dict(self.client.create_rule(**params)["Rules"][0])

    def modify_rule_conditions(self, arn: str, conditions: list[dict[str, Any]]) -> None:
        """ModifyRule with new conditions (its actions stay)."""
        with aws_errors("modify listener rule"):
            self.client.modify_rule(RuleArn=arn, Conditions=conditions)

    def delete_rule(self, arn: str) -> bool:
        """DeleteRule; False when the rule was already gone."""
        with aws_errors("delete listener rule"):
            try:
                self.client.delete_rule(RuleArn=arn)
            except Exception as exc:
                if error_code(exc) in _NOT_FOUND:
                    return False
                raise
        return True

    def delete_target_group(self, arn: str) -> bool:
        """DeleteTargetGroup; False when it was already gone. ELB answers ResourceInUse while a rule or listener
        still forwards to it (API reference, DeleteTargetGroup)."""
        with aws_errors(f"delete target group {arn.rsplit('/', 2)[-2] if '/' in arn else arn}"):
            try:
                self.client.delete_target_group(TargetGroupArn=arn)
            except Exception as exc:
                if error_code(exc) in _NOT_FOUND:
                    return False
                raise
        return True
