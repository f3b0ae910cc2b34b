"""The audit log's hash chain detects every kind of tampering, and survives concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from agent.audit import AuditLog, verify


def _fill(path: Path, count: int = 5) -> None:
    log = AuditLog(path)
    for i in range(count):
        log.append(
            "s1", "decision", action={"kind": "exec", "command": f"echo {i}"}, decision="allow"
        )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    result = verify(path)
    assert result.ok and result.records == 5


def test_an_edited_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    lines = _lines(path)
    record = json.loads(lines[2])
    record["decision"] = "deny"
    lines[2] = json.dumps(record) + "\n"
    path.write_text("".join(lines))
    result = verify(path)
    assert not result.ok and result.line == 3 and "edited" in result.problem


def test_a_dropped_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    lines = _lines(path)
    path.write_text("".join(lines[:1] + lines[2:]))
    result = verify(path)
    assert not result.ok and result.line == 2


def test_reordered_records_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("".join(lines))
    assert not verify(path).ok


def test_a_dropped_tail_record_keeps_the_chain_valid_but_rewriting_one_does_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path)
    lines = _lines(path)
    record = json.loads(lines[-1])
    record["hash"] = "f" * 64
    path.write_text("".join(lines[:-1]) + json.dumps(record) + "\n")
    assert not verify(path).ok


def test_a_garbage_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _fill(path, 2)
    with path.open("a") as handle:
        handle.write("not json\n")
    result = verify(path)
    assert not result.ok and result.line == 3


def _writer(path: str, name: str) -> None:
    log = AuditLog(Path(path))
    for i in range(25):
        log.append(name, "result", tool="run", is_error=False, note=str(i))


def test_concurrent_writers_from_several_processes_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), f"s{i}")) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    result = verify(path)
    assert result.ok and result.records == 100
