"""A function a change left answering the same constant whatever its input.

A small model asked to implement `to_roman(n)` "e.g. to_roman(1994) == 'MCMXCIV'" wrote
`return 'MCMXCIV'` (bench: spec_roman, and `from_roman` returned 1994), then finished.
After a change to a `.py` file, a function the change added or altered that takes
parameters and returns one and the same constant (not a bool) on every path, or uses none
of its parameters and returns constants, is named in the tool result. It is a
warning, never a refusal: such functions exist (a stub, a callback). Parsed, never run.
"""

from __future__ import annotations

import ast

from agent.tools.syntax_guard import parsed

SKIPPED = ("self", "cls")
Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(text: str | None) -> dict[str, Function]:
    if not text:
        return {}
    tree = parsed(text)
    if tree is None:
        return {}
    found = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    return {node.name: node for node in found}


def _parameters(node: Function) -> list[str]:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [a.arg for a in every if a is not None and a.arg not in SKIPPED]


def _returned(node: Function) -> list[ast.expr | None]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]


def _one_answer(returned: list[ast.expr | None]) -> object | None:
    """The constant every `return` gives (not a bool: a predicate's True after guards is
    fine), or None when the answers differ or are computed."""
    values = {v.value for v in returned if isinstance(v, ast.Constant)}
    if len(values) != 1 or not all(isinstance(v, ast.Constant) for v in returned):
        return None
    value = next(iter(values))
    return None if value is None or isinstance(value, bool) else value


def ignored_inputs(path: str, before: str | None, after: str) -> str:
    """The warning for functions the change left returning a constant whatever their
    input, or ""."""
    if not path.endswith(".py"):
        return ""
    old = _functions(before)
    lines: list[str] = []
    for name, node in _functions(after).items():
        params = _parameters(node)
        if not params or (name in old and ast.dump(old[name]) == ast.dump(node)):
            continue
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        returned = _returned(node)
        answer = _one_answer(returned)
        constants = [v.value for v in returned if isinstance(v, ast.Constant)]
        if answer is not None:
            lines.append(f"{name}({', '.join(params)}) returns {answer!r} whatever the input")
        elif not used & set(params) and any(c is not None for c in constants):
            lines.append(
                f"{name}({', '.join(params)}) never uses {', '.join(params)}: its answer does "
                "not depend on the input"
            )
    if not lines:
        return ""
    return (
        "\nwarning: " + "; ".join(lines[:3]) + ". An example in the task is not the rule: "
        "write the general computation from the parameters."
    )
