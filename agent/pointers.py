"""Where the task's named things are, told before the model's first turn (aids on).

In the bench's rename_get_user the 1.5B model opened the first file it saw, took the
function defined there (`address_line`) for the one to rename, and never recovered. The
names a task puts in backticks (`agent.taskterms`) are looked up in the files the sandbox
can see, and the first message lists where each one is (path, line, text) or that it is
in no file yet (an option to add, the new name of a rename). For a rename, it names the
one `rename_symbol` call that does it when that tool is offered.
"""

from __future__ import annotations

from agent.taskterms import Files, renames, terms_of

MAX_NAMES = 6
MAX_PLACES = 6


def where_named(task: str, files: Files, rename_tool: bool) -> str:
    """The lines for the first message ("" when the task names nothing)."""
    terms = terms_of(task)
    names = [*terms.absent, *terms.present][:MAX_NAMES]
    if not names:
        return ""
    places: dict[str, list[str]] = {name: [] for name in names}
    for path, text in files():
        for number, line in enumerate(text.splitlines(), 1):
            for name in names:
                if name in line and len(places[name]) <= MAX_PLACES:
                    places[name].append(f"{path}:{number}: {line.strip()[:120]}")
    out = ["Where the names in the task are now:"]
    for name in names:
        found = places[name]
        if not found:
            out.append(f"- `{name}`: in no file yet")
            continue
        out.append(f"- `{name}`:")
        out += [f"    {place}" for place in found[:MAX_PLACES]]
        out += ["    ... (more: grep)"] if len(found) > MAX_PLACES else []
    if rename_tool:
        out += [
            f'To rename `{old}` everywhere, call rename_symbol {{"old": "{old}", "new": '
            f'"{new}"}} once, then run the check.'
            for old, new in renames(task)
        ]
    return "\n".join(out)
