"""Audit appends per second: the JSONL log (flock + fsync + anchor) against PostgreSQL (one
transaction locking the head row), with 1 and 8 writer processes.

Baseline, in the same run: the JSONL log with one writer; every other line is also given as
a ratio to it. PostgreSQL is a throw-away local server (tests/agent/pg.py: Debian's
binaries, fsync off as in the tests, so it measures locking and round trips, not the disk).

    .venv/bin/python bench/bench_store.py [--appends 200] [--writers 1 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path

from agent.audit import AuditLog, AuditTrail
from agent.audit_pg import PgAuditLog
from tests.agent.pg import PgServer, pg_bin


def _log(kind: str, root: Path, url: str) -> AuditTrail:
    key = root / "audit.key"
    if kind == "postgresql":
        return PgAuditLog(url, key)
    return AuditLog(root / "audit.jsonl", key, root / "audit.head")


def _writer(kind: str, root: str, url: str, name: str, count: int, go: Barrier) -> None:
    log = _log(kind, Path(root), url)
    go.wait(timeout=120)  # every writer started: their start-up is not the store's cost
    for i in range(count):
        log.append(name, "result", tool="run", is_error=False, note=str(i))


def measure(kind: str, writers: int, appends: int, url: str) -> float:
    """Appends per second, all writers together."""
    with tempfile.TemporaryDirectory() as root:
        log = _log(kind, Path(root), url)
        log.key(create=True)
        ctx = multiprocessing.get_context("spawn")
        go = ctx.Barrier(writers + 1)
        procs = [
            ctx.Process(target=_writer, args=(kind, root, url, f"w{i}", appends, go))
            for i in range(writers)
        ]
        for proc in procs:
            proc.start()
        go.wait(timeout=120)
        start = time.perf_counter()
        for proc in procs:
            proc.join(timeout=600)
        elapsed = time.perf_counter() - start
        result = log.verify()
        total = writers * appends
        assert result.ok and result.records == total, result.problem
        return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=200, help="per writer")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    bindir = pg_bin()
    assert bindir is not None, "install Debian's postgresql"
    server = PgServer(bindir)
    server.start()
    try:
        rows = []
        for kind in ("jsonl", "postgresql"):
            for writers in args.writers:
                url = server.create_database()
                rows.append((kind, writers, measure(kind, writers, args.appends, url)))
    finally:
        server.stop()
    base = rows[0][2]
    print("| store | writers | appends/s | vs JSONL, 1 writer |")
    print("|---|---|---|---|")
    for kind, writers, rate in rows:
        print(f"| {kind} | {writers} | {rate:.0f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
