"""`rempart policy check | eval | explain | test | schema`.

The root CLI (`rempart.cli`) calls `add_commands(sub)` and renders every error. Each verb a
machine reads takes `--json` (one JSON object on stdout; `eval` is JSON lines already).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from policies.actions import parse_action
from policies.errors import PolicyInputError, Problem
from policies.evaluator import PolicySet
from policies.explain import explanation
from policies.jsonschema import KINDS, render
from policies.loader import compile_text
from policies.shipped import policy_argument
from policies.termsafe import json_safe, safe, safe_line
from policies.testing_runner import LAYER_NAMES, run
from policies.yamlstrict import MAX_BYTES


def _policy(paths: list[Path]) -> PolicySet:
    files = [
        (LAYER_NAMES[i] if i < len(LAYER_NAMES) else f"extra{i}", p) for i, p in enumerate(paths)
    ]
    return PolicySet.load(files)


def _json(data: Any) -> None:
    sys.stdout.write(json_safe(json.dumps(data)) + "\n")


def _problems(name: str) -> list[Problem]:
    path = Path(name)
    try:
        if path.stat().st_size > MAX_BYTES:
            return [Problem(name, 1, 1, "file is larger than 1 MiB")]
        _layer, doc = compile_text("check", 0, name, path.read_text(encoding="utf-8"))
        problems = list(doc.problems)
    except (OSError, UnicodeDecodeError) as exc:
        problems = [Problem(name, 1, 1, f"cannot read policy file: {exc}")]
    return sorted(problems, key=lambda p: (p.line, p.col))


def cmd_check(args: argparse.Namespace) -> int:
    checked = [(name, _problems(name)) for name in args.files]
    errors = {name: sum(p.severity == "error" for p in problems) for name, problems in checked}
    ok = not any(errors.values())
    if args.json:
        files = [
            {"path": name, "ok": errors[name] == 0, "problems": [asdict(p) for p in problems]}
            for name, problems in checked
        ]
        _json({"ok": ok, "files": files})
        return 0 if ok else 1
    for name, problems in checked:
        for problem in problems:
            sys.stdout.write(f"{safe(str(problem))}\n")
        n_err = errors[name]
        state = "ok" if n_err == 0 else "invalid"
        counts = f"({n_err} errors, {len(problems) - n_err} warnings)"
        sys.stdout.write(f"{safe_line(name)}: {state} {counts}\n")
    return 0 if ok else 1


def cmd_eval(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = json_safe(policy.evaluate(parse_action(line)).model_dump_json())
        except PolicyInputError as exc:
            out = json.dumps({"error": exc.message})
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    action = parse_action(args.action)
    if args.json:
        _json(explanation(policy, action))
    else:
        sys.stdout.write(safe(policy.explain(action)) + "\n")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    report = run([Path(p) for p in args.files])
    if args.json:
        _json(
            {
                "ok": report.ok,
                "passed": report.passed,
                "failed": report.failed,
                "examples": report.examples,
                "failures": report.lines,
            }
        )
        return 0 if report.ok else 1
    for line in report.lines:
        sys.stdout.write(safe(line) + "\n")
    sys.stdout.write(safe(report.summary()) + "\n")
    return 0 if report.ok else 1


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(render(args.kind))
    return 0


def _policies(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--policy",
        action="append",
        required=required,
        type=policy_argument,
        metavar="NAME|FILE",
        help="policy file or shipped policy (default, strict, ci); repeat for layers "
        "(org, project, user, in order)",
    )


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add the `policy` command group; returns its verbs so the agent can add its own."""
    group = sub.add_parser("policy", help="check, evaluate, explain and test policies")
    verbs = group.add_subparsers(dest="policy_command", metavar="VERB", required=True)

    check = verbs.add_parser("check", help="validate and lint policy files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.set_defaults(func=cmd_check)

    ev = verbs.add_parser("eval", help="decide JSON-lines actions read on stdin")
    _policies(ev)
    ev.set_defaults(func=cmd_eval)

    ex = verbs.add_parser("explain", help="explain the decision for one action")
    _policies(ex)
    ex.add_argument("--action", required=True, help="action JSON")
    ex.add_argument("--json", action="store_true", help="one JSON object")
    ex.set_defaults(func=cmd_explain)

    test = verbs.add_parser("test", help="run rule examples and tests files")
    test.add_argument("files", nargs="+", metavar="FILE")
    test.add_argument("--json", action="store_true", help="one JSON object")
    test.set_defaults(func=cmd_test)

    schema = verbs.add_parser(
        "schema", help="print the JSON Schema of policy files (or of tests files)"
    )
    schema.add_argument("kind", nargs="?", choices=sorted(KINDS), default="policy")
    schema.set_defaults(func=cmd_schema)
    return verbs
