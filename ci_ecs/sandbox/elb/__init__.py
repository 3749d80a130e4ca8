"""Load balancers that forward: the sandbox's Application Load Balancers answer HTTP.

- Each application load balancer gets a loopback address of its own (127.R.x.y); its DNSName is
  that address, so ``curl http://DNSNAME/`` reaches it without any /etc/hosts entry.
- Each HTTP/HTTPS listener listens on its port there (``proxy``) and routes every request by the
  listener's rules (``routing``) to a healthy target of the chosen target group.
- Targets are health-checked with their target group's settings (``health``); DescribeTargetHealth
  reports the results; deregistered targets drain for the deregistration delay.
- ECS's side (``Forwarder.after_advance`` / ``before_stop``, called by the scheduler): a service's
  RUNNING task is registered in its target groups, counts as healthy once the load balancer says
  so, and is deregistered (drained) before its containers are stopped.

Only loopback addresses are ever connected to: a task of the simulated runtime (or any target
address outside 127.0.0.0/8) is never contacted; the forwarder answers 503 for it.
"""

from __future__ import annotations

from typing import Any

from ..context import SandboxContext
from . import moto_patches, state
from .forwarder import Forwarder

__all__ = ["Forwarder", "after_advance", "before_stop", "start", "stop"]


def start(rt: SandboxContext) -> Forwarder:
    """Install the ELBv2 patches and start the load balancers' health loop for this sandbox."""
    forwarder = Forwarder(rt)
    moto_patches.install()
    state.ACTIVE = forwarder
    forwarder.start()
    return forwarder


def stop(forwarder: Forwarder | None) -> None:
    """Close the listeners, stop the health loop and remove the patches (safe with None)."""
    if forwarder is None:
        return
    forwarder.stop()
    if state.ACTIVE is forwarder:
        state.ACTIVE = None
        moto_patches.uninstall()


def after_advance(task: Any, outcome: str | None) -> str | None:
    """The scheduler's hook after a task's lifecycle step (see ``Forwarder.after_advance``)."""
    forwarder = state.ACTIVE
    return forwarder.after_advance(task, outcome) if forwarder is not None else outcome


def before_stop(task: Any, reason: str, stop_code: str) -> bool:
    """The scheduler's hook before a task is stopped; True when the stop waits for draining."""
    forwarder = state.ACTIVE
    return forwarder.before_stop(task, reason, stop_code) if forwarder is not None else False
