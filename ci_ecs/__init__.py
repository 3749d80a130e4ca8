"""ci-ecs: publish a Docker container to Amazon ECS from any CI system, idempotently."""

__version__ = "0.1.0"
