"""The anchor is rewritten in place (one sector, fdatasync) once it is a padded anchor file;
anything else (missing, older format, a symlink, a hard link) is replaced atomically as
before; an in-place write that fails rolls the record back; readers never see half of it."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from agent.audit import AuditLog, AuditWriteError
from agent.audit_anchor import ANCHOR_BYTES, read_anchor


def make_log(root: Path) -> AuditLog:
    return AuditLog(root / "data" / "audit.jsonl", root / "config" / "audit.key",
                    root / "config" / "head")  # fmt: skip


def _fill(log: AuditLog, count: int) -> None:
    for i in range(count):
        log.append("s1", "decision", action={"kind": "exec", "command": f"echo {i}"})


def test_after_the_first_append_the_anchor_is_the_same_file_rewritten_in_place(
    tmp_path: Path,
) -> None:
    log = make_log(tmp_path)
    _fill(log, 1)
    first = log.anchor_file.stat()
    _fill(log, 3)
    now = log.anchor_file.stat()
    assert (now.st_ino, now.st_size) == (first.st_ino, ANCHOR_BYTES)
    head = read_anchor(log.anchor_file)
    assert head is not None and head.seq == 4
    assert sorted(p.name for p in log.anchor_file.parent.iterdir()) == ["audit.key", "head"]
    result = log.verify()
    assert result.ok and result.anchored == 4


def test_an_anchor_written_by_an_older_rempart_is_replaced_then_kept_in_place(
    tmp_path: Path,
) -> None:
    log = make_log(tmp_path)
    _fill(log, 2)
    log.anchor_file.write_text(log.anchor_file.read_text().strip() + "\n")  # unpadded
    assert log.verify().ok
    old_inode = log.anchor_file.stat().st_ino
    _fill(log, 1)
    replaced = log.anchor_file.stat()
    assert replaced.st_ino != old_inode and replaced.st_size == ANCHOR_BYTES
    _fill(log, 1)
    assert log.anchor_file.stat().st_ino == replaced.st_ino
    assert log.verify().anchored == 4


def test_an_anchor_symlink_is_replaced_and_its_target_never_written(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    _fill(log, 1)
    victim = tmp_path / "victim"
    victim.write_bytes(log.anchor_file.read_bytes())  # the same size: in place would fit
    before = victim.read_bytes()
    log.anchor_file.unlink()
    log.anchor_file.symlink_to(victim)
    _fill(log, 1)
    assert victim.read_bytes() == before
    assert not log.anchor_file.is_symlink() and log.verify().anchored == 2


def test_a_hard_linked_anchor_is_replaced_so_the_other_name_keeps_the_old_head(
    tmp_path: Path,
) -> None:
    log = make_log(tmp_path)
    _fill(log, 2)
    backup = tmp_path / "backup.head"
    os.link(log.anchor_file, backup)
    before = backup.read_bytes()
    _fill(log, 1)
    assert backup.read_bytes() == before
    assert log.verify().anchored == 3


def _lock_anchor(path: Path) -> None:
    """Make in-place writes fail for real: read-only for a user, immutable for root."""
    path.chmod(stat.S_IRUSR)
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr: the anchor cannot be made unwritable")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {done.stderr.decode()[:200]}")


def _unlock_anchor(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_an_anchor_that_cannot_be_rewritten_in_place_rolls_the_record_back(
    tmp_path: Path,
) -> None:
    log = make_log(tmp_path)
    _fill(log, 3)
    before = log.path.read_bytes()
    anchor_before = log.anchor_file.read_bytes()
    _lock_anchor(log.anchor_file)
    try:
        with pytest.raises(AuditWriteError) as caught:
            _fill(log, 1)
    finally:
        _unlock_anchor(log.anchor_file)
    assert str(log.anchor_file) in caught.value.message  # the file that failed is named
    assert log.path.read_bytes() == before
    assert log.anchor_file.read_bytes() == anchor_before
    assert log.verify().ok
    _fill(log, 1)
    assert log.verify().anchored == 4


def _appender(root: str, count: int) -> None:
    log = make_log(Path(root))
    for i in range(count):
        log.append("w", "result", tool="run", is_error=False, note=str(i))


def test_a_reader_never_sees_half_of_an_anchor_being_rewritten(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    _fill(log, 1)
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=_appender, args=(str(tmp_path), 150))
    writer.start()
    heads: list[int] = []
    try:
        while writer.is_alive() or not heads:
            head = log.head()  # raises ValueError on a torn anchor
            assert head is not None
            heads.append(head.seq)
    finally:
        writer.join(timeout=60)
    assert writer.exitcode == 0
    assert heads == sorted(heads) and log.verify().anchored == 151
