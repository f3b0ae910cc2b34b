"""`rempart store status|migrate --to URL`."""

from __future__ import annotations

import argparse

from agent.errors import ConfigError
from agent.settings import load_settings
from agent.store import Store, redact
from policies.exitcodes import Exit
from policies.termsafe import safe_line


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.store_url:
        from agent.store_pg import SCHEMA_VERSION, PgStore  # psycopg only when it is used

        store = PgStore(settings.store_url)
        try:
            counts = store.counts()
        finally:
            store.close()
        where = f"postgresql {redact(settings.store_url)} (schema version {SCHEMA_VERSION})"
    else:
        sqlite = Store(settings.sessions_db)
        try:
            counts = sqlite.counts()
        finally:
            sqlite.close()
        where = f"sqlite {settings.sessions_db}, audit log {settings.audit_log}"
    print(safe_line(where))
    print(", ".join(f"{count} {table}" for table, count in counts.items()))
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
    copied = ", ".join(f"{count} {table}" for table, count in report.copied.items())
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
    status.set_defaults(func=cmd_status)
    move = verbs.add_parser(
        "migrate",
        help="copy the SQLite store and the JSONL audit log into an empty PostgreSQL database, "
        "then verify it",
    )
    move.add_argument("--to", help="postgresql://user@host:port/db (default: REMPART_STORE_URL)")
    move.add_argument("--json", action="store_true", help="the report as one JSON object")
    move.set_defaults(func=cmd_migrate)
