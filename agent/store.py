"""Sessions in SQLite: every event and every chat message, written as it happens.

WAL mode and one commit per write, so `kill -9` loses nothing that was already shown.
One file under the data dir; many processes may share it. `SessionStore` is the seam:
`open_store` gives this one (the embedded default) or PostgreSQL (`agent.store_pg`) when
`REMPART_STORE_URL` names a server.
"""

from __future__ import annotations

import builtins
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from agent.errors import SessionNotFound, StoreError
from agent.events import EVENT_ADAPTER, Event
from agent.messages import Message

if TYPE_CHECKING:
    from agent.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, task TEXT NOT NULL, workspace TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL, idx INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (session_id, idx)
);
"""


class SessionRow(BaseModel):
    id: str
    task: str
    workspace: str
    model: str
    status: str
    created: float
    updated: float


class SessionStore(Protocol):
    """Sessions, their events and chat messages; SQLite (`Store`) or PostgreSQL."""

    def close(self) -> None: ...
    def create(self, task: str, workspace: str, model: str) -> str: ...
    def set_status(self, session_id: str, status: str) -> None: ...
    def add_event(self, event: Event) -> Event: ...
    def add_message(self, session_id: str, message: Message) -> None: ...
    def get(self, session_id: str) -> SessionRow: ...
    def list(self, limit: int = 50) -> builtins.list[SessionRow]: ...
    def last(self) -> SessionRow: ...
    def delete(self, session_id: str) -> None: ...
    def event_counts(self, types: builtins.list[str]) -> dict[str, dict[str, int]]: ...
    def events(self, session_id: str) -> builtins.list[Event]: ...
    def messages(self, session_id: str) -> builtins.list[Message]: ...


def redact(url: str) -> str:
    """A store URL without its password (for messages and `config show`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(settings: Settings) -> SessionStore:
    """The configured store: PostgreSQL when `store_url` is set, else the SQLite file."""
    if settings.store_url:
        from agent.store_pg import PgStore

        return PgStore(settings.store_url)
    return Store(settings.sessions_db)


class Store:
    """The SQLite store (one file, the embedded default)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.rollback()
            raise StoreError(
                f"cannot write the sessions store {self.path}: {exc}",
                hint="free space in Rempart's data dir; the session can be resumed",
            ) from exc

    def create(self, task: str, workspace: str, model: str) -> str:
        session_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (session_id, task, workspace, model, now, now),
            )
        return session_id

    def set_status(self, session_id: str, status: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET status = ?, updated = ? WHERE id = ?",
                (status, time.time(), session_id),
            )

    def add_event(self, event: Event) -> Event:
        """Stores the event with the next sequence number; returns it numbered."""
        with self._tx() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?",
                (event.session_id,),
            ).fetchone()
            numbered = event.model_copy(update={"seq": int(row[0]) + 1})
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?)",
                (numbered.session_id, numbered.seq, numbered.type, numbered.model_dump_json()),
            )
            db.execute(
                "UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), event.session_id)
            )
        return numbered

    def add_message(self, session_id: str, message: Message) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(idx), -1) FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?)",
                (session_id, int(row[0]) + 1, message.model_dump_json()),
            )

    def get(self, session_id: str) -> SessionRow:
        row = self._db.execute(
            "SELECT id, task, workspace, model, status, created, updated FROM sessions "
            "WHERE id = ? OR id LIKE ? ORDER BY created DESC LIMIT 2",
            (session_id, f"{session_id}%"),
        ).fetchall()
        if len(row) != 1:
            problem = "matches several sessions" if row else "is not a session"
            raise SessionNotFound(f"{session_id!r} {problem}", hint="see `rempart sessions list`")
        return SessionRow(**dict(zip(SessionRow.model_fields, row[0], strict=True)))

    def list(self, limit: int = 50) -> list[SessionRow]:
        rows = self._db.execute(
            "SELECT id, task, workspace, model, status, created, updated FROM sessions "
            "ORDER BY created DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [SessionRow(**dict(zip(SessionRow.model_fields, r, strict=True))) for r in rows]

    def last(self) -> SessionRow:
        """The session most recently active (`sessions resume --last`)."""
        row = self._db.execute(
            "SELECT id, task, workspace, model, status, created, updated FROM sessions "
            "ORDER BY updated DESC, created DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise SessionNotFound("there is no session yet", hint="start one with `rempart run`")
        return SessionRow(**dict(zip(SessionRow.model_fields, row, strict=True)))

    def delete(self, session_id: str) -> None:
        with self._tx() as db:
            for table, key in (
                ("events", "session_id"),
                ("messages", "session_id"),
                ("sessions", "id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {key} = ?", (session_id,))

    def event_counts(self, types: builtins.list[str]) -> dict[str, dict[str, int]]:
        """session id -> event type -> how many (only the given types)."""
        marks = ",".join("?" for _ in types)
        rows = self._db.execute(
            f"SELECT session_id, type, COUNT(*) FROM events WHERE type IN ({marks}) "
            "GROUP BY session_id, type",
            types,
        ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for session_id, kind, count in rows:
            out.setdefault(str(session_id), {})[str(kind)] = int(count)
        return out

    def events(self, session_id: str) -> builtins.list[Event]:
        rows = self._db.execute(
            "SELECT body FROM events WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
        return [EVENT_ADAPTER.validate_json(body) for (body,) in rows]

    def messages(self, session_id: str) -> builtins.list[Message]:
        rows = self._db.execute(
            "SELECT body FROM messages WHERE session_id = ? ORDER BY idx", (session_id,)
        ).fetchall()
        return [Message.model_validate_json(body) for (body,) in rows]

    def rows(self, table: str) -> builtins.list[tuple[object, ...]]:
        """Every row of `table` in key order (`rempart store migrate` copies them)."""
        order = {"sessions": "id", "events": "session_id, seq", "messages": "session_id, idx"}
        if table not in order:
            raise ValueError(f"no table {table!r} in the sessions store")
        return self._db.execute(f"SELECT * FROM {table} ORDER BY {order[table]}").fetchall()

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {
            table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("sessions", "events", "messages")
        }
