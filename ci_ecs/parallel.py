"""The services of one `services:` deploy run side by side: at most `deploy.parallelism` at a time, each one's
error kept apart from the others' results, and a cancel ending them all."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from ci_ecs.config import ServiceEntry
from ci_ecs.errors import CiEcsError, DeployCancelledError
from ci_ecs.results import DeployResult


def each_service(targets: list[ServiceEntry], run: Callable[[ServiceEntry], DeployResult], *, parallelism: int,
                 cancel: Callable[[], None]) -> tuple[dict[str, DeployResult], dict[str, CiEcsError]]:
    """`run` for each target, at most `parallelism` at a time: (results, errors) by service name.

    A service's CiEcsError is its own (its result, when the error carries one, is kept); a cancel
    (DeployCancelledError) or any other exception calls `cancel` (every wait stops at its next sleep), drops what
    has not started and is raised at once.
    """
    outcomes: dict[str, DeployResult] = {}
    errors: dict[str, CiEcsError] = {}
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="ci-ecs")
    try:
        futures = {pool.submit(run, target): str(target.service.name) for target in targets}
        for future in as_completed(futures):
            name = futures[future]
            try:
                outcomes[name] = future.result()
            except DeployCancelledError:
                raise
            except CiEcsError as exc:
                errors[name] = exc
                if exc.result:
                    outcomes[name] = DeployResult(**exc.result)
    except BaseException:
        cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return outcomes, errors
