"""`ci-ecs preview up|down|list|gc`: a service per pull/merge request (ci_ecs/preview/).

- naming: ids, names, tags, host names and durations (pure);
- listener: the preview's target group and host-header rule on a shared listener;
- probe: `verify` through the listener's load balancer with the preview's host name;
- up: the preview deployed (ci_ecs.deploy with the preview's names, tags and target group);
- down: previews listed, removed (only what carries the preview's tag), and collected when stale.
"""
