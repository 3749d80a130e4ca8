"""Following a deployment once it was started, in the order a run uses the modules:

- `follower`: which deployment to follow and its fallbacks, the failure verdict, the rollback policy (`Follower`);
- `loop`: the one poll loop every strategy is followed with, and its schedule;
- `by_id` and `service_deployment`: the two readers of one poll (DescribeServices by deployment id;
  DescribeServiceDeployments for a service deployment of any strategy);
- `state`: what ECS reports, read for a verdict (the outcome, the deployments, the stopped tasks);
- `stable`: the stable window after COMPLETED;
- `early_success`: what early success criteria change (ECS's success at a healthy percentage, a DEFERRED clean-up).
"""
