"""`rempart store status|migrate --to URL`."""

from __future__ import annotations

import argparse
from typing import Literal

from pydantic import BaseModel

from agent.audit import AuditLog
from agent.errors import ConfigError
from agent.settings import Settings, load_settings
from agent.store import Store, redact
from policies.exitcodes import Exit
from policies.termsafe import json_safe, safe_line

_NAMES = {"audit": "audit records"}


class StoreStatus(BaseModel):
    backend: Literal["sqlite", "postgresql"]
    where: str  # the SQLite file, or the URL without its password
    audit: str  # the audit log's place
    schema_version: int | None = None  # PostgreSQL's migrations applied
    counts: dict[str, int]  # table -> rows; audit -> records


def store_status(settings: Settings) -> StoreStatus:
    if settings.store_url:
        from agent.store_pg import SCHEMA_VERSION, PgStore  # psycopg only when it is used

        store = PgStore(settings.store_url)
        try:
            counts = store.counts()
        finally:
            store.close()
        url = redact(settings.store_url)
        return StoreStatus(
            backend="postgresql",
            where=url,
            audit=f"{url} (table audit)",
            schema_version=SCHEMA_VERSION,
            counts=counts,
        )
    sqlite = Store(settings.sessions_db)
    try:
        counts = sqlite.counts()
    finally:
        sqlite.close()
    log = AuditLog.for_settings(settings)
    counts["audit"] = sum(1 for line in log.raw_lines() if line.endswith(b"\n"))
    return StoreStatus(
        backend="sqlite", where=str(settings.sessions_db), audit=log.where, counts=counts
    )


def cmd_status(args: argparse.Namespace) -> int:
    status = store_status(load_settings())
    if args.json:
        print(json_safe(status.model_dump_json()))
        return Exit.OK
    version = f" (schema version {status.schema_version})" if status.schema_version else ""
    print(safe_line(f"{status.backend} {status.where}{version}; audit log {status.audit}"))
    print(", ".join(f"{count} {_NAMES.get(t, t)}" for t, count in status.counts.items()))
    return Exit.OK


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = args.to or settings.store_url
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "`store migrate` needs a target: --to postgresql://user@host:port/db",
            hint="or set REMPART_STORE_URL; the source is the data dir's SQLite store",
        )
    from agent.store_migrate import migrate  # psycopg only when it is used

    report = migrate(settings, url)
    if args.json:
        print(report.model_dump_json())
        return Exit.OK if report.ok else Exit.FAILED
    copied = ", ".join(f"{n} {_NAMES.get(t, t)}" for t, n in report.copied.items())
    print(safe_line(f"copied {copied} from {report.source} into {report.target}"))
    if report.ok:
        head = report.head if report.head is not None else "none"
        print(
            f"ok: counts match; {report.records_verified} records verified in the target, "
            f"head anchored at {head}"
        )
        print("use it: REMPART_STORE_URL=<the same URL>")
    else:
        print(f"BROKEN: {safe_line(report.problem)}")
    return Exit.OK if report.ok else Exit.FAILED


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "store", help="where sessions and the audit log live (SQLite or PostgreSQL)"
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    status = verbs.add_parser("status", help="the configured store and how many rows it holds")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=cmd_status)
    move = verbs.add_parser(
        "migrate",
        help="copy the SQLite store and the JSONL audit log into an empty PostgreSQL database, "
        "then verify it",
    )
    move.add_argument("--to", help="postgresql://user@host:port/db (default: REMPART_STORE_URL)")
    move.add_argument("--json", action="store_true", help="the report as one JSON object")
    move.set_defaults(func=cmd_migrate)
