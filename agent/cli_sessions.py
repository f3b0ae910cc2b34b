"""`rempart sessions list|show ID|resume ID|--last|delete ID`."""

from __future__ import annotations

import argparse
import sys
import time

from agent.cli_run import approver_from, run_session
from agent.render import JsonPrinter, TextPrinter
from agent.session_args import SessionArgs, add_session_arguments
from agent.settings import Settings
from agent.store import SessionRow, open_store
from agent.undo import checkpoints_of
from policies.termsafe import json_safe, safe, safe_line


def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(Settings())
    try:
        rows = store.list(args.limit)
    finally:
        store.close()
    if args.json:
        for row in rows:
            print(json_safe(row.model_dump_json()))
        return 0
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))
        task = safe_line(repr(row.task[:60]))
        print(f"{row.id}  {when}  {row.status:9} {task}  {safe_line(row.workspace)}")
    if not rows:
        print("no sessions yet")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = open_store(Settings())
    try:
        row = store.get(args.id)
        events = store.events(row.id)
    finally:
        store.close()
    printer = JsonPrinter() if args.json else TextPrinter()
    for event in events:
        printer(event)
    return 0


def _row(settings: Settings, session_id: str) -> SessionRow:
    store = open_store(settings)
    try:
        return store.get(session_id)
    finally:
        store.close()


def cmd_resume(args: argparse.Namespace) -> int:
    settings = Settings()
    store = open_store(settings)
    try:
        row = store.last() if args.last else store.get(args.id)
    finally:
        store.close()
    options = SessionArgs.from_namespace(args).options(
        row.task, approver=approver_from(args.approve), resume_id=row.id, follow_up=args.message
    )
    return run_session(settings, options, args.json)


def cmd_diff(args: argparse.Namespace) -> int:
    settings = Settings()
    row = _row(settings, args.id)
    checkpoints = checkpoints_of(settings, row)
    steps = checkpoints.steps()
    if args.stat:
        for step in steps:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(step.ts))
            print(f"step {step.number}  {when}  {safe_line(step.label[:80])}")
            for path, (was, now) in sorted(step.paths.items()):
                print(f"    {was:>7} -> {now:<7} {safe_line(path)}")
    else:
        sys.stdout.write(safe(checkpoints.diff()))
    if not steps:
        print(f"session {row.id} changed nothing in {safe_line(row.workspace)}", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = open_store(Settings())
    try:
        store.delete(store.get(args.id).id)
    finally:
        store.close()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("sessions", help="list, show and resume sessions")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help="newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_list)
    show = verbs.add_parser("show", help="every event of a session")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="one JSON event per line")
    show.set_defaults(func=cmd_show)
    resume = verbs.add_parser("resume", help="continue a stopped or crashed session")
    which = resume.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the session (a unique prefix is enough)")
    which.add_argument("--last", action="store_true", help="the session most recently active")
    resume.add_argument("--json", action="store_true", help="one JSON event per line")
    resume.add_argument("--approve", help="policy file of auto-approvals for `ask`")
    resume.add_argument("--message", help="your next message to the model (default: continue)")
    add_session_arguments(resume, workspace=False)
    resume.set_defaults(func=cmd_resume)
    diff = verbs.add_parser("diff", help="everything a session changed in its workspace")
    diff.add_argument("id")
    diff.add_argument("--stat", action="store_true", help="its steps and their paths instead")
    diff.set_defaults(func=cmd_diff)
    delete = verbs.add_parser("delete", help="remove a session and its events")
    delete.add_argument("id")
    delete.set_defaults(func=cmd_delete)
