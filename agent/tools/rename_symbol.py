"""rename_symbol: rename an identifier in every text file of the project, in one call.

A rename across files is a task a small model fails by hand (bench: it renamed the wrong
function, edited one file of four, then ran out of steps). Here every whole-word
occurrence (`get_usr`, never `get_usr_name` or `WeeklyReportBuilder`) is replaced in the
files ripgrep finds under `path`; each file is put to the policy as a read and a write
before it is touched (a denied file is left as it is and named in the answer), and the
sandbox's change check judges the writes again on their way to the host (a write it
refuses, or a file changed on the host meanwhile, is named too; the other files go on).
rg's names are read NUL-separated: a name with a newline is one name, not two.
"""

from __future__ import annotations

import re
from typing import Any

from agent.tools import lint
from agent.tools.base import Tool, ToolArgumentError, ToolContext, ToolOutput, workspace_path
from agent.tools.write_file import current_bytes, unified_diff
from policies import Action, FsRead, FsWrite
from sandbox.errors import SandboxRequestError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_FILES = 200


def rename_symbol(ctx: ToolContext, old: str, new: str, path: str = ".") -> ToolOutput:
    """Rename a function, class or variable everywhere: replaces every whole-word use of
    `old` with `new` in all files under `path` (definition, imports, calls).

    Args:
        old: the current name, e.g. get_usr
        new: the new name, e.g. get_user
        path: folder or file to rename in; default: the whole project
    """
    old, new = old.strip(), new.strip()
    for name in (old, new):
        if not IDENTIFIER.fullmatch(name):
            raise ToolArgumentError(
                f"{name!r} is not a single name: rename_symbol renames one identifier; "
                "use edit_file for other text"
            )
    if old == new:
        raise ToolArgumentError("`old` and `new` are the same name")
    root = workspace_path(path)
    argv = ["rg", "--files-with-matches", "--null", "--fixed-strings", "--word-regexp"]
    argv += ["--regexp", old]
    result = ctx.sandbox.run(
        [*argv, "--", root], cwd=".", timeout_s=ctx.timeout_s, output_cap=ctx.output_cap
    )
    if result.exit_code == 1:
        return ToolOutput(content=f"`{old}` occurs in no file under {root}", is_error=True)
    if result.exit_code != 0:
        return ToolOutput(content=f"error: the search failed: {result.stderr[:500]}", is_error=True)
    # one name per NUL (a name may hold a newline); what follows the last NUL is "" or a
    # name the output cap cut short, never used
    files = sorted({workspace_path(name) for name in result.stdout.split("\0")[:-1] if name})
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])")
    changed: list[str] = []
    skipped: list[str] = []
    diffs: list[str] = []
    warnings = ""
    for rel in files[:MAX_FILES]:
        refusal = _refused(ctx, rel)
        if refusal:
            skipped.append(f"{rel} ({refusal})")
            continue
        try:
            data = current_bytes(ctx, rel)
            if data is None:
                continue
            before = _text(data)
            if before is None:  # written back decoded, its other bytes would be lost
                skipped.append(f"{rel} (not UTF-8 text: not changed)")
                continue
            after, count = word.subn(new, before)
            if not count:
                continue
            ctx.sandbox.write_file(rel, after.encode("utf-8"))
            ctx.originals.setdefault(rel, before)
        except SandboxRequestError as exc:  # refused at the wall, or changed on the host:
            skipped.append(f"{rel} ({str(exc).strip('[]')})")  # the rest goes on, all told
            continue
        changed.append(f"{rel} ({count})")
        diffs.append(unified_diff(rel, before, after))
        warnings += lint.warning(lint.new_problems(rel, ctx.originals[rel], after))
    if result.truncated:
        skipped.append("files past the search's output limit: run it per folder")
    if len(files) > MAX_FILES:
        skipped.append(f"{len(files) - MAX_FILES} more files (over {MAX_FILES}): run it per folder")
    if not changed:
        return ToolOutput(
            content=f"nothing renamed: {'; '.join(skipped) or 'no whole-word use found'}",
            is_error=True,
        )
    message = f"renamed `{old}` to `{new}` in {len(changed)} files: {', '.join(changed)}"
    if skipped:
        message += f"\nnot changed: {'; '.join(skipped)}"
    return ToolOutput(content=message + warnings, diff="".join(diffs))


def _text(data: bytes) -> str | None:
    """The file's text; None for a binary file or one that is not UTF-8."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _refused(ctx: ToolContext, rel: str) -> str | None:
    """The policy's first line of refusal for reading or writing `rel`, or None."""
    if ctx.authorise is None:
        return "no policy to ask: not changed"
    for action in (FsRead(path=rel), FsWrite(path=rel)):
        refusal = ctx.authorise(action)
        if refusal is not None:
            return refusal.splitlines()[0]
    return None


def _actions(args: dict[str, Any]) -> list[Action]:
    return [FsRead(path=workspace_path(args.get("path") or "."))]


TOOL = Tool.from_function(rename_symbol, _actions)
