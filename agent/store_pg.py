"""Sessions, events, messages and the audit chain in PostgreSQL (`REMPART_STORE_URL`).

Same contract as the SQLite store (`agent.store.Store`): one commit per write, so what was
shown is stored. The schema is a versioned list of migrations (`MIGRATIONS`), applied in
one transaction under an advisory lock by whichever process connects first; the versions
applied are in `schema_version`. A database written by a newer Rempart is refused.
"""

from __future__ import annotations

import builtins
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from agent.audit import GENESIS
from agent.errors import SessionNotFound, StoreError
from agent.events import EVENT_ADAPTER, Event
from agent.messages import Message
from agent.store import SessionRow, redact

Connection = psycopg.Connection[tuple[Any, ...]]

# each entry: the statements that take the schema from version N to N+1 (never edit one
# that has shipped; append a new one)
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, task TEXT NOT NULL, "
        "workspace TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, "
        "created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "type TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session_id, seq))",
        "CREATE TABLE messages (session_id TEXT NOT NULL, idx INTEGER NOT NULL, "
        "body TEXT NOT NULL, PRIMARY KEY (session_id, idx))",
        # one chain: a record per seq, each prev used once (no forks), bodies as written
        "CREATE TABLE audit (seq BIGINT PRIMARY KEY CHECK (seq > 0), "
        "prev TEXT NOT NULL UNIQUE, hash TEXT NOT NULL, session TEXT NOT NULL, "
        "kind TEXT NOT NULL, body TEXT NOT NULL)",
        # the anchored head (MAC'd like the JSONL log's anchor file); appends lock this row
        "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, "
        "hash TEXT NOT NULL, key TEXT, mac TEXT)",
        f"INSERT INTO audit_head VALUES (1, 0, '{GENESIS}', NULL, NULL)",
    ),
    (
        "CREATE INDEX events_type ON events (type)",
        "CREATE INDEX audit_session ON audit (session)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_MIGRATION_LOCK = 0x52454D50  # "REMP": one advisory lock id for schema changes


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def connect(url: str) -> Connection:
    """A connection in autocommit (transactions are explicit), with timeouts."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=10,
            application_name="rempart",
            options="-c statement_timeout=60000 -c lock_timeout=30000",
        )
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to the store {redact(url)}: {first_line(exc)}",
            hint="check REMPART_STORE_URL, that the server runs and accepts this user",
        ) from exc


def migrate_schema(conn: Connection, url: str) -> int:
    """Apply the migrations this database lacks; returns the schema version."""
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
            )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            have = int(row[0]) if row else 0
            if have > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {redact(url)} has schema version {have}; this Rempart knows "
                    f"up to {SCHEMA_VERSION}",
                    hint="upgrade Rempart on this machine (a newer one migrated the store)",
                )
            for version in range(have + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement.encode())
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, time.time()))
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot prepare the store {redact(url)}: {first_line(exc)}",
            hint="the user in REMPART_STORE_URL must be allowed to create tables",
        ) from exc
    return SCHEMA_VERSION


_COLUMNS = "id, task, workspace, model, status, created, updated"


def _row(values: tuple[Any, ...]) -> SessionRow:
    return SessionRow(**dict(zip(SessionRow.model_fields, values, strict=True)))


class PgStore:
    """The sessions store in PostgreSQL; one connection, one transaction per write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = connect(url)
        self._lock = threading.Lock()  # a session writes from its loop and its workers
        try:
            migrate_schema(self._db, url)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._lock:
            try:
                with self._db.transaction():
                    yield self._db
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot write the sessions store {redact(self.url)}: {first_line(exc)}",
                    hint="check the PostgreSQL server; the session can be resumed",
                ) from exc

    def _read(self, query: str, params: tuple[Any, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(query.encode(), params).fetchall()
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot read the sessions store {redact(self.url)}: {first_line(exc)}",
                    hint="check the PostgreSQL server",
                ) from exc

    def create(self, task: str, workspace: str, model: str) -> str:
        session_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions VALUES (%s, %s, %s, %s, 'running', %s, %s)",
                (session_id, task, workspace, model, now, now),
            )
        return session_id

    def set_status(self, session_id: str, status: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE sessions SET status = %s, updated = %s WHERE id = %s",
                (status, time.time(), session_id),
            )

    def add_event(self, event: Event) -> Event:
        """Stores the event with the next sequence number; returns it numbered."""
        with self.transaction() as db:
            # the session's row, locked: two writers of one session number in turn
            db.execute("SELECT id FROM sessions WHERE id = %s FOR UPDATE", (event.session_id,))
            row = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = %s",
                (event.session_id,),
            ).fetchone()
            numbered = event.model_copy(update={"seq": int(row[0] if row else 0) + 1})
            db.execute(
                "INSERT INTO events VALUES (%s, %s, %s, %s)",
                (numbered.session_id, numbered.seq, numbered.type, numbered.model_dump_json()),
            )
            db.execute(
                "UPDATE sessions SET updated = %s WHERE id = %s", (time.time(), event.session_id)
            )
        return numbered

    def add_message(self, session_id: str, message: Message) -> None:
        with self.transaction() as db:
            db.execute("SELECT id FROM sessions WHERE id = %s FOR UPDATE", (session_id,))
            row = db.execute(
                "SELECT COALESCE(MAX(idx), -1) FROM messages WHERE session_id = %s",
                (session_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO messages VALUES (%s, %s, %s)",
                (session_id, int(row[0] if row else -1) + 1, message.model_dump_json()),
            )

    def get(self, session_id: str) -> SessionRow:
        pattern = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._read(
            f"SELECT {_COLUMNS} FROM sessions WHERE id = %s OR id LIKE %s "
            "ORDER BY created DESC LIMIT 2",
            (session_id, f"{pattern}%"),
        )
        if len(rows) != 1:
            problem = "matches several sessions" if rows else "is not a session"
            raise SessionNotFound(f"{session_id!r} {problem}", hint="see `rempart sessions list`")
        return _row(rows[0])

    def list(self, limit: int = 50) -> builtins.list[SessionRow]:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM sessions ORDER BY created DESC LIMIT %s", (limit,)
        )
        return [_row(r) for r in rows]

    def last(self) -> SessionRow:
        """The session most recently active (`sessions resume --last`)."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM sessions ORDER BY updated DESC, created DESC LIMIT 1"
        )
        if not rows:
            raise SessionNotFound("there is no session yet", hint="start one with `rempart run`")
        return _row(rows[0])

    def delete(self, session_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM events WHERE session_id = %s", (session_id,))
            db.execute("DELETE FROM messages WHERE session_id = %s", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = %s", (session_id,))

    def event_counts(self, types: builtins.list[str]) -> dict[str, dict[str, int]]:
        """session id -> event type -> how many (only the given types)."""
        rows = self._read(
            "SELECT session_id, type, COUNT(*) FROM events WHERE type = ANY(%s) "
            "GROUP BY session_id, type",
            (types,),
        )
        out: dict[str, dict[str, int]] = {}
        for session_id, kind, count in rows:
            out.setdefault(str(session_id), {})[str(kind)] = int(count)
        return out

    def events(self, session_id: str) -> builtins.list[Event]:
        rows = self._read(
            "SELECT body FROM events WHERE session_id = %s ORDER BY seq", (session_id,)
        )
        return [EVENT_ADAPTER.validate_json(body) for (body,) in rows]

    def messages(self, session_id: str) -> builtins.list[Message]:
        rows = self._read(
            "SELECT body FROM messages WHERE session_id = %s ORDER BY idx", (session_id,)
        )
        return [Message.model_validate_json(body) for (body,) in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (what `rempart store migrate` compares)."""
        out = {}
        for table in ("sessions", "events", "messages", "audit"):
            rows = self._read(f"SELECT COUNT(*) FROM {table}")
            out[table] = int(rows[0][0])
        return out
