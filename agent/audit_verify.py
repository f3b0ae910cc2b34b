"""`rempart audit verify`: every record, the head against its anchor, the sessions store.

What it finds, and how it names it (the first problem wins, with its line):
- a line that is not a record; a sequence gap; a record that does not link to the one
  before (dropped, inserted, reordered); a record whose MAC does not match (edited, or a
  chain recomputed without the key); an old unkeyed record after keyed ones;
- against the anchor: a log cut at its tail, emptied or missing; a rewritten head; more than
  one record after the anchored head (an anchor put back from an older copy); an edited
  anchor;
- against the sessions store: a session whose stored decisions, results or starts
  outnumber its records (records dropped, or the log replaced by an older copy).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import ValidationError

from agent.audit import GENESIS, AuditRecord, AuditTrail, VerifyResult, digest, open_audit
from agent.audit_anchor import Anchor, AuditKey

if TYPE_CHECKING:
    from agent.settings import Settings

# sessions store event type -> the audit kind written before it
STORE_KINDS = {"session_start": "session", "decision": "decision", "tool_result": "result"}
Expected = dict[str, dict[str, int]]


def verify_settings(settings: Settings) -> VerifyResult:
    """The configured log (JSONL or PostgreSQL), checked against its anchor and the sessions
    store."""
    from agent.store import open_store

    expected: Expected = {}
    if settings.store_url or settings.sessions_db.exists():
        store = open_store(settings)
        try:
            expected = store.event_counts(list(STORE_KINDS))
        finally:
            store.close()
    return verify_log(open_audit(settings), expected)


class _Walk:
    def __init__(self, key: AuditKey | None) -> None:
        self.key = key
        self.prev = GENESIS
        self.count = 0
        self.keyed = False
        self.hashes: dict[int, str] = {}
        self.kinds: Counter[tuple[str, str]] = Counter()

    def check(self, record: AuditRecord) -> str:
        """Why this record is bad ('' when it is fine)."""
        if record.seq != self.count + 1:
            expected = self.count + 1
            return f"sequence {record.seq} where {expected} was expected (dropped or reordered)"
        if record.prev != self.prev:
            return "does not link to the previous record (dropped, inserted or reordered)"
        body = record.model_dump(exclude_none=True)
        claimed = body.pop("hash")
        if record.key is None:
            if self.keyed:
                return "an unkeyed record after keyed ones (rewritten without the key)"
            if digest(body, None) != claimed:
                return "its content does not match its hash (edited)"
        else:
            if self.key is None:
                return "keyed record, but the audit key is missing: it cannot be checked"
            if record.key != self.key.id:
                return f"keyed with another key ({record.key}; this key is {self.key.id})"
            if digest(body, self.key) != claimed:
                return "its MAC does not match (edited, or the chain was recomputed)"
            self.keyed = True
        self.prev, self.count = claimed, self.count + 1
        self.hashes[record.seq] = claimed
        self.kinds[(record.session, record.kind)] += 1
        return ""


def verify_log(log: AuditTrail, expected: Expected | None = None) -> VerifyResult:
    """One code path for both back ends: the JSONL file and PostgreSQL's audit table."""
    key = log.key()
    walk = _Walk(key)
    notes: list[str] = []
    for number, line in enumerate(log.raw_lines(), start=1):
        if not line.endswith(b"\n"):
            notes.append(f"line {number} is an unfinished write (a crash); ignored")
            break
        try:
            record = AuditRecord.model_validate_json(line)
        except ValidationError as exc:
            problem = f"not a valid record: {exc.errors()[0]['msg']}"
            return VerifyResult(ok=False, records=walk.count, line=number, problem=problem)
        problem = walk.check(record)
        if problem:
            return VerifyResult(ok=False, records=walk.count, line=number, problem=problem)
    result = VerifyResult(ok=True, records=walk.count, notes=notes)
    problem = _against_anchor(log, key, walk, result)
    if not problem and expected:
        problem = _against_store(walk, expected, result)
    if problem:
        result.ok, result.problem = False, problem
    return result


def _against_anchor(log: AuditTrail, key: AuditKey | None, walk: _Walk, out: VerifyResult) -> str:
    try:
        anchor = log.head()
    except ValueError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read the anchor {log.anchor_where}: {exc.strerror}"
    if anchor is None:
        if walk.keyed:
            return f"no anchor at {log.anchor_where}: the log's tail cannot be checked"
        if walk.count:
            out.notes.append("no anchor: written by an older Rempart; the tail is unchecked")
        return ""
    out.anchored = anchor.seq
    if key is None:
        return f"the audit key {log.key_where} is missing: the anchor cannot be checked"
    if not isinstance(anchor, Anchor) or not anchor.valid(key):
        return f"the anchor {log.anchor_where} does not match its MAC (edited)"
    where = "missing" if not log.exists() else ("empty" if walk.count == 0 else "")
    if anchor.seq > walk.count:
        out.line = walk.count + 1
        state = f"the log is {where}" if where else f"the log ends at record {walk.count}"
        return f"{state} but its anchor says {anchor.seq} records: records were cut"
    if walk.hashes.get(anchor.seq, anchor.hash) != anchor.hash:
        out.line = anchor.seq
        return f"record {anchor.seq} is not the one anchored (rewritten)"
    extra = walk.count - anchor.seq
    if extra > 1:
        out.line = anchor.seq + 1
        return f"{extra} records after the anchored head (the anchor was put back?)"
    if extra == 1:
        out.notes.append("the last record is not anchored yet (a crash between the two writes)")
    return ""


def _against_store(walk: _Walk, expected: Expected, out: VerifyResult) -> str:
    for session, kinds in sorted(expected.items()):
        out.sessions += 1
        for event_type, count in sorted(kinds.items()):
            kind = STORE_KINDS.get(event_type, event_type)
            logged = walk.kinds[(session, kind)]
            if logged < count:
                return (
                    f"session {session}: the sessions store holds {count} {event_type} "
                    f"events, the log only {logged} {kind} records (records dropped)"
                )
    return ""
