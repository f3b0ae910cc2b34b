"""`rempart store migrate`: the embedded store (SQLite + the JSONL audit log) copied into
PostgreSQL, then checked there.

Refuses, with nothing copied: a source whose audit log does not verify (the copy would
launder the damage), a target that already holds sessions or records (no merge of two
chains). Copies in one transaction (all or nothing): sessions, events, messages, every
audit record as written, and the head, anchored with the same key. Then verifies: the
row counts match, and the copied chain passes `rempart audit verify`'s own check against
the copied sessions (same number of records, same head hash).
"""

from __future__ import annotations

from pydantic import BaseModel

from agent.audit import AuditLog, AuditRecord
from agent.audit_anchor import Anchor
from agent.audit_pg import PgAuditLog
from agent.audit_verify import STORE_KINDS, verify_log
from agent.errors import StoreError
from agent.settings import Settings
from agent.store import Store, redact
from agent.store_pg import PgStore

_NAMES = {"audit": "audit records"}


class MigrateReport(BaseModel):
    source: str
    target: str
    copied: dict[str, int]  # table -> rows copied (audit: records)
    found: dict[str, int]  # table -> rows in the target after the copy
    records_verified: int
    head: int | None  # the target's anchored head
    ok: bool
    problem: str = ""


def migrate(settings: Settings, url: str) -> MigrateReport:
    if not settings.sessions_db.exists():
        raise StoreError(
            f"nothing to migrate: there is no sessions store at {settings.sessions_db}",
            hint="REMPART_DATA_DIR names the data dir whose store is copied",
        )
    log = AuditLog.for_settings(settings)
    source = Store(settings.sessions_db)
    try:
        records = _source_records(source, log)
        tables = {name: source.rows(name) for name in ("sessions", "events", "messages")}
    finally:
        source.close()
    target = PgStore(url)
    try:
        _refuse_non_empty(target, url)
        _copy(target, tables, records, log)
        found = target.counts()
        expected = target.event_counts(list(STORE_KINDS))
    finally:
        target.close()
    copied = {name: len(rows) for name, rows in tables.items()} | {"audit": len(records)}
    result = verify_log(PgAuditLog(url, settings.audit_key), expected)
    problem = result.problem
    if not problem and found != copied:
        problem = f"the target holds {found}, the source {copied}"
    if not problem and result.records != len(records):
        problem = f"{result.records} records verified in the target, {len(records)} copied"
    return MigrateReport(
        source=str(settings.sessions_db),
        target=redact(url),
        copied=copied,
        found=found,
        records_verified=result.records,
        head=result.anchored,
        ok=not problem,
        problem=problem,
    )


def _source_records(source: Store, log: AuditLog) -> list[tuple[AuditRecord, str]]:
    """The source chain, verified (against its anchor and its sessions), with each line."""
    result = verify_log(log, source.event_counts(list(STORE_KINDS)))
    if not result.ok:
        where = f" at record {result.line}" if result.line is not None else ""
        raise StoreError(
            f"the audit log {log.path} does not verify{where}: {result.problem}",
            hint="nothing was copied; see `rempart audit verify`",
        )
    out = []
    for line in log.raw_lines():
        if line.endswith(b"\n"):  # a line cut by a crash was never a record
            text = line.decode().rstrip("\n")
            out.append((AuditRecord.model_validate_json(text), text))
    return out


def _refuse_non_empty(target: PgStore, url: str) -> None:
    held = {name: count for name, count in target.counts().items() if count}
    if held:
        what = ", ".join(f"{count} {_NAMES.get(name, name)}" for name, count in held.items())
        raise StoreError(
            f"the target {redact(url)} is not empty ({what})",
            hint="migrate into an empty database; nothing was copied",
        )


def _copy(
    target: PgStore,
    tables: dict[str, list[tuple[object, ...]]],
    records: list[tuple[AuditRecord, str]],
    log: AuditLog,
) -> None:
    key = log.key()
    columns = {
        "sessions": "id, task, workspace, model, status, created, updated",
        "events": "session_id, seq, type, body",
        "messages": "session_id, idx, body",
    }
    with target.transaction() as db, db.cursor() as cur:
        for name, rows in tables.items():
            with cur.copy(f"COPY {name} ({columns[name]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        with cur.copy("COPY audit (seq, prev, hash, session, kind, body) FROM STDIN") as copy:
            for record, text in records:
                row = (record.seq, record.prev, record.hash, record.session, record.kind, text)
                copy.write_row(row)
        if records and key is not None:
            last = records[-1][0]
            head = Anchor(seq=last.seq, hash=last.hash, key=key.id).signed(key)
            cur.execute(
                "UPDATE audit_head SET seq = %s, hash = %s, key = %s, mac = %s WHERE id = 1",
                (head.seq, head.hash, head.key, head.mac),
            )
