"""AWS's documented API request throttling (``--rate-limits aws``): token buckets per action category, per account
and region, decided in the middleware before a request reaches moto (a throttled call has no side effect).

Sources (the tables below are copied from them; keep the citation next to each):
- ECS: "Request throttling for the Amazon ECS API", Amazon ECS API Reference,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html ("Request Token Bucket Sizes
  and Refill Rates"): every action of a category shares one bucket; the answer is ``ThrottlingException`` (HTTP 400,
  "Rate exceeded").
- EC2: "Request throttling for the Amazon EC2 API", Amazon EC2 API Reference,
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html: non-mutating, "unfiltered and unpaginated
  non-mutating" and mutating buckets; the answer is ``RequestLimitExceeded`` (HTTP 503).
- ECR and ELBv2 publish per-API request quotas in Service Quotas but no token-bucket sizes and refill rates: the
  sandbox leaves them unlimited rather than invent buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

PROFILES = ("none", "aws")
ENV_RATE_LIMITS = "CI_ECS_SANDBOX_RATE_LIMITS"


@dataclass(frozen=True)
class BucketSpec:
    """One documented bucket: its category name, maximum capacity (burst) and refill rate (sustained, per second)."""

    category: str
    capacity: float
    refill_per_second: float


def _category(name: str, capacity: float, refill: float, *actions: str) -> dict[str, BucketSpec]:
    spec = BucketSpec(name, capacity, refill)
    return {action: spec for action in actions}


# ECS API Reference, "Request throttling for the Amazon ECS API", table "Request Token Bucket Sizes and Refill Rates"
# (all Regions, per account and Region; the actions of a row share its bucket).
ECS_BUCKETS: dict[str, BucketSpec] = {
    **_category("Cluster modify actions", 20, 1, "CreateCluster", "DeleteCluster", "PutClusterCapacityProviders",
                "UpdateCluster", "UpdateClusterSettings"),
    **_category("Cluster read actions", 50, 20, "DescribeClusters", "ListClusters"),
    **_category("Task definition modify actions", 20, 1, "DeregisterTaskDefinition", "RegisterTaskDefinition"),
    **_category("Task definition read actions", 50, 20, "DescribeTaskDefinition", "ListTaskDefinitions",
                "ListTaskDefinitionFamilies"),
    **_category("Task definition deletion actions", 5, 1, "DeleteTaskDefinitions"),
    **_category("Capacity provider modify actions", 10, 1, "CreateCapacityProvider", "DeleteCapacityProvider",
                "UpdateCapacityProvider"),
    **_category("Capacity provider read actions", 50, 20, "DescribeCapacityProviders"),
    **_category("Tag modify actions", 20, 10, "TagResource", "UntagResource"),
    **_category("Tag read actions", 50, 20, "ListTagsForResource"),
    **_category("Setting modify actions", 10, 1, "DeleteAccountSetting", "PutAccountSetting",
                "PutAccountSettingDefault"),
    **_category("Setting read actions", 50, 20, "ListAccountSettings"),
    **_category("Cluster resource modify actions", 100, 40, "DeleteAttributes", "DeregisterContainerInstance",
                "ExecuteCommand", "PutAttributes", "RunTask", "StartTask", "StopTask", "UpdateContainerAgent",
                "UpdateContainerInstancesStates"),
    **_category("Cluster resource read actions", 100, 20, "DescribeContainerInstances", "DescribeTasks",
                "ListAttributes", "ListContainerInstances", "ListTasks"),
    **_category("Agent modify actions", 200, 120, "RegisterContainerInstance", "SubmitAttachmentStateChanges",
                "SubmitContainerStateChange", "SubmitTaskStateChange"),
    **_category("Service modify actions", 50, 5, "CreateService", "DeleteService", "UpdateService"),
    **_category("Service read actions", 100, 20, "DescribeServices", "ListServices"),
    **_category("Service deployment actions", 50, 20, "DescribeServiceDeployments", "ListServiceDeployments"),
    **_category("Service revision actions", 50, 20, "DescribeServiceRevisions"),
    **_category("Task protection actions", 200, 80, "UpdateTaskProtection", "GetTaskProtection"),
    **_category("Cluster service resource read actions", 10, 1, "ListServicesByNamespace"),
}

# EC2 API Reference, "Request throttling for the Amazon EC2 API", "Request token bucket sizes and refill rates".
EC2_NON_MUTATING = BucketSpec("Non-mutating actions", 100, 20)
EC2_UNFILTERED = BucketSpec("Unfiltered and unpaginated non-mutating actions", 50, 10)
EC2_MUTATING = BucketSpec("Mutating actions", 50, 5)
# "A specific subset of non-mutating API actions that, when requested without specifying either pagination or a
# filter, use tokens from a smaller token bucket."
EC2_UNFILTERED_ACTIONS = frozenset({"DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces",
                                    "DescribeSecurityGroups", "DescribeSnapshots", "DescribeSpotInstanceRequests",
                                    "DescribeVolumes"})
EC2_NON_MUTATING_PREFIXES = ("Describe", "List", "Search", "Get")


def ec2_bucket(operation: str, params: Mapping[str, object]) -> BucketSpec:
    """The EC2 bucket a call draws from; ``params`` are its query parameters (``Filter.1.Name``, ``MaxResults``...).

    >>> ec2_bucket("DescribeNetworkInterfaces", {}).category
    'Unfiltered and unpaginated non-mutating actions'
    >>> ec2_bucket("DescribeNetworkInterfaces", {"Filter.1.Name": "x"}).category
    'Non-mutating actions'
    """
    if not operation.startswith(EC2_NON_MUTATING_PREFIXES):
        return EC2_MUTATING
    if operation in EC2_UNFILTERED_ACTIONS:
        paginated_or_filtered = any(key.startswith(("Filter.", "MaxResults", "NextToken")) for key in params)
        if not paginated_or_filtered:
            return EC2_UNFILTERED
    return EC2_NON_MUTATING


def bucket_for(service: str, operation: str, params: Mapping[str, object] | None = None) -> BucketSpec | None:
    """The documented bucket of `service`'s `operation`, or None (no documented bucket: unlimited).

    >>> bucket_for("ecs", "UpdateService")
    BucketSpec(category='Service modify actions', capacity=50, refill_per_second=5)
    >>> bucket_for("ecr", "DescribeImages") is None
    True
    """
    if service == "ecs":
        return ECS_BUCKETS.get(operation)
    if service == "ec2":
        return ec2_bucket(operation, params or {})
    return None


class RateLimiter:
    """Token buckets keyed by (account, region, service, category); thread-safe.

    Buckets start full and refill continuously at their rate up to their capacity (AWS: "a set number of tokens is
    added back to it every second until it reaches its maximum capacity"; continuous refill is the same average
    without a one-second grid). `clock` is injectable for tests; `scale` is the sandbox's clock (real seconds per AWS
    second, ``minute_seconds / 60``): refills are per AWS second.
    """

    def __init__(self, profile: str = "aws", clock: Callable[[], float] = time.monotonic, scale: float = 1.0) -> None:
        if profile not in PROFILES:
            raise ValueError(f"rate limits must be one of {', '.join(PROFILES)}, got {profile!r}")
        self.profile = profile
        self._clock = clock
        # Real seconds per AWS second (the sandbox's clock, --minute-seconds / 60): every time-based part of the
        # sandbox runs on that one clock, so a scaled sandbox refills its buckets as much faster as its tasks start.
        self.scale = scale
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str, str], tuple[float, float]] = {}  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        """False for the "none" profile (every call allowed)."""
        return self.profile != "none"

    def allow(self, account: str, region: str, service: str, operation: str,
              params: Mapping[str, object] | None = None) -> bool:
        """Take a token for this call; False means AWS would throttle it."""
        if not self.enabled:
            return True
        spec = bucket_for(service, operation, params)
        if spec is None:
            return True
        key = (account, region, service, spec.category)
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (spec.capacity, now))
            elapsed = (now - at) / self.scale if self.scale > 0 else float("inf")  # in AWS seconds
            tokens = min(spec.capacity, tokens + elapsed * spec.refill_per_second)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def reset(self) -> None:
        """Fill every bucket again."""
        with self._lock:
            self._buckets.clear()


def profile_from_env(environ: Mapping[str, str]) -> str:
    """The profile CI_ECS_SANDBOX_RATE_LIMITS names ("none" when unset)."""
    return (environ.get(ENV_RATE_LIMITS) or "none").strip().lower() or "none"
