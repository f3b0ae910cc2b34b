"""`rempart audit egress`: every connection attempt of a session, from the audit log.

The sandbox's egress proxy logs each attempt (allowed, denied or failed) and, when an
allowed connection ends, its bytes each way; the runner copies those lines into the audit
log as `egress` records after every call, before a dead sandbox is replaced and when the
session closes. The host's own model client is recorded once per session (decision
`host`). Nothing here asks the proxy: what is listed is what the log holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from agent.audit import AuditRecord


class Attempt(BaseModel):
    """One connection attempt, its end (bytes) joined in when the proxy logged one."""

    ts: float
    decision: str  # allow | deny | error | host (the host's model client)
    kind: str  # net.connect (through the sandbox's proxy) | model.connect (host side)
    host: str = ""
    port: int = 0
    url: str = ""
    method: str = ""
    addr: str = ""
    rule: str = ""
    reason: str = ""
    sandbox: str = ""
    conn: int = 0
    bytes_up: int | None = None
    bytes_down: int | None = None
    closed: bool = False


class SessionEgress(BaseModel):
    session: str
    attempts: list[Attempt] = []

    def summary(self) -> dict[str, Any]:
        proxied = [a for a in self.attempts if a.kind == "net.connect"]
        return {
            "attempts": len(proxied),
            "allowed": sum(1 for a in proxied if a.decision == "allow"),
            "denied": sum(1 for a in proxied if a.decision == "deny"),
            "failed": sum(1 for a in proxied if a.decision == "error"),
            "bytes_up": sum(a.bytes_up or 0 for a in proxied),
            "bytes_down": sum(a.bytes_down or 0 for a in proxied),
            "model_endpoints": sorted({a.url for a in self.attempts if a.kind == "model.connect"}),
        }


def collect(records: Iterable[AuditRecord], session: str | None = None) -> list[SessionEgress]:
    """Every session's attempts (or only `session`'s), in log order, ends joined in."""
    out: dict[str, SessionEgress] = {}
    opened: dict[tuple[str, str], Attempt] = {}
    for record in records:
        if session is not None and record.session != session:
            continue
        if record.kind == "session":
            out.setdefault(record.session, SessionEgress(session=record.session))
        if record.kind != "egress":
            continue
        mine = out.setdefault(record.session, SessionEgress(session=record.session))
        action = record.action or {}
        key = (str(action.get("sandbox", "")), str(action.get("conn", "")))
        if record.decision == "closed":
            start = opened.get(key)
            if start is not None and action.get("conn"):
                start.bytes_up = _int(action.get("bytes_up"))
                start.bytes_down = _int(action.get("bytes_down"))
                start.closed = True
                continue
        attempt = Attempt(
            ts=float(action.get("proxy_ts", record.ts)),
            decision=record.decision or "",
            kind=str(action.get("kind", "net.connect")),
            host=str(action.get("host", "")),
            port=_int(action.get("port")) or 0,
            url=str(action.get("url", "")),
            method=str(action.get("method", "")),
            addr=str(action.get("addr", "")),
            rule=str(action.get("rule", "")),
            reason=record.note or "",
            sandbox=str(action.get("sandbox", "")),
            conn=_int(action.get("conn")) or 0,
            bytes_up=_int(action.get("bytes_up")),
            bytes_down=_int(action.get("bytes_down")),
            closed=record.decision == "closed",
        )
        mine.attempts.append(attempt)
        if attempt.decision == "allow" and attempt.conn:
            opened[key] = attempt
    return list(out.values())


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def render(found: list[SessionEgress]) -> list[str]:
    lines: list[str] = []
    for one in found:
        s = one.summary()
        lines.append(
            f"session {one.session}: {s['attempts']} connection attempts through the proxy "
            f"({s['allowed']} allowed, {s['denied']} denied, {s['failed']} failed), "
            f"{s['bytes_up']} bytes up, {s['bytes_down']} bytes down"
        )
        for a in one.attempts:
            when = datetime.fromtimestamp(a.ts).strftime("%Y-%m-%d %H:%M:%S")
            if a.kind == "model.connect":
                lines.append(f"  {when} host   model client -> {a.url}")
                continue
            target = f"{a.method} {a.host}:{a.port}".strip()
            bits = [f"  {when} {a.decision:6} {target}"]
            if a.addr:
                bits.append(f"-> {a.addr}")
            if a.closed:
                bits.append(f"up {a.bytes_up} B, down {a.bytes_down} B")
            elif a.decision == "allow":
                bits.append("(end not logged)")
            if a.rule:
                bits.append(f"[{a.rule}]")
            if a.reason:
                bits.append(a.reason)
            lines.append(" ".join(bits))
    return lines
