"""Rempart's log file: stdlib `logging` from every package to `state_dir/rempart.log`.

`--log-level` (or `REMPART_LOG_LEVEL`, or `log_level` in config.toml) sets how much; the
default, `warning`, keeps the file quiet. Modules log with `logging.getLogger(__name__)`;
only our own packages' loggers get the file handler, so a library's debug chatter stays out
unless it is asked for. The log is for people debugging: nothing reads it back.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys

from agent.events import ErrorEvent, Event, FinishEvent, SessionStarted, ToolResultEvent
from agent.settings import load_settings

PACKAGES = ("agent", "policies", "sandbox", "tui", "rempart")
MAX_BYTES = 5 << 20
BACKUPS = 3
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "rempart-file"

log = logging.getLogger(__name__)


def configure_logging(level: str | None = None) -> None:
    """Send our packages' records at `level` (default: the settings') to the log file.

    Idempotent: a second call replaces the handler. A log folder that cannot be created is
    said once on stderr and the command goes on without a log file.
    """
    settings = load_settings()
    chosen = (level or settings.log_level).upper()
    path = settings.log_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        print(f"rempart: no log file ({exc})", file=sys.stderr)
        handler = logging.NullHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT))
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(chosen)
        logger.propagate = False


def log_event(event: Event) -> None:
    """A session listener: the milestones of a session, for the log file."""
    match event:
        case SessionStarted():
            log.info(
                "session %s started: model %s at %s, workspace %s, layers %s",
                event.session_id,
                event.model,
                event.base_url,
                event.workspace,
                "; ".join(event.policy_layers),
            )
        case ToolResultEvent():
            log.debug(
                "session %s: %s -> %s in %s ms",
                event.session_id,
                event.tool,
                "error" if event.is_error else "ok",
                event.duration_ms,
            )
        case ErrorEvent():
            log.warning("session %s: %s (%s)", event.session_id, event.message, event.hint)
        case FinishEvent():
            log.info(
                "session %s ended %s after %d steps", event.session_id, event.status, event.steps
            )
        case _:
            return
