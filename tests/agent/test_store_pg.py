"""`REMPART_STORE_URL=postgresql://...`: sessions, events and messages in a real PostgreSQL
server, written by several processes at once; the schema migrated once, under a lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from agent.audit_pg import PgAuditLog
from agent.audit_verify import verify_settings
from agent.errors import ConfigError, SessionNotFound, StoreError
from agent.events import AssistantText, ToolResultEvent
from agent.messages import Message
from agent.settings import Settings, load_settings
from agent.store import open_store
from agent.store_pg import SCHEMA_VERSION, PgStore
from agent.testing import Reply
from tests.agent.conftest import Run
from tests.agent.headless import rempart
from tests.agent.store_work import session_work


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config", store_url=url)


def test_events_and_messages_come_back_in_order(pg_url: str) -> None:
    store = PgStore(pg_url)
    sid = store.create("task", "/ws", "m")
    store.add_event(AssistantText(session_id=sid, text="one"))
    store.add_event(
        ToolResultEvent(session_id=sid, call_id="c", tool="run", is_error=False, content="two")
    )
    store.add_message(sid, Message(role="user", content="hi"))
    store.set_status(sid, "finished")
    events = store.events(sid)
    assert [e.seq for e in events] == [1, 2]
    assert isinstance(events[1], ToolResultEvent) and events[1].content == "two"
    assert store.messages(sid)[0].content == "hi"
    assert store.get(sid[:6]).status == "finished" and store.last().id == sid
    store.delete(sid)
    with pytest.raises(SessionNotFound):
        store.get(sid)
    store.close()


def test_a_like_wildcard_is_not_a_prefix_of_every_session(pg_url: str) -> None:
    store = PgStore(pg_url)
    store.create("a", "/ws", "m")
    with pytest.raises(SessionNotFound, match="is not a session"):
        store.get("%")
    with pytest.raises(SessionNotFound):
        store.get("_")
    store.close()


def test_the_configured_url_selects_postgresql(tmp_path: Path, pg_url: str) -> None:
    store = open_store(settings_for(tmp_path, pg_url))
    try:
        assert isinstance(store, PgStore)
    finally:
        store.close()
    assert not (tmp_path / "data" / "sessions.sqlite3").exists()


def _open(url: str) -> None:
    PgStore(url).close()


def test_the_schema_is_migrated_once_when_several_processes_connect_first(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open, args=(pg_url,)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [v for (v,) in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_a_store_migrated_by_a_newer_rempart_is_refused(pg_url: str) -> None:
    PgStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}") as caught:
        PgStore(pg_url)
    assert "upgrade Rempart" in caught.value.hint


def test_an_unreachable_server_is_a_clear_error_that_hides_the_password(
    pg_server: object,
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect to the store") as caught:
        PgStore(f"postgresql://rempart:hunter2@127.0.0.1:{port}/db")
    assert "hunter2" not in caught.value.message and "***" in caught.value.message
    assert "REMPART_STORE_URL" in caught.value.hint


def test_a_store_url_that_is_not_postgresql_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMPART_STORE_URL", "mysql://root@db/rempart")
    with pytest.raises(ConfigError, match="store_url"):
        load_settings()


def _session(root: str, url: str, name: str) -> None:
    settings = settings_for(Path(root), url)
    store = open_store(settings)
    try:
        session_work(store, PgAuditLog(url, settings.audit_key), 15, name)
    finally:
        store.close()


def test_concurrent_sessions_from_several_processes_are_stored_whole_and_verify(
    tmp_path: Path, pg_url: str
) -> None:
    settings = settings_for(tmp_path, pg_url)
    PgAuditLog(pg_url, settings.audit_key).key(create=True)  # one key for every writer
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_session, args=(str(tmp_path), pg_url, f"p{i}")) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
        assert proc.exitcode == 0
    store = open_store(settings)
    try:
        rows = store.list()
        assert len(rows) == 4 and {r.status for r in rows} == {"finished"}
        for row in rows:
            assert [e.seq for e in store.events(row.id)] == list(range(1, 32))
            assert len(store.messages(row.id)) == 15
    finally:
        store.close()
    result = verify_settings(settings)
    assert result.ok, result.problem
    assert result.records == 4 * 31 and result.sessions == 4 and result.anchored == 4 * 31


def test_sessions_list_and_audit_verify_read_the_postgresql_store(
    tmp_path: Path, pg_url: str
) -> None:
    settings = settings_for(tmp_path, pg_url)
    store = open_store(settings)
    sid = session_work(store, PgAuditLog(pg_url, settings.audit_key), 2)
    store.close()
    env = {
        **os.environ,
        "REMPART_DATA_DIR": str(tmp_path / "data"),
        "REMPART_CONFIG_DIR": str(tmp_path / "config"),
        "REMPART_STORE_URL": pg_url,
    }
    listed = rempart("sessions", "list", "--json", env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [sid]
    verified = rempart("audit", "verify", "--json", env=env, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["records"] == 5
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 3")
    broken = rempart("audit", "verify", env=env, timeout=120)
    assert broken.returncode == 1 and "BROKEN at record 3" in broken.stdout


def test_config_show_does_not_print_the_store_password(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REMPART_DATA_DIR": str(tmp_path / "data"),
        "REMPART_CONFIG_DIR": str(tmp_path / "config"),
        "REMPART_STORE_URL": "postgresql://rempart:hunter2@db.example:5432/rempart",
    }
    for args in (("config", "show"), ("config", "show", "--json")):
        shown = rempart(*args, env=env, timeout=120)
        assert shown.returncode == 0 and "hunter2" not in shown.stdout
        assert "rempart:***@db.example:5432/rempart" in shown.stdout


@pytest.mark.docker
def test_a_real_session_with_the_store_url_writes_its_events_and_records_to_postgresql(
    run_session: Callable[..., Run], pg_url: str
) -> None:
    run = run_session(
        [
            Reply.call("write_file", path="w.py", content="print(6 * 7)\n"),
            Reply.call("run", command="python3 w.py"),
            Reply.call("finish", summary="done"),
        ],
        overrides={"store_url": pg_url},
    )
    assert "42" in run.results()[1].content
    assert not run.settings.sessions_db.exists() and not run.settings.audit_log.exists()
    store = PgStore(pg_url)
    try:
        stored = store.events(run.session_id)
        assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
        assert {"session_start", "decision", "tool_result"} <= {e.type for e in stored}
    finally:
        store.close()
    result = verify_settings(run.settings)
    assert result.ok, result.problem
    assert result.sessions == 1 and result.records == result.anchored and result.records >= 5


def test_the_embedded_store_and_the_parser_do_not_import_psycopg() -> None:
    code = (
        "import sys\n"
        "from rempart.cli import build_parser\n"
        "from agent.store import open_store\n"
        "from agent.audit import open_audit\n"
        "build_parser()\n"
        "print('psycopg' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
