"""A Python program run with arguments it never reads, told in the run's result.

In the bench's create_wordfreq the 1.5B model wrote a script that read `sys.stdin`, ran
`python3 wordfreq.py data/notes.txt`, saw `(no output)` (the sandbox's stdin is empty),
and finished, twice. The run tool looks at the script it just ran (through the sandbox,
so a read-denied file is never opened): arguments given to a script that has no
`sys.argv`, argparse, fileinput, click or typer in it, and reads stdin, are named as
ignored. And in config_cli_limit it read `int(sys.argv[2])` for `app.log --limit 3`, where
sys.argv[2] is `--limit`: a script that indexes sys.argv with no option parser, run with an
`--option`, is told what each position holds. Text is searched, nothing is run.
"""

from __future__ import annotations

import shlex

from agent.tools.base import SandboxLike, ToolArgumentError, workspace_path
from sandbox.errors import SandboxError

PYTHONS = ("python", "python3")
PARSERS = ("argparse", "click", "typer", "optparse", "getopt")  # options, not positions
READS_ARGUMENTS = ("sys.argv", "fileinput", *PARSERS)
READS_STDIN = ("sys.stdin", "input(")
STOP = {">", ">>", "<", "|", ";", "&&", "||", "2>", "2>&1", "&"}
LIMIT = 256 * 1024


def _script_and_arguments(command: str) -> tuple[str, list[str]] | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 3 or words[0].rsplit("/", 1)[-1] not in PYTHONS:
        return None
    if not words[1].endswith(".py"):
        return None
    arguments: list[str] = []
    for word in words[2:]:
        if word in STOP or word.startswith((">", "<", "|", "2>")):
            break
        arguments.append(word)
    return (words[1], arguments) if arguments else None


def _by_position(text: str) -> bool:
    """Whether the script indexes sys.argv and parses no options."""
    return "sys.argv[" in text and not any(p in text for p in PARSERS)


def ignored_arguments(sandbox: SandboxLike, command: str) -> str:
    """The note for a run whose script never reads the arguments it was given, or ""."""
    found = _script_and_arguments(command)
    if found is None:
        return ""
    script, arguments = found
    try:
        text = sandbox.read_file(workspace_path(script), limit=LIMIT).decode("utf-8", "replace")
    except (SandboxError, ToolArgumentError, OSError):  # gone, denied or not a file
        return ""
    if _by_position(text) and any(a.startswith("--") for a in arguments):
        shown = ", ".join(f"sys.argv[{i}] is {a!r}" for i, a in enumerate([script, *arguments][:6]))
        return (
            f"note: {script} reads sys.argv by position, and this command passes an option: "
            f"{shown}. Read options with argparse (parser.add_argument(...)), not by "
            "position."
        )
    if any(name in text for name in READS_ARGUMENTS) or not any(s in text for s in READS_STDIN):
        return ""
    given = " ".join(arguments)
    return (
        f"note: {script} never reads its command-line arguments (no sys.argv or argparse in "
        f"it) but reads stdin, which is empty here: `{given}` was ignored. To read the file "
        "named on the command line, open sys.argv[1]."
    )
