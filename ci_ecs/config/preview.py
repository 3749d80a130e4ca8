"""`preview:` how `ci-ecs preview up` puts each preview behind a shared Application Load Balancer listener: a
target group of its own and a host-header rule at a free priority of a range (ci_ecs/preview/)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from ci_ecs.config.base import StrictModel

# ELB API reference, CreateRule `Priority`: "The rule priority. A listener can't have multiple rules with the
# same priority." Valid Range: Minimum value of 1. Maximum value of 50000.
MIN_PRIORITY, MAX_PRIORITY = 1, 50000
LISTENER_ARN = (r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/[A-Za-z0-9-]+/[A-Za-z0-9]+/"
                r"[A-Za-z0-9]+$")


class PriorityRange(StrictModel):
    """`priority: {min: 1000, max: 1999}`: the rule priorities previews may take on the listener (inclusive)."""

    min: int = Field(default=MIN_PRIORITY, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    max: int = Field(default=MAX_PRIORITY, ge=MIN_PRIORITY, le=MAX_PRIORITY)

    @model_validator(mode="after")
    def _order(self) -> PriorityRange:
        if self.max < self.min:
            raise ValueError(f"priority.max {self.max} is below priority.min {self.min}")
        return self


class PreviewConfig(StrictModel):
    """`preview:` the shared listener, the host name template and the previews' own settings.

    Without `listener_arn` (and `host`) a preview runs without a load balancer; its URL is then its task's
    public IP and port.
    """

    # An Application Load Balancer's listener (HTTP or HTTPS) that previews add their host-header rule to.
    listener_arn: str | None = Field(default=None, pattern=LISTENER_ARN)
    # The preview's host name; `{id}` is replaced by the preview id: pr-{id}.preview.example.com.
    host: str | None = None
    priority: PriorityRange = Field(default_factory=PriorityRange)
    # The preview service's desired count (default: the service's own, else 1).
    desired_count: int | None = Field(default=None, ge=0)
    # Seconds a stopped preview task drains before it leaves the target group (the target group attribute
    # deregistration_delay.timeout_seconds, 0-3600 per the ELB API reference; ELB's default is 300): `down` waits
    # for the service's tasks to be gone, and nobody needs a preview's connections drained for five minutes.
    deregistration_delay: int = Field(default=10, ge=0, le=3600)
    # `ci-ecs preview gc` without --older-than removes previews older than this.
    ttl_hours: float = Field(default=72.0, gt=0, le=24 * 366)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and "{id}" not in value:
            raise ValueError(f"{value!r} has no {{id}}: every preview needs a host name of its own "
                             "(e.g. pr-{id}.preview.example.com)")
        return value

    @model_validator(mode="after")
    def _together(self) -> PreviewConfig:
        if bool(self.listener_arn) != bool(self.host):
            given, missing = ("listener_arn", "host") if self.listener_arn else ("host", "listener_arn")
            raise ValueError(f"preview.{given} needs preview.{missing} (a host-header rule on a shared listener)")
        return self
