"""Append-only, keyed, hash-chained audit log (JSON lines), one record per decision and per
result, whose head is anchored apart from the log.

Each record carries the previous record's hash and its own, an HMAC-SHA256 keyed with a
secret kept outside the data dir (`agent.audit_anchor`): editing, dropping, inserting or
reordering a record breaks the chain, and recomputing it needs the key. After each append
the head `(seq, hash)` is written to the anchor file, so a log cut at its tail, emptied or
removed no longer matches it. Appends take an exclusive `flock`, are fsync'd (the record,
then the anchor, rewritten in place: see `agent.audit_anchor`), and are
undone (truncated back) when the record, its anchor or its export cannot be written: the
caller gets `AuditWriteError` and must not act ("no record, no action"). Several sessions
(processes) can share one log; a crash loses nothing already written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.audit_anchor import Anchor, AuditKey, read_anchor, write_anchor
from policies.errors import RempartError

if TYPE_CHECKING:
    from agent.settings import Settings

GENESIS = "0" * 64
_TAIL_BYTES = 1 << 16
_SHORT_TAIL_BYTES = 1 << 12
Kind = Literal["decision", "result", "session", "egress", "mcp"]


class AuditWriteError(RempartError):
    """A record could not be written: the action it records must not happen."""


class AuditTampered(RempartError):
    """The log does not match its anchor: appending would hide the damage."""


class AuditRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    ts: float
    session: str
    kind: Kind
    call_id: str | None = None
    action: dict[str, Any] | None = None
    decision: str | None = None
    rule: str | None = None
    layer: str | None = None
    source: str | None = None
    approver: str | None = None
    tool: str | None = None
    is_error: bool | None = None
    output_sha256: str | None = None
    output_bytes: int | None = None
    note: str | None = None
    key: str | None = None  # the id of the key that MACs `hash`; absent: plain SHA-256 (old)
    prev: str
    hash: str


def _canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(fields: dict[str, Any], key: AuditKey | None) -> str:
    body = _canonical(fields)
    return key.mac(body) if key is not None else hashlib.sha256(body.encode()).hexdigest()


def output_digest(text: str) -> tuple[str, int]:
    data = text.encode("utf-8", errors="replace")
    return hashlib.sha256(data).hexdigest(), len(data)


def build_record(
    key: AuditKey, seq: int, prev: str, session: str, kind: Kind, fields: dict[str, Any]
) -> AuditRecord:
    """Record `seq`, linked to `prev` and MAC'd with `key` (both back ends build it here)."""
    body: dict[str, Any] = {"seq": seq, "ts": time.time(), "session": session}
    body["kind"] = kind
    body.update({k: v for k, v in fields.items() if v is not None})
    body.update(key=key.id, prev=prev)
    return AuditRecord(**body, hash=digest(body, key))


class AuditTrail(Protocol):
    """Where records go: the JSON-lines file (`AuditLog`, the embedded default) or PostgreSQL
    (`agent.audit_pg.PgAuditLog`). `rempart audit verify` reads both the same way: every
    record as a JSON line (`raw_lines`), then the anchored head (`head`)."""

    @property
    def where(self) -> str: ...
    @property
    def anchor_where(self) -> str: ...
    @property
    def key_where(self) -> str: ...
    def key(self, create: bool = False) -> AuditKey | None: ...
    def append(self, session: str, kind: Kind, **fields: Any) -> AuditRecord: ...
    def records(self) -> Iterator[AuditRecord]: ...
    def raw_lines(self) -> Iterator[bytes]:
        """Each record as written, with its newline (a last line without one: a cut write)."""
        ...

    def exists(self) -> bool: ...
    def head(self) -> Anchor | None:
        """The anchored head, None when there is none; ValueError/OSError when unreadable."""
        ...

    def verify(self, expected: dict[str, dict[str, int]] | None = None) -> VerifyResult: ...


def open_audit(settings: Settings) -> AuditTrail:
    """The configured audit log: PostgreSQL when `store_url` is set, else the JSONL file."""
    if settings.store_url:
        from agent.audit_pg import PgAuditLog

        return PgAuditLog(settings.store_url, settings.audit_key, settings.audit_sink)
    return AuditLog.for_settings(settings)


class AuditLog:
    """The log at `path`, keyed by the key in `key_file`, its head anchored in `anchor_file`;
    each record is also appended to `sink` when given (e.g. a file on another volume)."""

    def __init__(
        self, path: Path, key_file: Path, anchor_file: Path, sink: Path | None = None
    ) -> None:
        self.path = path
        self.key_file = key_file
        self.anchor_file = anchor_file
        self.sink = sink
        self._key: AuditKey | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        return cls(
            settings.audit_log, settings.audit_key, settings.audit_anchor, settings.audit_sink
        )

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def anchor_where(self) -> str:
        return str(self.anchor_file)

    @property
    def key_where(self) -> str:
        return str(self.key_file)

    def key(self, create: bool = False) -> AuditKey | None:
        if self._key is None:
            self._key = AuditKey.load(self.key_file, create=create)
        return self._key

    def exists(self) -> bool:
        return self.path.exists()

    def head(self) -> Anchor | None:
        # under the log's shared lock: appends rewrite the anchor in place under its
        # exclusive lock, so a reader never sees half of a new anchor
        try:
            handle = self.path.open("rb")
        except OSError:  # no log to lock (missing, a folder): no append can be under way
            return read_anchor(self.anchor_file)
        with handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                return read_anchor(self.anchor_file)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def raw_lines(self) -> Iterator[bytes]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            yield from handle

    def append(self, session: str, kind: Kind, **fields: Any) -> AuditRecord:
        key = self.key(create=True)
        assert key is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+b")
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                return self._append_locked(handle, key, session, kind, fields)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _append_locked(
        self, handle: BinaryIO, key: AuditKey, session: str, kind: Kind, fields: dict[str, Any]
    ) -> AuditRecord:
        size = _drop_partial_line(handle)
        seq, prev = _last(handle, size)
        try:
            anchor = read_anchor(self.anchor_file)
        except ValueError as exc:
            raise AuditTampered(str(exc), hint="run `rempart audit verify`") from exc
        except OSError as exc:
            raise _write_error(self.anchor_file, exc) from exc
        _check_head(anchor, seq, prev, self)
        record = build_record(key, seq + 1, prev, session, kind, fields)
        line = record.model_dump_json(exclude_none=True).encode() + b"\n"
        head = Anchor(seq=record.seq, hash=record.hash, key=key.id).signed(key)
        failed = self.path
        try:
            _write_all(handle.fileno(), line)
            os.fsync(handle.fileno())
            failed = self.anchor_file
            write_anchor(self.anchor_file, head)
        except OSError as exc:
            os.ftruncate(handle.fileno(), size)  # no record: the caller must not act
            os.fsync(handle.fileno())
            raise _write_error(failed, exc) from exc
        export(self.sink, record.seq, line)
        return record

    def records(self) -> Iterator[AuditRecord]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    yield AuditRecord.model_validate_json(line)

    def verify(self, expected: dict[str, dict[str, int]] | None = None) -> VerifyResult:
        """Check every record, the head against the anchor and, when given, that each
        session has at least the records its `expected` counts say (kind -> count)."""
        from agent.audit_verify import verify_log

        return verify_log(self, expected)


def _write_error(path: Path, exc: OSError) -> AuditWriteError:
    return AuditWriteError(
        f"cannot write the audit record ({path}: {exc.strerror or exc})",
        hint="free space in Rempart's data dir; nothing was done without its record",
    )


def _drop_partial_line(handle: BinaryIO) -> int:
    """A line cut by a crash mid-write was never anchored: drop it. Returns the size."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return 0
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return size
    handle.seek(max(0, size - _TAIL_BYTES))
    tail = handle.read()
    cut = size - len(tail) + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
    os.ftruncate(handle.fileno(), cut)
    return cut


def _last(handle: BinaryIO, size: int) -> tuple[int, str]:
    """The last record's (seq, hash): read from the last 4 KiB (a record is shorter than
    that unless its action is long), else from the last 64 KiB as before."""
    if size == 0:
        return 0, GENESIS
    for span in (_SHORT_TAIL_BYTES, _TAIL_BYTES):
        start = max(0, size - span)
        handle.seek(start)
        tail = handle.read()
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0 or start == 0:
            break
    last = json.loads(tail[cut + 1 :])
    return int(last["seq"]), str(last["hash"])


def _check_head(anchor: Anchor | None, seq: int, prev: str, log: AuditLog) -> None:
    """Refuse to append behind the anchored head: the new record would cover the cut."""
    if anchor is None:
        if seq > 0 and any(r.key is not None for r in log.records()):
            raise AuditTampered(
                f"the audit log {log.path} has keyed records but no anchor {log.anchor_file}",
                hint="run `rempart audit verify`; restore the anchor from a backup",
            )
        return
    # the log may be one record ahead (a crash between its write and the anchor's), no more
    if anchor.seq > seq or seq > anchor.seq + 1 or (anchor.seq == seq and anchor.hash != prev):
        raise AuditTampered(
            f"the audit log {log.path} ends at record {seq} but its anchor says {anchor.seq}",
            hint="run `rempart audit verify`; nothing more is recorded (nor done) until the "
            "log and its anchor are restored",
        )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        done = os.write(fd, view)
        view = view[done:]


def export(sink: Path | None, seq: int, line: bytes) -> None:
    """Append the record's line to the sink, when there is one."""
    if sink is None:
        return
    try:  # the record stands (log and anchor agree); the caller must still not act
        fd = os.open(sink, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise AuditWriteError(
            f"cannot export record {seq} to {sink}: {exc.strerror or exc}",
            hint="the record is in the log; fix the sink (REMPART_AUDIT_SINK)",
        ) from exc


class VerifyResult(BaseModel):
    ok: bool
    records: int
    problem: str = ""
    line: int | None = None
    anchored: int | None = None  # the anchor's sequence number (None: no anchor checked)
    sessions: int = 0  # sessions whose record counts were checked against the store
    notes: list[str] = []
