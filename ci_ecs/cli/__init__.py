"""The `ci-ecs` command: parse, build the config, call the library, print the result, map errors to exit codes.

Heavy imports (boto3, pydantic) happen inside the commands so `ci-ecs --help` starts fast.

The modules, in the order a run goes through them: `options` (every shared option, defined once), `settings`
(flags and variables -> config overrides, the one way to load the config), one module per command group
(`deploy`, `publish`, `lifecycle`, `run_task`, `local`, `jenkins`, `iam_policy`), `runner` (logging, signals
as a cancel, every error -> its exit code, in one place) and `app` (the `main` group that holds them).
Results are printed by ci_ecs.output.emit.
"""

from __future__ import annotations

from ci_ecs.cli.app import main
from ci_ecs.cli.runner import report_error as _report_error

__all__ = ["_report_error", "main"]
