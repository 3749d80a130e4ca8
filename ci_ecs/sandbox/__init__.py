"""A local ECS you can deploy to: moto's AWS APIs plus a scheduler, awsvpc networking, an ECR
registry, the deployment circuit breaker and fault injection (see ``server.Sandbox``).

Needs the ``sandbox`` extra (moto[server]); the registry needs the ``docker-registry`` program.
"""

from .faults import Faults
from .runtimes.simulated import CRASH_AFTER_LABEL, CRASH_LABEL
from .server import Sandbox, serve_forever

__all__ = ["CRASH_AFTER_LABEL", "CRASH_LABEL", "Faults", "Sandbox", "serve_forever"]
