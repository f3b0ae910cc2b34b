"""`rempart policy check | eval | explain | test`.

The root CLI calls `add_commands(sub)`; `main(argv)` builds a parser with just this group
(tests, and `python -m policies.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policies.actions import parse_action
from policies.errors import RempartError
from policies.evaluator import PolicySet
from policies.exceptions import PolicyInputError, Problem
from policies.loader import compile_text
from policies.termsafe import json_safe, safe, safe_line
from policies.testing_runner import LAYER_NAMES, run
from policies.yamlstrict import MAX_BYTES


def _fail(exc: RempartError) -> int:
    sys.stderr.write(f"error: {safe(exc.message)}\n")
    render = getattr(exc, "render", None)
    if callable(render) and str(render()) != exc.message:
        sys.stderr.write(f"{safe(str(render()))}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {safe(exc.hint)}\n")
    return 2


def _policy(paths: list[str]) -> PolicySet:
    files = [
        (LAYER_NAMES[i] if i < len(LAYER_NAMES) else f"extra{i}", Path(p))
        for i, p in enumerate(paths)
    ]
    return PolicySet.load(files)


def cmd_check(args: argparse.Namespace) -> int:
    errors = 0
    for name in args.files:
        path = Path(name)
        try:
            if path.stat().st_size > MAX_BYTES:
                problems = [Problem(name, 1, 1, "file is larger than 1 MiB")]
            else:
                _layer, doc = compile_text("check", 0, name, path.read_text(encoding="utf-8"))
                problems = doc.problems
        except (OSError, UnicodeDecodeError) as exc:
            problems = [Problem(name, 1, 1, f"cannot read policy file: {exc}")]
        problems.sort(key=lambda p: (p.line, p.col))
        for problem in problems:
            sys.stdout.write(f"{safe(str(problem))}\n")
        n_err = sum(1 for p in problems if p.severity == "error")
        n_warn = len(problems) - n_err
        errors += n_err
        state = "ok" if n_err == 0 else "invalid"
        sys.stdout.write(f"{safe_line(name)}: {state} ({n_err} errors, {n_warn} warnings)\n")
    return 1 if errors else 0


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        policy = _policy(args.policy)
    except RempartError as exc:
        return _fail(exc)
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
    try:
        policy = _policy(args.policy)
        action = parse_action(args.action)
    except RempartError as exc:
        return _fail(exc)
    sys.stdout.write(safe(policy.explain(action)) + "\n")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    report = run([Path(p) for p in args.files])
    for line in report.lines:
        sys.stdout.write(safe(line) + "\n")
    sys.stdout.write(safe(report.summary()) + "\n")
    return 0 if report.ok else 1


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add the `policy` command group; returns its verbs so the agent can add its own."""
    group = sub.add_parser("policy", help="check, evaluate, explain and test policies")
    verbs = group.add_subparsers(dest="policy_command", required=True)

    check = verbs.add_parser("check", help="validate and lint policy files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)

    ev = verbs.add_parser("eval", help="decide JSON-lines actions read on stdin")
    ev.add_argument(
        "--policy",
        action="append",
        required=True,
        metavar="FILE",
        help="policy file; repeat for layers (org, project, user, in order)",
    )
    ev.set_defaults(func=cmd_eval)

    ex = verbs.add_parser("explain", help="explain the decision for one action")
    ex.add_argument("--policy", action="append", required=True, metavar="FILE")
    ex.add_argument("--action", required=True, help="action JSON")
    ex.set_defaults(func=cmd_explain)

    test = verbs.add_parser("test", help="run rule examples and tests files")
    test.add_argument("files", nargs="+", metavar="FILE")
    test.set_defaults(func=cmd_test)
    return verbs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rempart")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
