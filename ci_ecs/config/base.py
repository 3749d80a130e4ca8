"""The base of every config model: unknown keys refused, frozen, no bool/number mix-ups."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from ci_ecs.config.values import scalar_types


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number_mixups(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `desired_count: true` as 1 and `assign_public_ip: "yes"` (or 1,
        # "on", "t") as True. A count is never a boolean; and a switch is a YAML boolean, because
        # that is what YAML users write and what a typo (`wait: "flase"`, `assign_public_ip: 0.5`)
        # must not silently become. Numbers may still be strings ("2"), as env values are.
        kinds = scalar_types(cls.model_fields[info.field_name or ""].annotation)
        if not kinds or value is None:
            return value
        if bool in kinds and not isinstance(value, bool):
            raise ValueError(f"must be true or false (a YAML boolean), not {json.dumps(value, default=str)[:60]}")
        if bool not in kinds and isinstance(value, bool):
            raise ValueError(f"must be a number, not {json.dumps(value)}")
        return value
