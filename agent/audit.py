"""Append-only, hash-chained audit log (JSON lines), one record per decision and per result.

Each record carries the hash of the previous one, so `verify` finds any edited, dropped,
inserted or reordered record. Appends take an exclusive `flock` and are fsync'd, so several
sessions (processes) can share one log and a crash loses nothing already written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

GENESIS = "0" * 64
_TAIL_BYTES = 1 << 16


class AuditRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    ts: float
    session: str
    kind: Literal["decision", "result", "session", "egress"]
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
    prev: str
    hash: str


def _digest(fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def output_digest(text: str) -> tuple[str, int]:
    data = text.encode("utf-8", errors="replace")
    return hashlib.sha256(data).hexdigest(), len(data)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _last(self, handle: Any) -> tuple[int, str]:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return 0, GENESIS
        handle.seek(max(0, size - _TAIL_BYTES))
        lines = handle.read().splitlines()
        last = json.loads(lines[-1])
        return int(last["seq"]), str(last["hash"])

    def append(
        self, session: str, kind: Literal["decision", "result", "session", "egress"], **fields: Any
    ) -> AuditRecord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                seq, prev = self._last(handle)
                body = {"seq": seq + 1, "ts": time.time(), "session": session, "kind": kind}
                body.update({k: v for k, v in fields.items() if v is not None})
                body["prev"] = prev
                record = AuditRecord(**body, hash=_digest(body))
                handle.seek(0, os.SEEK_END)
                handle.write(record.model_dump_json(exclude_none=True).encode() + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return record

    def records(self) -> Iterator[AuditRecord]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for line in handle:
                yield AuditRecord.model_validate_json(line)


class VerifyResult(BaseModel):
    ok: bool
    records: int
    problem: str = ""
    line: int | None = None


def verify(path: Path) -> VerifyResult:
    """Walk the chain: sequence, link to the previous hash, and each record's own hash."""
    prev, count = GENESIS, 0
    if not path.exists():
        return VerifyResult(ok=True, records=0)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = AuditRecord.model_validate_json(line)
            except ValidationError as exc:
                return VerifyResult(
                    ok=False,
                    records=count,
                    line=number,
                    problem=f"not a valid record: {exc.errors()[0]['msg']}",
                )
            body = record.model_dump(exclude_none=True)
            claimed = body.pop("hash")
            if record.seq != count + 1:
                problem = (
                    f"sequence {record.seq} where {count + 1} was expected (dropped or reordered)"
                )
            elif record.prev != prev:
                problem = "does not link to the previous record (dropped, inserted or reordered)"
            elif _digest(body) != claimed:
                problem = "its content does not match its hash (edited)"
            else:
                prev, count = claimed, count + 1
                continue
            return VerifyResult(ok=False, records=count, line=number, problem=problem)
    return VerifyResult(ok=True, records=count)
