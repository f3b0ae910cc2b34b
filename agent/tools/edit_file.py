"""edit_file: replace one piece of text in an existing file.

`old` must match once: exactly, or (a small model's usual slip) line by line ignoring
whitespace at the line ends, with `new` re-indented to fit. Otherwise the answer shows the
closest lines with their numbers (`agent.tools.matching`).
"""

from __future__ import annotations

from typing import Any

from agent.tools import constant, lint, syntax_guard, whole_def
from agent.tools.base import Tool, ToolContext, ToolOutput, workspace_path
from agent.tools.matching import Found, replace_once
from agent.tools.pasted import unpaste
from agent.tools.write_file import current_text, unified_diff
from policies import Action, FsRead, FsWrite


def edit_file(ctx: ToolContext, path: str, old: str, new: str) -> ToolOutput:
    """Replace one occurrence of `old` with `new` in a file. Read the file first.

    Args:
        path: file path relative to the workspace root
        old: the text to replace, copied from read_file output (not its header line);
            it must occur exactly once
        new: the replacement text
    """
    rel = workspace_path(path)
    before = current_text(ctx, rel)
    if before is None:
        return ToolOutput(
            content=f"{rel} does not exist: use write_file to create it", is_error=True
        )
    if not old:
        return ToolOutput(content="`old` is empty: give the exact text to replace", is_error=True)
    repairs: list[str] = []
    if ctx.aids:
        old, old_fixes = unpaste(old)
        new, new_fixes = unpaste(new)
        repairs = [f"old: {r}" for r in old_fixes] + [f"new: {r}" for r in new_fixes]
        found = replace_once(before, old, new, rel)
        if found.error and rel.endswith(".py"):
            found, read = _quoted_breaks(before, old, new, rel, found)
            repairs += read
    else:
        found = _exact(before, old, new, rel)
    if found.error:
        return ToolOutput(content=found.error, is_error=True, repairs=repairs)
    if found.after == before:
        return ToolOutput(
            content=f"nothing changed: `new` is the same as the text it replaces in {rel}",
            is_error=True,
            repairs=repairs,
        )
    if found.repair:
        repairs.append(found.repair)
    after = found.after
    if ctx.aids:
        after, dropped = whole_def.drop_old_body(rel, old, new, after)
        repairs += [dropped] if dropped else []
        after, fixes, refusal = syntax_guard.guard(rel, before, after)
        if refusal:
            return ToolOutput(content=refusal, is_error=True, repairs=repairs)
        repairs += fixes
        if after == before:  # the whole function re-sent as it is (fix_median, twice)
            return ToolOutput(
                content=f"nothing changed: with the old body replaced, {rel} is exactly as it "
                "was; the code still does what it did. Change the statements that compute "
                "the wrong result.",
                is_error=True,
                repairs=repairs,
            )
    ctx.sandbox.write_file(rel, after.encode("utf-8"))
    ctx.originals.setdefault(rel, before)
    ctx.files_read.add(rel)
    message = f"edited {rel}" + (f"\nnote: {'; '.join(repairs)}" if repairs else "")
    if ctx.aids:
        message += lint.warning(lint.new_problems(rel, ctx.originals[rel], after))
        message += constant.ignored_inputs(rel, before, after)
        message += lint.same_code(rel, before, after)
        message += lint.lost_definitions(rel, before, after, whole=False)
    return ToolOutput(content=message, diff=unified_diff(rel, before, after), repairs=repairs)


def _quoted_breaks(
    text: str, old: str, new: str, path: str, missed: Found
) -> tuple[Found, list[str]]:
    """An `old` that matches once its line breaks inside quotes are read as `\\n` (what the
    file holds): that match, with `new` read the same way; else the first answer."""
    fixed, count = syntax_guard.quoted_breaks(old)
    if not count:
        return missed, []
    found = replace_once(text, fixed, syntax_guard.quoted_breaks(new)[0], path)
    if found.error:
        return missed, []
    return found, [f"old: read {count} line break(s) inside quotes as \\n, as the file has it"]


def _exact(text: str, old: str, new: str, path: str) -> Found:
    count = text.count(old)
    if count == 1:
        return Found(after=text.replace(old, new, 1))
    if count == 0:
        return Found(error=f"`old` was not found in {path}: read_file it and copy the text exactly")
    return Found(error=f"`old` occurs {count} times in {path}: include more surrounding lines")


def _actions(args: dict[str, Any]) -> list[Action]:
    rel = workspace_path(args["path"])
    return [FsRead(path=rel), FsWrite(path=rel)]


TOOL = Tool.from_function(edit_file, _actions)
