"""The audit chain in PostgreSQL: one chain per store, shared by every writer.

An append is one transaction: lock the head row (`SELECT ... FOR UPDATE` on `audit_head`),
check that the last record is the head, insert record head+1 (seq is the primary key and
each prev is UNIQUE: no fork can be stored), move the head (MAC'd with the audit key, as
the JSONL log's anchor file), commit. Writers in other processes or on other machines wait
for the head's lock, so the chain has no forks and no gaps. A record that cannot be
written raises `AuditWriteError` and nothing is left behind (the transaction rolls back).

The key stays a file (`REMPART_AUDIT_KEY_FILE`): every machine writing one store needs the
same key. `rempart audit verify` reads the rows in order as JSON lines, through the same
code as the JSONL file (`agent.audit_verify.verify_log`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from agent.audit import (
    AuditRecord,
    AuditTampered,
    AuditWriteError,
    Kind,
    VerifyResult,
    build_record,
    export,
)
from agent.audit_anchor import Anchor, AuditKey
from agent.errors import StoreError
from agent.store import redact
from agent.store_pg import Connection, connect, first_line, migrate_schema


class PgAuditLog:
    """The audit table of the store at `url`, keyed by the key in `key_file`."""

    def __init__(self, url: str, key_file: Path, sink: Path | None = None) -> None:
        self.url = url
        self.key_file = key_file
        self.sink = sink
        self._key: AuditKey | None = None
        self._ready = False

    @property
    def where(self) -> str:
        return f"{redact(self.url)} (table audit)"

    @property
    def anchor_where(self) -> str:
        return f"{redact(self.url)} (table audit_head)"

    @property
    def key_where(self) -> str:
        return str(self.key_file)

    def key(self, create: bool = False) -> AuditKey | None:
        if self._key is None:
            self._key = AuditKey.load(self.key_file, create=create)
        return self._key

    def _connect(self) -> Connection:
        """A connection per call: no connection outlives its use (nothing to close)."""
        conn = connect(self.url)
        if not self._ready:
            try:
                migrate_schema(conn, self.url)
            except BaseException:
                conn.close()
                raise
            self._ready = True
        return conn

    def append(self, session: str, kind: Kind, **fields: Any) -> AuditRecord:
        key = self.key(create=True)
        assert key is not None
        try:
            with self._connect() as conn, conn.transaction():
                record = self._append_locked(conn, key, session, kind, fields)
        except psycopg.Error as exc:
            raise AuditWriteError(
                f"cannot write the audit record ({redact(self.url)}: {first_line(exc)})",
                hint="check the PostgreSQL server; nothing was done without its record",
            ) from exc
        export(self.sink, record.seq, record.model_dump_json(exclude_none=True).encode() + b"\n")
        return record

    def _append_locked(
        self, conn: Connection, key: AuditKey, session: str, kind: Kind, fields: dict[str, Any]
    ) -> AuditRecord:
        head = conn.execute(
            "SELECT seq, hash, key, mac FROM audit_head WHERE id = 1 FOR UPDATE"
        ).fetchone()
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (int(last[0]), str(last[1])) if last else (0, "0" * 64)
        _check_head(head, seq, prev, key, self)
        record = build_record(key, seq + 1, prev, session, kind, fields)
        conn.execute(
            "INSERT INTO audit (seq, prev, hash, session, kind, body) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                record.seq,
                record.prev,
                record.hash,
                record.session,
                record.kind,
                record.model_dump_json(exclude_none=True),
            ),
        )
        anchor = Anchor(seq=record.seq, hash=record.hash, key=key.id).signed(key)
        conn.execute(
            "UPDATE audit_head SET seq = %s, hash = %s, key = %s, mac = %s WHERE id = 1",
            (anchor.seq, anchor.hash, anchor.key, anchor.mac),
        )
        return record

    def records(self) -> Iterator[AuditRecord]:
        for line in self.raw_lines():
            yield AuditRecord.model_validate_json(line)

    def raw_lines(self) -> Iterator[bytes]:
        try:
            yield from self._rows()
        except psycopg.Error as exc:
            raise _read_error(self.url, exc) from exc

    def _rows(self) -> Iterator[bytes]:
        with (
            self._connect() as conn,
            conn.transaction(),
            conn.cursor(name="audit_rows") as rows,
        ):
            rows.itersize = 2000
            rows.execute("SELECT body FROM audit ORDER BY seq")
            for (body,) in rows:
                yield str(body).encode() + b"\n"

    def exists(self) -> bool:
        return True

    def head(self) -> Anchor | None:
        try:
            with self._connect() as conn:
                query = "SELECT seq, hash, key, mac FROM audit_head WHERE id = 1"
                row = conn.execute(query).fetchone()
        except psycopg.Error as exc:
            raise _read_error(self.url, exc) from exc
        if row is None:
            raise ValueError(f"the anchor {self.anchor_where} is missing (its row was deleted)")
        if row[2] is None:
            return None
        return Anchor(seq=int(row[0]), hash=str(row[1]), key=str(row[2]), mac=str(row[3] or ""))

    def verify(self, expected: dict[str, dict[str, int]] | None = None) -> VerifyResult:
        from agent.audit_verify import verify_log

        return verify_log(self, expected)


def _read_error(url: str, exc: psycopg.Error) -> StoreError:
    return StoreError(
        f"cannot read the audit log in {redact(url)}: {first_line(exc)}",
        hint="check the PostgreSQL server and REMPART_STORE_URL",
    )


def _check_head(
    head: tuple[Any, ...] | None, seq: int, prev: str, key: AuditKey, log: PgAuditLog
) -> None:
    """Refuse to append when the last record is not the anchored head (rows were cut,
    added or the head edited): the new record would cover the damage."""
    hint = "run `rempart audit verify`; nothing more is recorded (nor done) until it passes"
    if head is None:
        raise AuditTampered(f"the anchor {log.anchor_where} is missing", hint=hint)
    if head[2] is None:  # never anchored: a fresh store
        if seq > 0:
            raise AuditTampered(f"{log.where} has records but no anchored head", hint=hint)
        return
    anchor = Anchor(seq=int(head[0]), hash=str(head[1]), key=str(head[2]), mac=str(head[3]))
    if not anchor.valid(key):
        raise AuditTampered(f"the anchor {log.anchor_where} does not match its MAC", hint=hint)
    if anchor.seq != seq or anchor.hash != prev:
        raise AuditTampered(
            f"the audit log {log.where} ends at record {seq} but its anchor says {anchor.seq}",
            hint=hint,
        )
