"""Small builders shared by the core tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

BASE_CONFIG: dict[str, Any] = {
    "region": "us-east-1",
    "cluster": "demo",
    "task": {
        "family": "hello",
        "cpu": "256",
        "memory": "512",
        "network_mode": "awsvpc",
        "requires_compatibilities": ["FARGATE"],
        # Fargate needs it for private ECR images, awslogs and secrets (rules.check_execution_role).
        "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containers": [{
            "name": "web",
            "image": "public.ecr.aws/nginx/nginx:1.27",
            "port_mappings": [{"container_port": 80}],
            "environment": {"GREETING": "hello"},
        }],
    },
    "service": {
        "name": "hello",
        "desired_count": 2,
        "launch_type": "FARGATE",
        "assign_public_ip": True,
    },
    "deploy": {"wait": False},
}


def config(**changes: Any) -> dict[str, Any]:
    """BASE_CONFIG with dotted-key changes: config(**{"service.desired_count": 3})."""
    data = copy.deepcopy(BASE_CONFIG)
    for dotted, value in changes.items():
        target = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return data


def write(path: Path, data: dict[str, Any] | str) -> Path:
    """Write a config file (a mapping as YAML, or raw text)."""
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path
