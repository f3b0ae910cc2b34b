"""Hardened Docker sandboxes that make the policy physically true (see DESIGN.md)."""

from sandbox.errors import (
    DockerUnavailable,
    ExecutorError,
    ImageBuildError,
    ImageMissing,
    SandboxError,
    SandboxGone,
    SandboxRequestError,
    WorkspaceError,
)
from sandbox.sandbox import FileEntry, RunResult, Sandbox
from sandbox.spec import SandboxLimits, SandboxSpec

__all__ = [
    "DockerUnavailable",
    "ExecutorError",
    "FileEntry",
    "ImageBuildError",
    "ImageMissing",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxGone",
    "SandboxLimits",
    "SandboxRequestError",
    "SandboxSpec",
    "WorkspaceError",
]
