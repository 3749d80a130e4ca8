"""The whole config: `deploy`, `verify`, `run_task`, `services:` and the top-level `Config` model with
its cross-section rules (what a deploy, a push or a register needs)."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ci_ecs.config.base import StrictModel
from ci_ecs.config.express import ExpressConfig
from ci_ecs.config.image import ImageConfig, RepositoryConfig
from ci_ecs.config.preview import PreviewConfig
from ci_ecs.config.service import CapacityProvider, ServiceConfig
from ci_ecs.config.task import TaskConfig
from ci_ecs.config.values import NAME_255, is_http_url
from ci_ecs.errors import ConfigError
from ci_ecs.imageref import parse_image_ref
from ci_ecs.redact import register_secret


class DeploySettings(StrictModel):
    wait: bool = True
    timeout: int = Field(default=900, ge=1)
    # After COMPLETED, our tasks must stay up until the youngest has run this long (a crash loop is not success).
    stable_seconds: float = Field(default=5.0, ge=0, le=600)
    # None: roll back ourselves unless the service's circuit breaker already rolls back.
    rollback: bool | None = None
    force_new_deployment: bool = False
    # Waiting polls from about 1 s, backing off to this many seconds as the wait grows.
    max_poll_interval: float = Field(default=15.0, gt=0, le=60)
    # completed: wait until the service deployment is SUCCESSFUL (bake included); traffic-shifted: return once
    # production traffic has moved (after POST_PRODUCTION_TRAFFIC_SHIFT), leaving the bake to ECS.
    wait_until: Literal["completed", "traffic-shifted"] = "completed"
    # With a `services:` list: how many services deploy at once.
    parallelism: int = Field(default=5, ge=1, le=50)
    # When tasks of our deployment stop (or fail `verify`): the last lines of each essential container's
    # awslogs stream printed under its stopped reason (0: none).
    log_lines: int = Field(default=20, ge=0, le=10000)
    # The account's service quota "Tasks per service" (ECS default 5,000, adjustable): a desired count above it
    # is refused before anything is written. Set it when AWS raised yours.
    tasks_per_service_quota: int = Field(default=5000, ge=1, le=2**31 - 1)


class VerifyConfig(StrictModel):
    """`verify:` the access check after the deployment completed: every task of it (its public IP, else its
    private IP) or the load balancer's DNS name must answer `path` with `status` (and `body`) within `within`.
    """

    path: str = "/"
    # Default: the first port mapping of the image container (for a load balancer: 80, or 443 with https).
    port: int | None = Field(default=None, ge=1, le=65535)
    scheme: Literal["http", "https"] = "http"
    status: str = "200-399"
    body: str | None = None  # a regular expression searched in the start of the body
    timeout: float = Field(default=5.0, gt=0, le=120)  # seconds per request
    within: float = Field(default=60.0, ge=0, le=3600)  # seconds to keep retrying until every task answers

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or not value.isprintable() or " " in value:
            raise ValueError(f"{json.dumps(value)[:60]} is not a URL path starting with / (no spaces)")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        status_ranges(value)
        return value

    @field_validator("body")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"body is not a regular expression: {exc}") from None
        return value


def status_ranges(text: str) -> list[tuple[int, int]]:
    """HTTP status codes as inclusive ranges: "200-399" -> [(200, 399)]; "200, 204" -> [(200, 200), (204, 204)].

    >>> status_ranges("200-299,301")
    [(200, 299), (301, 301)]
    """
    ranges = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*([1-5][0-9][0-9])\s*(?:-\s*([1-5][0-9][0-9])\s*)?", part)
        if not match:
            raise ValueError(f"status {text!r} is not a list of HTTP codes or ranges like 200-399")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise ValueError(f"status range {part.strip()} ends before it starts")
        ranges.append((low, high))
    return ranges


class RunTaskSettings(StrictModel):
    """`run_task:` how `ci-ecs run-task` places its task, over the service's own settings (same keys)."""

    launch_type: Literal["FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES"] | None = None
    capacity_provider_strategy: list[CapacityProvider] = Field(default_factory=list)
    platform_version: str | None = None
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool | None = None

    @model_validator(mode="after")
    def _shape(self) -> RunTaskSettings:
        if self.launch_type and self.capacity_provider_strategy:
            raise ValueError("give launch_type or capacity_provider_strategy, not both")
        return self


class ServiceEntry(StrictModel):
    """One task + service of a `services:` list."""

    task: TaskConfig
    service: ServiceConfig
    verify: VerifyConfig | None = None


class Config(StrictModel):
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    assume_role_arn: str | None = None
    max_attempts: int = Field(default=8, ge=1, le=50)
    # Attempts per call when AWS throttles it (ThrottlingException, RequestLimitExceeded): ECS's buckets refill at
    # 1-5 tokens a second for writes, so a deploy of many services waits its turn rather than fail; --timeout
    # still bounds the whole.
    throttle_max_attempts: int = Field(default=30, ge=1, le=100)
    # As in ECS: CreateService/UpdateService use the cluster named "default" when none is given.
    cluster: str = "default"
    # Capacity providers to associate with the cluster (ci_ecs/cluster.py): an existing cluster gets them added
    # to its own (PutClusterCapacityProviders), a cluster ci-ecs creates has them besides FARGATE and FARGATE_SPOT.
    cluster_capacity_providers: list[str] = Field(default_factory=list)
    repository: RepositoryConfig | None = None
    image: ImageConfig = Field(default_factory=ImageConfig)
    task: TaskConfig | None = None
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    # ECS Express Mode (config/express.py): one Express service, instead of task + service.
    express: ExpressConfig | None = None
    # `ci-ecs preview`: the shared listener, host template and priority range of previews (config/preview.py).
    preview: PreviewConfig | None = None
    # Several services in one cluster, sharing the image; deployed concurrently (deploy.parallelism).
    services: list[ServiceEntry] = Field(default_factory=list)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    run_task: RunTaskSettings = Field(default_factory=RunTaskSettings)
    # The image to deploy, as is (`--image`); set by flags/env, not usually in the file.
    image_uri: str | None = None
    # The access check for the top-level service (with a `services:` list: `verify` in each entry).
    verify: VerifyConfig | None = None
    # `--verify/--no-verify` (CI_ECS_VERIFY): True checks every service (defaults where `verify` is unset),
    # False none; None follows the file.
    verify_enabled: bool | None = None
    # May deploy create a missing service? `--create` (CI_ECS_CREATE); load_config makes it True when the file
    # describes the service (a `service:` section or a `services:` list), False when only flags name it.
    # None (a Config built by a library caller): yes.
    create: bool | None = None

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not NAME_255.match(value):
            raise ValueError(f"{value!r} is not a valid cluster name (letters, digits, _ and -)")
        return value

    @field_validator("cluster_capacity_providers")
    @classmethod
    def _capacity_providers(cls, value: list[str]) -> list[str]:
        # A capacity provider's name: "Up to 255 characters ... letters (both upper and lowercase letters),
        # numbers, underscores (_), and hyphens (-). The name can't be prefixed with "aws", "ecs", or "fargate""
        # (ECS API reference, CreateCapacityProvider), except AWS's own FARGATE and FARGATE_SPOT.
        for name in value:
            if not NAME_255.match(name):
                raise ValueError(f"{name!r} is not a capacity provider name (letters, digits, _ and -)")
            if name not in ("FARGATE", "FARGATE_SPOT") and name.lower().startswith(("aws", "ecs", "fargate")):
                raise ValueError(f"{name!r} is not a capacity provider: names starting with aws, ecs or fargate "
                                 "are AWS's own (FARGATE, FARGATE_SPOT)")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"capacity providers must be unique (repeated: {', '.join(repeated)})")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
            raise ValueError(f"{value!r} is not an AWS region name like us-east-1")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError(f"{value!r} is not an http(s) URL with a host, like http://127.0.0.1:4566")
        if value is not None:
            # A password in the URL (http://user:PASSWORD@host) is masked wherever the URL or the password alone
            # would be printed (redact's URL shape covers the first, registering it the second).
            register_secret(urllib.parse.urlsplit(value).password)
        return value

    @field_validator("image_uri")
    @classmethod
    def _image_uri(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image_ref(value)
        return value

    @field_validator("assume_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", value):
            raise ValueError(f"{value!r} is not an IAM role ARN")
        return value

    def targets(self) -> list[ServiceEntry]:
        """The task + service pairs to deploy: the top-level pair, or the `services:` list.

        With a `services:` list, a service name from the flags (`--service`) picks that one entry.
        """
        if not self.services:
            if self.task is None:
                raise ConfigError("task is required (containers or a native task definition file)", key="task")
            return [ServiceEntry.model_construct(task=self.task, service=self.service, verify=self.verify)]
        if self.service.name:
            return [entry for entry in self.services if entry.service.name == self.service.name]
        return list(self.services)

    def verify_for(self, entry: ServiceEntry) -> VerifyConfig | None:
        """The access check for `entry`: its `verify`, with `--verify` (defaults) / `--no-verify` applied."""
        if self.verify_enabled is False:
            return None
        if self.verify_enabled and entry.verify is None:
            return VerifyConfig()
        return entry.verify

    @model_validator(mode="after")
    def _deployable(self, info: ValidationInfo) -> Config:
        purpose = (info.context or {}).get("purpose")
        if purpose in ("push", "service"):
            # `ci-ecs push` needs only the repository and the image (checked where it pushes); `ci-ecs continue`
            # only the cluster and the service's name.
            return self
        if self.express is not None:
            self._check_express()
            return self
        if purpose == "register":  # `ci-ecs register`: task definitions only, no service needed
            self._check_tag()
            if self.task is None and not self.services:
                raise ValueError("task is required (containers, a native task definition file or a family)")
            for entry in self.targets():
                self._check_target(entry)
            return self
        if self.services:
            if self.task is not None:
                raise ValueError("give task + service, or a services list, not both")
            settings = sorted(self.service.model_fields_set - {"name"})
            if settings:
                raise ValueError(f"with a services list, set service.{settings[0]} in each entry")
            if self.verify is not None:
                raise ValueError("with a services list, set verify in each entry")
            names = [entry.service.name for entry in self.services]
            for index, name in enumerate(names):
                if not name:
                    raise ValueError(f"services[{index}].service.name is required")
            repeated = sorted({n for n in names if n and names.count(n) > 1})
            if repeated:
                raise ValueError(f"service names must be unique (repeated: {', '.join(repeated)})")
            if self.service.name and self.service.name not in names:
                raise ValueError(f"no service named {self.service.name!r} in services ({', '.join(map(str, names))})")
        else:
            if not self.service.name:
                raise ValueError("service.name is required (in the file, CI_ECS_SERVICE or --service)")
            if self.task is None:
                raise ValueError("task is required (containers or a native task definition file)")
        self._check_tag()
        for entry in self.targets():
            self._check_target(entry)
        return self

    def _check_express(self) -> None:
        """`express:` replaces task + service: both given is an error naming the keys."""
        given = [key for key, present in (("task", self.task is not None), ("services", bool(self.services)),
                                          ("service", bool(self.service.model_fields_set - {"name"})))
                 if present]
        if given:
            raise ValueError(f"express replaces task and service: remove {' and '.join(given)}, or remove express")
        assert self.express is not None
        if self.express.cluster and "cluster" in self.model_fields_set and self.express.cluster != self.cluster:
            raise ValueError(f"express.cluster {self.express.cluster!r} and cluster {self.cluster!r} differ: "
                             "give one")
        if self.service.name and self.service.name != self.express.service_name:
            raise ValueError(f"service name {self.service.name!r} (--service / CI_ECS_SERVICE) is not "
                             f"express.service_name {self.express.service_name!r}")
        if not self.express.primary_container.image and not self.image_uri and not self.repository:
            raise ValueError("express.primary_container.image is required (or repository + image.tag, or --image)")
        self._check_tag()

    def verify_for_express(self) -> VerifyConfig | None:
        """The access check of an Express service's URL: `verify`, with `--verify` / `--no-verify` applied."""
        if self.verify_enabled is False:
            return None
        return self.verify if self.verify is not None or not self.verify_enabled else VerifyConfig()

    def _check_tag(self) -> None:
        """A tag nothing uses is an error, not a silent no-op: `--tag` (CI_ECS_IMAGE_TAG) names the image in the
        config's repository (`<repositoryUri>:<tag>`, built, pushed or copied there); without a repository the
        deploy would ship the unchanged image and report success."""
        if self.image.tag and self.repository is None:
            raise ValueError(f"image.tag (--tag / CI_ECS_IMAGE_TAG) is {self.image.tag!r}, but nothing uses a tag: "
                             "the config has no repository to build, push or deploy from (give the image with "
                             "--image, or add a repository)")

    def _check_target(self, entry: ServiceEntry) -> None:
        needs_image = any(c.image is None and c.name not in entry.task.images for c in entry.task.containers)
        if entry.task.pinned_revision() and self.image_uri:
            raise ValueError(f"task definition {entry.task.definition} is one revision, deployed as is: "
                             "it takes no image (give the family to change it)")
        if needs_image and not self.image_uri and not self.repository:
            raise ValueError("a container has no image: set its image, or repository + image.tag, or --image")
        if self.repository and not self.image_uri and needs_image and not (
                self.image.tag or self.image.local or self.image.source or self.image.build):
            raise ValueError("image.tag is required to deploy from the repository (or CI_ECS_IMAGE_TAG / --tag)")
        names = {c.name for c in entry.task.containers}
        for lb in entry.service.load_balancers:
            if names and lb.container_name not in names:
                raise ValueError(f"load balancer container_name {lb.container_name!r} is not a container")
