"""The configuration: `ci-ecs.yml` merged with `CI_ECS_*` variables and flags, validated before any AWS call.

Precedence is flag > environment > file > default. The CLI turns flags and variables into an
`overrides` mapping (click reads `CI_ECS_*` for every option); `load_config` lays it over the file
and validates the result, so a bad value from any source is a one-line `ConfigError` (exit 2).

The modules, in the order a config is read: `loader` (the hardened YAML loader, also used for native task
definition files), `load` (file + overrides -> `Config`), `schema` (the top-level model and its
cross-section rules) built from `image`, `task` and `service` (one section each) on `base`, and `values`
(the value rules they and the pre-flight share, the Fargate cpu/memory table among them). Every public name
is re-exported here: `from ci_ecs.config import Config, load_config` is the way in.
"""

from __future__ import annotations

from ci_ecs.config.image import (
    PRIVATE_ONLY_REPOSITORY_KEYS,
    BuildConfig,
    CatalogConfig,
    Encryption,
    ImageConfig,
    RepositoryConfig,
)
from ci_ecs.config.load import load_config, no_config_file
from ci_ecs.config.loader import MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES, load_yaml_text, read_text_file
from ci_ecs.config.schema import Config, DeploySettings, RunTaskSettings, ServiceEntry, VerifyConfig, status_ranges
from ci_ecs.config.service import (
    CanaryConfig,
    CapacityProvider,
    CircuitBreaker,
    DeploymentAlarms,
    EarlySuccessCriteria,
    LifecycleHook,
    LinearConfig,
    LoadBalancer,
    LoadBalancerAdvanced,
    PlacementConstraint,
    PlacementStrategy,
    ServiceConfig,
    ThresholdConfiguration,
    lifecycle_hook_stages,
    model_enum,
)
from ci_ecs.config.task import (
    ContainerConfig,
    HealthCheck,
    LogConfig,
    PortMapping,
    RestartPolicy,
    RuntimePlatform,
    TaskConfig,
)
from ci_ecs.config.values import (
    DEFAULT_CONFIG_FILE,
    ENV_NAME,
    FARGATE_MEMORY,
    TASK_DEFINITION_REF,
    cpu_units,
    fargate_size_problem,
    is_http_url,
    is_task_definition_ref,
    memory_mib,
    split_names,
)

__all__ = [
    "DEFAULT_CONFIG_FILE", "ENV_NAME", "FARGATE_MEMORY", "MAX_ALIAS_NODES", "MAX_DEPTH", "MAX_FILE_BYTES",
    "PRIVATE_ONLY_REPOSITORY_KEYS", "TASK_DEFINITION_REF", "BuildConfig", "CanaryConfig", "CapacityProvider",
    "CatalogConfig", "CircuitBreaker", "Config", "ContainerConfig", "DeploySettings", "DeploymentAlarms",
    "EarlySuccessCriteria", "Encryption", "HealthCheck", "ImageConfig", "LifecycleHook", "LinearConfig",
    "LoadBalancer", "LoadBalancerAdvanced", "LogConfig", "PlacementConstraint", "PlacementStrategy",
    "PortMapping", "RepositoryConfig", "RestartPolicy", "RunTaskSettings", "RuntimePlatform", "ServiceConfig",
    "ServiceEntry", "TaskConfig", "ThresholdConfiguration", "VerifyConfig", "cpu_units", "fargate_size_problem",
    "is_http_url", "is_task_definition_ref", "lifecycle_hook_stages", "load_config", "load_yaml_text",
    "memory_mib", "model_enum", "no_config_file", "read_text_file", "split_names", "status_ranges",
]
