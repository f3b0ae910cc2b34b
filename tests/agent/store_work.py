"""What a session writes, in the order a session writes it (a record before its event), for
the store tests: against SQLite + JSONL or PostgreSQL, from one process or several."""

from __future__ import annotations

from agent.audit import AuditTrail
from agent.events import DecisionEvent, SessionStarted, ToolResultEvent
from agent.messages import Message
from agent.store import SessionStore


def session_work(store: SessionStore, audit: AuditTrail, steps: int, name: str = "t") -> str:
    """One session of `steps` tool calls; returns its id."""
    sid = store.create(f"task {name}", "/ws", "m")
    audit.append(sid, "session", note="start")
    store.add_event(
        SessionStarted(
            session_id=sid, task=f"task {name}", workspace="/ws", model="m", base_url="u",
            tool_call_mode="native", policy_layers=[], network="none",
        )
    )  # fmt: skip
    for i in range(steps):
        action = {"kind": "exec", "command": f"echo {name}-{i}"}
        audit.append(sid, "decision", call_id=f"c{i}", action=action, decision="allow")
        store.add_event(
            DecisionEvent(session_id=sid, call_id=f"c{i}", action=action, decision="allow")
        )
        audit.append(sid, "result", call_id=f"c{i}", tool="run", is_error=False, note=str(i))
        store.add_event(
            ToolResultEvent(
                session_id=sid, call_id=f"c{i}", tool="run", is_error=False, content=f"{i}\n"
            )
        )
        store.add_message(sid, Message(role="user", content=f"step {i}"))
    store.set_status(sid, "finished")
    return sid
