"""`rempart audit verify|export`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.audit import AuditLog, verify
from agent.settings import Settings
from policies.termsafe import safe_line


def _path(args: argparse.Namespace) -> Path:
    return Path(args.log) if args.log else Settings().audit_log


def cmd_verify(args: argparse.Namespace) -> int:
    result = verify(_path(args))
    if args.json:
        print(result.model_dump_json())
    elif result.ok:
        print(f"ok: {result.records} records, chain intact ({_path(args)})")
    else:
        print(
            f"BROKEN at line {result.line}: {safe_line(result.problem)} "
            f"({result.records} records verified before it)"
        )
    return 0 if result.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    for record in AuditLog(_path(args)).records():
        if args.session and record.session != args.session:
            continue
        sys.stdout.write(json.dumps(record.model_dump(exclude_none=True)) + "\n")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("audit", help="verify and export the audit log")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser("verify", help="detect edited, dropped or reordered records")
    check.add_argument("--log", help="audit file (default: the data dir's audit.jsonl)")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_verify)
    export = verbs.add_parser("export", help="records for a SIEM")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--session", help="only this session's records")
    export.add_argument("--log", help="audit file (default: the data dir's audit.jsonl)")
    export.set_defaults(func=cmd_export)
