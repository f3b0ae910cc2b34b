"""Sessions are written as they happen and read back whole, also after the writer died."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.events import AssistantText, ToolResultEvent
from agent.messages import Message
from agent.store import Store


def test_events_and_messages_come_back_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    sid = store.create("task", "/ws", "m")
    store.add_event(AssistantText(session_id=sid, text="one"))
    store.add_event(
        ToolResultEvent(session_id=sid, call_id="c", tool="run", is_error=False, content="two")
    )
    store.add_message(sid, Message(role="user", content="hi"))
    events = store.events(sid)
    assert [e.seq for e in events] == [1, 2]
    assert isinstance(events[1], ToolResultEvent) and events[1].content == "two"
    assert store.messages(sid)[0].content == "hi"
    store.close()


def test_a_prefix_of_the_id_finds_the_session(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    sid = store.create("task", "/ws", "m")
    assert store.get(sid[:6]).id == sid
    store.close()


def test_what_was_written_survives_kill_9_of_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    script = (
        "import os, signal\n"
        "from pathlib import Path\n"
        "from agent.store import Store\n"
        "from agent.events import AssistantText\n"
        f"s = Store(Path({str(db)!r}))\n"
        "sid = s.create('t', '/ws', 'm')\n"
        "for i in range(20): s.add_event(AssistantText(session_id=sid, text=str(i)))\n"
        "print(sid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -9
    sid = done.stdout.strip()
    store = Store(db)
    assert [e.text for e in store.events(sid) if isinstance(e, AssistantText)] == [
        str(i) for i in range(20)
    ]
    store.close()
