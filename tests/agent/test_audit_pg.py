"""The audit chain in PostgreSQL stays one chain under many writers (no forks, no gaps), and
every kind of tampering done with SQL is found by the same verify as the JSONL log."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from agent.audit import GENESIS, AuditTampered, AuditWriteError
from agent.audit_pg import PgAuditLog
from agent.errors import StoreError


def make_log(root: Path, url: str) -> PgAuditLog:
    return PgAuditLog(url, root / "config" / "audit.key")


def _fill(log: PgAuditLog, count: int = 5, session: str = "s1") -> None:
    for i in range(count):
        log.append(
            session, "decision", action={"kind": "exec", "command": f"echo {i}"}, decision="allow"
        )


def _sql(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def log(tmp_path: Path, pg_url: str) -> PgAuditLog:
    made = make_log(tmp_path, pg_url)
    _fill(made)
    return made


def _writer(root: str, url: str, name: str, count: int) -> None:
    log = make_log(Path(root), url)
    for i in range(count):
        log.append(name, "result", tool="run", is_error=False, note=str(i))


def test_many_writers_in_several_processes_keep_one_chain_without_forks_or_gaps(
    tmp_path: Path, pg_url: str
) -> None:
    make_log(tmp_path, pg_url).key(create=True)
    writers, appends = 8, 30
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(str(tmp_path), pg_url, f"w{i}", appends))
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
        assert proc.exitcode == 0
    total = writers * appends
    result = make_log(tmp_path, pg_url).verify()
    assert result.ok, result.problem
    assert result.records == total and result.anchored == total
    rows = _sql(pg_url, "SELECT seq, prev, hash, body FROM audit ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, total + 1))  # no gaps
    assert len({r[1] for r in rows}) == total  # no two records share a parent: no fork
    assert [r[1] for r in rows] == [GENESIS] + [r[2] for r in rows[:-1]]  # each links back
    for name in (f"w{i}" for i in range(writers)):  # every writer's records, in its order
        notes = [json.loads(str(r[3]))["note"] for r in rows if f'"{name}"' in str(r[3])]
        assert notes == [str(i) for i in range(appends)]


def test_a_fork_cannot_be_stored(log: PgAuditLog, pg_url: str) -> None:
    prev, body = _sql(pg_url, "SELECT prev, body FROM audit WHERE seq = 5")[0]
    with pytest.raises(psycopg.errors.UniqueViolation):
        _sql(
            pg_url,
            "INSERT INTO audit VALUES (6, %s, 'x', 's1', 'decision', %s)",
            (prev, body),
        )
    assert log.verify().ok


def test_an_edited_row_is_detected(log: PgAuditLog, pg_url: str) -> None:
    body = json.loads(str(_sql(pg_url, "SELECT body FROM audit WHERE seq = 3")[0][0]))
    body["decision"] = "deny"
    _sql(pg_url, "UPDATE audit SET body = %s WHERE seq = 3", (json.dumps(body),))
    result = log.verify()
    assert not result.ok and result.line == 3 and "MAC" in result.problem


def test_a_deleted_row_is_detected(log: PgAuditLog, pg_url: str) -> None:
    _sql(pg_url, "DELETE FROM audit WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.line == 2 and "sequence 3 where 2" in result.problem


def test_a_deleted_row_with_the_chain_recomputed_without_the_key_is_detected(
    log: PgAuditLog, pg_url: str
) -> None:
    rows = _sql(pg_url, "SELECT body FROM audit ORDER BY seq")
    _sql(pg_url, "DELETE FROM audit")
    prev = GENESIS
    for seq, (body,) in enumerate(rows[:1] + rows[2:], start=1):
        record = json.loads(str(body))
        record.pop("hash")
        record.update(seq=seq, prev=prev)
        canon = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        record["hash"] = hashlib.sha256(canon.encode()).hexdigest()
        _sql(
            pg_url,
            "INSERT INTO audit VALUES (%s, %s, %s, 's1', 'decision', %s)",
            (seq, prev, record["hash"], json.dumps(record)),
        )
        prev = record["hash"]
    result = log.verify()
    assert not result.ok and result.line == 1 and "MAC" in result.problem


def test_rows_cut_at_the_tail_are_detected_and_appending_after_them_is_refused(
    log: PgAuditLog, pg_url: str
) -> None:
    _sql(pg_url, "DELETE FROM audit WHERE seq > 3")
    result = log.verify()
    assert not result.ok and result.line == 4
    assert "ends at record 3 but its anchor says 5" in result.problem
    with pytest.raises(AuditTampered):
        _fill(log, 1)
    assert _sql(pg_url, "SELECT COUNT(*) FROM audit")[0][0] == 3  # the damage stays visible


def test_an_emptied_table_is_detected(log: PgAuditLog, pg_url: str) -> None:
    _sql(pg_url, "DELETE FROM audit")
    result = log.verify()
    assert not result.ok and "the log is empty but its anchor says 5" in result.problem


def test_an_edited_or_deleted_head_is_detected(log: PgAuditLog, pg_url: str) -> None:
    _sql(pg_url, "UPDATE audit_head SET seq = 4")
    assert "does not match its MAC" in log.verify().problem
    with pytest.raises(AuditTampered):
        _fill(log, 1)
    _sql(pg_url, "UPDATE audit_head SET seq = 0, key = NULL, mac = NULL")
    assert "no anchor" in log.verify().problem


def test_a_head_put_back_with_the_tail_cut_is_caught_by_the_sessions_store(
    tmp_path: Path, pg_url: str
) -> None:
    log = make_log(tmp_path, pg_url)
    _fill(log, 3)
    old_head = _sql(pg_url, "SELECT seq, hash, key, mac FROM audit_head")[0]
    _fill(log, 3)
    _sql(pg_url, "DELETE FROM audit WHERE seq > 3")
    _sql(pg_url, "UPDATE audit_head SET seq = %s, hash = %s, key = %s, mac = %s", old_head)
    assert log.verify().ok  # the log and its old head agree...
    result = log.verify(expected={"s1": {"decision": 6}})  # ...the sessions store does not
    assert not result.ok and "6 decision events, the log only 3" in result.problem


def test_a_record_the_server_refuses_leaves_nothing_behind(log: PgAuditLog, pg_url: str) -> None:
    _sql(pg_url, "ALTER TABLE audit ADD CONSTRAINT full_up CHECK (seq <= 5)")
    with pytest.raises(AuditWriteError, match="cannot write the audit record"):
        _fill(log, 1)
    assert _sql(pg_url, "SELECT seq FROM audit_head")[0][0] == 5
    result = log.verify()
    assert result.ok and result.records == 5
    _sql(pg_url, "ALTER TABLE audit DROP CONSTRAINT full_up")
    _fill(log, 1)
    assert log.verify().anchored == 6


def test_records_are_exported_to_the_sink_as_they_are_written(tmp_path: Path, pg_url: str) -> None:
    sink = tmp_path / "sink.jsonl"
    log = PgAuditLog(pg_url, tmp_path / "k", sink=sink)
    _fill(log, 3)
    assert sink.read_bytes() == b"".join(log.raw_lines())


def test_a_dropped_audit_table_fails_closed_with_a_clear_error(
    log: PgAuditLog, pg_url: str
) -> None:
    _sql(pg_url, "DROP TABLE audit")
    with pytest.raises(StoreError, match="cannot read the audit log in postgresql://"):
        log.verify()
    with pytest.raises(AuditWriteError):  # no record: the caller must not act
        _fill(log, 1)


def test_a_writer_killed_mid_append_leaves_no_record_and_frees_the_chain(
    log: PgAuditLog, pg_url: str
) -> None:
    # a writer that holds the head's lock, has inserted record 6, and dies before commit
    script = (
        "import os, signal, psycopg\n"
        f"conn = psycopg.connect({pg_url!r})\n"
        "conn.execute('SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE')\n"
        "conn.execute(\"INSERT INTO audit VALUES (6, 'p', 'h', 'dead', 'result', '{}')\")\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9
    _fill(log, 3, session="alive")  # the lock was released with the dead connection
    result = log.verify()
    assert result.ok and result.records == 8 and result.anchored == 8
    assert _sql(pg_url, "SELECT COUNT(*) FROM audit WHERE session = 'dead'")[0][0] == 0
