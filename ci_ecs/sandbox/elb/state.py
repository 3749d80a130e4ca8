"""The running sandbox's forwarder (one sandbox per process, as ``runtime.ACTIVE``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .forwarder import Forwarder

ACTIVE: Forwarder | None = None


def active() -> Forwarder | None:
    """The forwarder of the sandbox running in this process, or None."""
    return ACTIVE
