"""The audit log cannot be cut: keyed records, an anchored head, counts checked against the
sessions store; every kind of tampering is found and named; concurrent writers keep one
valid chain; a record that cannot be written leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import stat
from pathlib import Path

import pytest

from agent.audit import AuditLog, AuditTampered, AuditWriteError
from agent.audit_anchor import AuditKey


def make_log(root: Path, name: str = "audit.jsonl") -> AuditLog:
    return AuditLog(root / "data" / name, root / "config" / "audit.key", root / "config" / "head")


def _fill(log: AuditLog, count: int = 5) -> None:
    for i in range(count):
        log.append(
            "s1", "decision", action={"kind": "exec", "command": f"echo {i}"}, decision="allow"
        )


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    made = make_log(tmp_path)
    _fill(made)
    return made


def test_an_untouched_log_verifies_and_its_head_is_anchored(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.records == 5 and result.anchored == 5


def test_the_key_is_created_once_with_mode_0600_outside_the_data_dir(log: AuditLog) -> None:
    assert stat.S_IMODE(log.key_file.stat().st_mode) == 0o600
    assert log.path.parent not in log.key_file.parents
    records = list(log.records())
    assert {r.key for r in records} == {AuditKey.load(log.key_file).id}  # type: ignore[union-attr]
    assert str(log.key_file.read_text().strip()) not in log.path.read_text()


def test_an_edited_record_is_detected(log: AuditLog) -> None:
    lines = _lines(log)
    record = json.loads(lines[2])
    record["decision"] = "deny"
    lines[2] = json.dumps(record) + "\n"
    log.path.write_text("".join(lines))
    result = log.verify()
    assert not result.ok and result.line == 3 and "MAC" in result.problem


def test_a_dropped_record_is_detected(log: AuditLog) -> None:
    lines = _lines(log)
    log.path.write_text("".join(lines[:1] + lines[2:]))
    result = log.verify()
    assert not result.ok and result.line == 2


def _rechain(lines: list[str], mac: object) -> str:
    """The records renumbered and relinked, each hash recomputed with `mac(body)`."""
    out, prev = [], "0" * 64
    for seq, line in enumerate(lines, start=1):
        record = {k: v for k, v in json.loads(line).items() if v is not None}
        record.pop("hash")
        record.update(seq=seq, prev=prev)
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        record["hash"] = prev = mac(body)  # type: ignore[operator]
        out.append(json.dumps(record) + "\n")
    return "".join(out)


def test_a_dropped_record_with_the_chain_recomputed_is_detected(log: AuditLog) -> None:
    lines = _lines(log)
    del lines[1]
    # plain SHA-256, as an attacker without the key would recompute it
    log.path.write_text(_rechain(lines, lambda body: hashlib.sha256(body.encode()).hexdigest()))
    result = log.verify()
    assert not result.ok and result.line == 1 and "MAC" in result.problem
    # and with a key of the attacker's own, records unkeyed, or the anchor dropped too
    other = AuditKey(os.urandom(32))
    forged = [json.loads(line) | {"key": other.id} for line in lines]
    log.path.write_text(_rechain([json.dumps(r) for r in forged], other.mac))
    assert "another key" in log.verify().problem
    unkeyed = [json.dumps(json.loads(line) | {"key": None}) for line in lines]
    log.path.write_text(_rechain(unkeyed, lambda body: hashlib.sha256(body.encode()).hexdigest()))
    log.anchor_file.unlink()
    assert log.verify(expected={"s1": {"decision": 5}}).problem.startswith("session s1")


def test_reordered_records_are_detected(log: AuditLog) -> None:
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    log.path.write_text("".join(lines))
    assert not log.verify().ok


def test_a_log_cut_at_its_tail_is_detected_and_named(log: AuditLog) -> None:
    log.path.write_text("".join(_lines(log)[:3]))
    result = log.verify()
    assert not result.ok and result.line == 4
    assert "ends at record 3 but its anchor says 5" in result.problem


def test_an_emptied_log_is_detected(log: AuditLog) -> None:
    log.path.write_text("")
    result = log.verify()
    assert not result.ok and "the log is empty but its anchor says 5" in result.problem


def test_a_missing_log_is_detected(log: AuditLog) -> None:
    log.path.unlink()
    result = log.verify()
    assert not result.ok and "the log is missing" in result.problem


def test_a_missing_or_edited_anchor_is_detected(log: AuditLog) -> None:
    saved = log.anchor_file.read_text()
    anchor = json.loads(saved)
    anchor["seq"] = 2
    log.anchor_file.write_text(json.dumps(anchor))
    assert "does not match its MAC" in log.verify().problem
    log.anchor_file.unlink()
    assert "no anchor" in log.verify().problem


def test_an_anchor_put_back_from_an_older_copy_is_caught_by_the_sessions_store(
    tmp_path: Path,
) -> None:
    log = make_log(tmp_path)
    _fill(log, 3)
    old = log.anchor_file.read_bytes()
    old_lines = _lines(log)
    _fill(log, 3)
    assert "3 records after the anchored head" in _with_anchor(log, old).problem
    log.path.write_text("".join(old_lines))  # the log cut to match the old anchor
    assert _with_anchor(log, old).ok
    result = log.verify(expected={"s1": {"decision": 6}})  # what the store holds
    assert not result.ok and "6 decision events, the log only 3" in result.problem


def _with_anchor(log: AuditLog, anchor: bytes):  # type: ignore[no-untyped-def]
    log.anchor_file.write_bytes(anchor)
    return log.verify()


def test_a_record_written_just_before_a_crash_and_not_yet_anchored_still_verifies(
    log: AuditLog,
) -> None:
    old = log.anchor_file.read_bytes()
    _fill(log, 1)
    log.anchor_file.write_bytes(old)  # as if killed between the log's write and the anchor's
    result = log.verify()
    assert result.ok and result.records == 6 and result.anchored == 5
    _fill(log, 1)  # the next append anchors again
    assert log.verify().anchored == 7


def test_a_line_cut_by_a_crash_mid_write_is_dropped_by_the_next_append(log: AuditLog) -> None:
    with log.path.open("a") as out:
        out.write('{"seq": 6, "ts": 1.0, "sess')
    assert log.verify().ok
    _fill(log, 1)
    assert log.verify().ok and log.verify().records == 6


def test_appending_after_the_tail_was_cut_is_refused(log: AuditLog) -> None:
    log.path.write_text("".join(_lines(log)[:2]))
    with pytest.raises(AuditTampered):
        _fill(log, 1)
    assert len(_lines(log)) == 2  # the damage stays visible


def test_a_record_whose_anchor_cannot_be_written_is_rolled_back(log: AuditLog) -> None:
    before = log.path.read_bytes()
    # an anchor as an older Rempart wrote it (not padded) is replaced through a temporary
    # file (tests/agent/test_audit_anchor.py fails the in-place rewrite)
    log.anchor_file.write_text(log.anchor_file.read_text().strip() + "\n")
    # the anchor's temporary file cannot be created: a folder holds its name
    (log.anchor_file.parent / f".{log.anchor_file.name}.{os.getpid()}.tmp").mkdir()
    with pytest.raises(AuditWriteError):
        _fill(log, 1)
    assert log.path.read_bytes() == before
    assert log.verify().ok


def test_a_garbage_line_is_reported_with_its_line_number(log: AuditLog) -> None:
    with log.path.open("a") as handle:
        handle.write("not json\n")
    result = log.verify()
    assert not result.ok and result.line == 6


def test_a_log_keyed_with_the_wrong_key_file_cannot_pass(log: AuditLog, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    wrong = AuditLog(log.path, other, log.anchor_file)
    assert "another key" in wrong.verify().problem
    shutil.move(str(log.key_file), str(tmp_path / "moved.key"))
    assert "key is missing" in make_log(tmp_path).verify().problem


def _writer(root: str, name: str) -> None:
    log = make_log(Path(root))
    for i in range(25):
        log.append(name, "result", tool="run", is_error=False, note=str(i))


def test_concurrent_writers_from_several_processes_keep_one_valid_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"s{i}")) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    result = make_log(tmp_path).verify()
    assert result.ok and result.records == 100 and result.anchored == 100


def test_records_are_exported_to_the_sink_as_they_are_written(tmp_path: Path) -> None:
    sink = tmp_path / "elsewhere" / "audit.sink"
    sink.parent.mkdir()
    log = AuditLog(tmp_path / "a.jsonl", tmp_path / "k", tmp_path / "h", sink=sink)
    _fill(log, 3)
    assert sink.read_text() == log.path.read_text()
