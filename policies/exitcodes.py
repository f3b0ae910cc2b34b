"""The exit codes of every `rempart` command: one table, so scripts can rely on them.

It lives in `policies/` for the same reason as `RempartError`: every package's CLI verbs
use it, and `policies` imports nothing else of ours. README.md shows the table; a test
drives each code.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # success: the task's check passed (or, with no check known, the model finished)
    FAILED = 1  # the task failed / a check the command ran said no (`policy check`, `verify`)
    USAGE = 2  # bad arguments (argparse's own code)
    LIMIT = 3  # a step, token or time budget ran out
    STOPPED = 4  # stopped by the person
    CHECK_FAILED = 5  # the model finished, but a check failed (the project's, or the task's names)
    BLOCKED = 6  # the policy refused what the task needed, and the task did not finish
    MODEL_UNREACHABLE = 7  # the model server did not answer
    ERROR = 8  # a problem for a person to fix: configuration, policy file, store, ...
    SANDBOX = 125  # the sandbox could not run (engine, image, container gone), like `docker run`
    CANNOT_INVOKE = 126  # `sandbox exec`: the command cannot be invoked
    NOT_FOUND = 127  # `sandbox exec`: the command was not found
    INTERRUPTED = 130  # Ctrl+C


MEANING: dict[Exit, str] = {
    Exit.OK: "success: the task finished (its check passed, when one is known); a check said yes",
    Exit.FAILED: "the task failed, or a check the command ran said no",
    Exit.USAGE: "usage error (bad arguments)",
    Exit.LIMIT: "a step, token or time limit ran out",
    Exit.STOPPED: "stopped by you",
    Exit.CHECK_FAILED: "the model finished, but the project's check failed, "
    "or (no test passed) a name the task gave is missing",
    Exit.BLOCKED: "the policy refused what the task needed, and the task did not finish",
    Exit.MODEL_UNREACHABLE: "the model server did not answer",
    Exit.ERROR: "a problem for you to fix: configuration, a policy file, the session store",
    Exit.SANDBOX: "the sandbox could not run (engine, image, container), like docker run",
    Exit.CANNOT_INVOKE: "sandbox exec: the command cannot be invoked",
    Exit.NOT_FOUND: "sandbox exec: the command was not found",
    Exit.INTERRUPTED: "interrupted (Ctrl+C)",
}
