"""Errors a person must fix, raised by the sandbox (rendered once at the edge)."""

from __future__ import annotations

from policies.errors import RempartError
from policies.exitcodes import Exit


class SandboxError(RempartError):
    """Something went wrong creating or talking to a sandbox (exit 125, like `docker run`)."""

    exit_code = Exit.SANDBOX


class DockerUnavailable(SandboxError):
    """The Docker engine cannot be reached."""


class ImageMissing(SandboxError):
    """The sandbox image has not been built."""


class ImageBuildError(SandboxError):
    """`rempart sandbox build` failed."""


class RuntimeMissing(SandboxError):
    """The policy asks for a container runtime (gVisor) the engine does not have."""


class WorkspaceError(SandboxError):
    """The workspace cannot be mounted as the policy asks (too large, missing, ...)."""


class SandboxGone(SandboxError):
    """The session's container no longer exists or stopped: start a new sandbox."""


class ExecutorError(SandboxError):
    """The in-container executor misbehaved (died mid-request, did not answer in time)."""


class SandboxRequestError(SandboxError):
    """The executor refused a request (path outside the workspace, permission denied, ...).

    The model can usually fix these: tools turn them into `is_error` results.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
