"""`rempart store migrate --to URL`: the embedded store copied into a real PostgreSQL server
and verified there; a damaged source or a non-empty target is refused with nothing copied."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from agent.audit import AuditLog
from agent.audit_pg import PgAuditLog
from agent.settings import Settings
from agent.store import Store
from tests.agent.headless import rempart
from tests.agent.store_work import session_work


@pytest.fixture
def embedded(tmp_path: Path) -> Settings:
    """A data dir with three sessions in SQLite and their records in the JSONL log."""
    settings = Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    store = Store(settings.sessions_db)
    log = AuditLog.for_settings(settings)
    for name in ("a", "b", "c"):
        session_work(store, log, 4, name)
    store.close()
    return settings


def env_of(settings: Settings, url: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "REMPART_DATA_DIR": str(settings.data_dir),
        "REMPART_CONFIG_DIR": str(settings.config_dir),
    }
    env.pop("REMPART_STORE_URL", None)
    return env | ({"REMPART_STORE_URL": url} if url else {})


def _count(url: str, table: str) -> int:
    """Rows in `table`; 0 when the target was never touched (no table at all)."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if exists is None or exists[0] is None:
            return 0
        row = conn.execute(f"SELECT COUNT(*) FROM {table}".encode()).fetchone()
    return int(row[0]) if row else 0


def test_migrate_copies_sessions_events_and_the_chain_and_verifies_them(
    embedded: Settings, pg_url: str
) -> None:
    done = rempart("store", "migrate", "--to", pg_url, "--json", env=env_of(embedded))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    records = 3 * (1 + 2 * 4)
    assert report["ok"] and report["head"] == records and report["records_verified"] == records
    assert report["copied"] == {"sessions": 3, "events": 27, "messages": 12, "audit": records}
    assert report["found"] == report["copied"]
    # the same sessions and records, read through the PostgreSQL store
    listed = rempart("sessions", "list", "--json", env=env_of(embedded, pg_url))
    source = Store(embedded.sessions_db)
    assert {json.loads(line)["id"] for line in listed.stdout.splitlines()} == {
        row.id for row in source.list()
    }
    source.close()
    file_log = AuditLog.for_settings(embedded)
    assert b"".join(PgAuditLog(pg_url, embedded.audit_key).raw_lines()) == b"".join(
        file_log.raw_lines()
    )
    # the chain goes on where the file's ended, and `audit verify` checks it with the store
    PgAuditLog(pg_url, embedded.audit_key).append("a", "session", note="after the move")
    verified = rempart("audit", "verify", "--json", env=env_of(embedded, pg_url))
    result = json.loads(verified.stdout)
    assert verified.returncode == 0 and result["records"] == records + 1
    assert result["sessions"] == 3


def test_migrating_into_a_non_empty_target_is_refused_and_copies_nothing(
    embedded: Settings, pg_url: str
) -> None:
    first = rempart("store", "migrate", "--to", pg_url, env=env_of(embedded))
    assert first.returncode == 0 and "ok: counts match" in first.stdout
    again = rempart("store", "migrate", "--to", pg_url, env=env_of(embedded))
    assert again.returncode == 8
    assert (
        "is not empty (3 sessions, 27 events, 12 messages, 27 audit records)" in again.stderr
        and "nothing was copied" in again.stderr
    )
    assert _count(pg_url, "sessions") == 3 and _count(pg_url, "audit") == 27


def test_a_source_whose_chain_does_not_verify_is_refused(embedded: Settings, pg_url: str) -> None:
    lines = embedded.audit_log.read_text().splitlines(keepends=True)
    record = json.loads(lines[4])
    record["decision"] = "deny"
    lines[4] = json.dumps(record) + "\n"
    embedded.audit_log.write_text("".join(lines))
    done = rempart("store", "migrate", "--to", pg_url, env=env_of(embedded))
    assert done.returncode == 8
    assert "does not verify at record 5" in done.stderr
    assert _count(pg_url, "audit") == 0 and _count(pg_url, "sessions") == 0


def test_a_source_with_records_dropped_against_its_sessions_is_refused(
    embedded: Settings, pg_url: str
) -> None:
    lines = embedded.audit_log.read_text().splitlines(keepends=True)
    embedded.audit_log.write_text("".join(lines[:-4]))  # the tail cut...
    embedded.audit_anchor.unlink()  # ...and its anchor with it
    done = rempart("store", "migrate", "--to", pg_url, env=env_of(embedded))
    assert done.returncode == 8 and "does not verify" in done.stderr
    assert _count(pg_url, "audit") == 0


def test_migrate_without_a_target_says_how_to_name_one(embedded: Settings) -> None:
    done = rempart("store", "migrate", env=env_of(embedded))
    assert done.returncode == 8 and "--to postgresql://" in done.stderr


def test_store_status_names_the_backend_and_its_rows(embedded: Settings, pg_url: str) -> None:
    sqlite = rempart("store", "status", env=env_of(embedded))
    assert sqlite.returncode == 0 and sqlite.stdout.startswith("sqlite ")
    assert "3 sessions, 27 events, 12 messages, 27 audit records" in sqlite.stdout
    pg = rempart("store", "status", "--json", env=env_of(embedded, pg_url))
    status = json.loads(pg.stdout)
    assert pg.returncode == 0 and status["backend"] == "postgresql"
    assert status["counts"] == {"sessions": 0, "events": 0, "messages": 0, "audit": 0}
    assert status["schema_version"] >= 1
