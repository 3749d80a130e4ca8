"""What `ci-ecs push` does (load the config, call `image.push_image`), timing the call itself: the clock
starts once the config is loaded, before the boto3 session, the ECR client and the Docker SDK exist.

python bench/push/ci_ecs_push.py ci-ecs.yml
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path


def main(path: str) -> int:
    from ci_ecs.aws import ClientFactory, aws_settings
    from ci_ecs.config import load_config
    from ci_ecs.errors import CiEcsError
    from ci_ecs.image import push_image
    from ci_ecs.output import ProgressHandler
    from ci_ecs.redact import RedactingFilter

    handler = ProgressHandler()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("ci_ecs")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        config = load_config(path, {}, require_file=True, purpose="push")  # as `ci-ecs push` loads it
        # The clock includes the boto3 session, the ECR client and the Docker SDK (push_image creates them).
        started = time.perf_counter()
        factory = ClientFactory(aws_settings(config))
        image = push_image(config, factory, base_dir=Path(path).resolve().parent)
    except CiEcsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    # The library's own time: clients, ECR calls, engine calls and the push, without interpreter start-up,
    # the CLI's imports and config loading.
    seconds = time.perf_counter() - started
    print(json.dumps({"imageUri": image.uri, "imageDigest": image.digest, "imagePushed": image.pushed,
                      "seconds": seconds}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
