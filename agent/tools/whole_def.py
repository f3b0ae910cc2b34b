"""An edit whose `old` is only a function's `def` line and whose `new` is a whole function.

A small model fixing a function often sends `old: "def median(values):"` and the complete
new function as `new`; replacing the line leaves the old body under the new one, after the
new body's `return` (bench fix_median: the old, buggy lines stayed as dead code and the
model then tried to edit test lines into stats.py). When that is what the edit produced, the
old body (the statements after the new body's last `return`/`raise`) is dropped, as a
counted repair. Any other edit of a `def` line (adding a guard at the top of a body, a new
decorator, a renamed parameter) leaves no unreachable code and is left as sent.
"""

from __future__ import annotations

import ast

from agent.tools.syntax_guard import parsed

ENDS = (ast.Return, ast.Raise)


def _function_at(tree: ast.Module, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno == line:
            return node
    return None


def drop_old_body(path: str, old: str, new: str, after: str) -> tuple[str, str]:
    """(the text, the repair note) with the old body dropped, or (after, "") as it was."""
    line = old.strip()
    if not path.endswith(".py") or "\n" in line or not line.startswith(("def ", "async def ")):
        return after, ""
    if not new.lstrip().startswith(line) or new.strip() == line:
        return after, ""
    start = after.find(new)
    if start < 0:
        return after, ""
    tree = parsed(after)
    if tree is None:
        return after, ""
    def_line = after.count("\n", 0, start + new.find(line)) + 1
    func = _function_at(tree, def_line)
    new_end = after.count("\n", 0, start + len(new.rstrip())) + 1  # the new text's last line
    if func is None or func.end_lineno is None:
        return after, ""
    body = func.body
    ends = [i for i, stmt in enumerate(body) if isinstance(stmt, ENDS) and stmt.lineno <= new_end]
    if not ends or ends[-1] == len(body) - 1:
        return after, ""
    dead = body[ends[-1] + 1 :]
    if dead[0].lineno <= new_end:  # the unreachable code is the model's own, not the old body
        return after, ""
    lines = after.splitlines(keepends=True)
    first = dead[0].lineno - 1
    while first > 0 and not lines[first - 1].strip():  # blank lines before the old body
        first -= 1
    kept = lines[:first] + lines[func.end_lineno :]
    return "".join(kept), f"dropped the old body of {func.name} left under the new one"
