"""The agent's errors a person must fix (rendered once at the edge, by `rempart.cli`).

Each carries its exit code (`policies.exitcodes.Exit`): a model server that does not answer
is 7, everything else here is 8 (a problem for a person: configuration, files, the store).
"""

from __future__ import annotations

from policies.errors import RempartError
from policies.exitcodes import Exit


class ModelUnavailable(RempartError):
    """The model server is down, died mid-stream, or refused the request."""

    exit_code = Exit.MODEL_UNREACHABLE


class ContextOverflow(ModelUnavailable):
    """The server refused the prompt as longer than its context window (HTTP 400): the
    loop cuts the history further and asks again. When it still does not fit, the session
    ends as an error (the server answered: it is not unreachable)."""

    exit_code = Exit.ERROR


class UntrustedProjectPolicy(RempartError):
    """The workspace has a policy file the user has not trusted (or that changed since)."""


class McpError(RempartError):
    """An MCP server could not be started or configured."""


class SessionNotFound(RempartError):
    """No session has that id."""


class StoreError(RempartError):
    """The sessions store cannot be written (disk full, file damaged)."""


class ConfigError(RempartError):
    """The configuration file or an environment variable does not hold a valid setting."""


class EngineError(RempartError):
    """The model server could not be installed, started or reached."""


class ProfileError(RempartError):
    """A serving profile is missing or malformed."""


class FetchError(RempartError):
    """A download or conversion step failed."""


class ModelIntegrityError(RempartError):
    """A downloaded part or the assembled file does not match its pinned digest."""
