"""`rempart audit verify|export|egress`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.audit import AuditLog, AuditTrail, VerifyResult, open_audit
from agent.audit_verify import verify_settings
from agent.egress_report import collect, render
from agent.settings import Settings
from policies.exitcodes import Exit
from policies.termsafe import safe_line


def _log(args: argparse.Namespace, settings: Settings) -> AuditTrail:
    if not args.log:
        return open_audit(settings)
    key = Path(args.key) if getattr(args, "key", None) else settings.audit_key
    anchor = Path(args.anchor) if getattr(args, "anchor", None) else settings.audit_anchor
    return AuditLog(Path(args.log), key, anchor)


def _verify(args: argparse.Namespace) -> tuple[AuditTrail, VerifyResult]:
    settings = Settings()
    if not args.log:  # the configured log: its anchor and the sessions store too
        return open_audit(settings), verify_settings(settings)
    log = _log(args, settings)
    return log, log.verify()


def cmd_verify(args: argparse.Namespace) -> int:
    log, result = _verify(args)
    if args.json:
        print(result.model_dump_json())
        return Exit.OK if result.ok else Exit.FAILED
    if result.ok:
        head = (
            f"head anchored at record {result.anchored}"
            if result.anchored is not None
            else "no anchor"
        )
        print(f"ok: {result.records} records, chain and keys intact, {head} ({log.where})")
        if result.sessions:
            print(f"ok: record counts match the sessions store ({result.sessions} sessions)")
    else:
        where = f" at record {result.line}" if result.line is not None else ""
        print(
            f"BROKEN{where}: {safe_line(result.problem)} "
            f"({result.records} records verified before it; {log.where})"
        )
    for note in result.notes:
        print(f"note: {safe_line(note)}")
    return Exit.OK if result.ok else Exit.FAILED


def cmd_export(args: argparse.Namespace) -> int:
    for record in _log(args, Settings()).records():
        if args.session and record.session != args.session:
            continue
        sys.stdout.write(json.dumps(record.model_dump(exclude_none=True)) + "\n")
    return Exit.OK


def cmd_egress(args: argparse.Namespace) -> int:
    log = _log(args, Settings())
    found = collect(log.records(), args.session)
    if args.session and not found:
        print(f"error: no records of session {safe_line(args.session)} in {log.where}")
        return Exit.ERROR
    if args.json:
        report = [{**s.model_dump(), "summary": s.summary()} for s in found]
        print(json.dumps(report))
        return Exit.OK
    for line in render(found):
        print(safe_line(line))
    if not found:
        print(f"no sessions in {log.where}")
    return Exit.OK


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("audit", help="verify and export the audit log")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser(
        "verify",
        help="detect edited, dropped, reordered or cut records, an emptied or missing log",
    )
    check.add_argument("--log", help="audit file (default: the data dir's audit.jsonl)")
    check.add_argument("--key", help="with --log: its key file (default: the configured one)")
    check.add_argument("--anchor", help="with --log: its anchor (default: the configured one)")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_verify)
    export = verbs.add_parser("export", help="records for a SIEM")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--session", help="only this session's records")
    export.add_argument("--log", help="audit file (default: the data dir's audit.jsonl)")
    export.set_defaults(func=cmd_export)
    egress = verbs.add_parser(
        "egress",
        help="every connection attempt of a session (allowed, denied, failed), with bytes",
    )
    egress.add_argument("session", nargs="?", help="one session (default: every session)")
    egress.add_argument("--log", help="audit file (default: the data dir's audit.jsonl)")
    egress.add_argument("--json", action="store_true")
    egress.set_defaults(func=cmd_egress)
