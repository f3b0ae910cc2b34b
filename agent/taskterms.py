"""Names a task asks for, checked against the workspace when the model calls `finish`.

The bench's transcripts show a small model finishing with the work undone while claiming
it done: "top_errors.py now takes --limit N" with no `--limit` in any file; "renamed ... to
get_user" with `get_usr` still called in three files. A task names such things in
backticks. At `finish`, the loop looks (once) for:

- each name the task asks to exist: an option (`--limit`), an identifier with an
  underscore (`APP_PORT`, `get_user`, also as a call: `to_roman(n)`) or in CamelCase
  (`ReportBuilder`); it must appear in
  some file of the workspace (the sandbox's view, so read-denied files are never opened);
- the old name of a rename (`rename `A` to `B``): it must appear in no file;
- each file a sentence of the task asks to be created or saved (`Create a script
  `summarize.py``, `save its output to `summary.txt``): it must exist. In the bench both
  create tasks ended with the script written and run and the asked-for output file never
  made. A missing one is named, but it never makes the outcome a failure by itself: the
  program may be meant to make the file when it runs (`saves the settings to
  `settings.json``).

A miss questions the finish once, naming what is missing and where; a second `finish`
stands, and the final event lists what is still missing (`unmet`) as evidence next to the
check. It never decides `verified`: that comes from the project's check alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pydantic import BaseModel

BACKTICKS = re.compile(r"`([^`\n]{2,80})`")
OPTION = re.compile(r"^--[A-Za-z][\w-]+$")  # `-rcN` (a version suffix) is no option
CALL = re.compile(r"^([A-Za-z_]\w*)\(")  # `to_roman(n)`, `to_roman(1994) == "MCMXCIV"`
IDENTIFIER = re.compile(r"^[A-Za-z_]\w{2,}$")
RENAME = re.compile(
    r"\brenam\w*\s+(?:[\w-]+\s+){0,3}`([^`\n]+)`[^`]{0,40}?\b(?:to|into|as)\s+`([^`\n]+)`",
    re.IGNORECASE,
)
# `summary.txt`, `a/b.py`: a file by its suffix (not `json.dump`, `1.3.0`, `example.com`)
FILE = re.compile(
    r"^(?!-)[\w.-]+(?:/[\w.-]+)*\.(txt|csv|tsv|json|jsonl|md|rst|py|sh|js|ts|log|out|dat"
    r"|yaml|yml|toml|ini|cfg|html|xml|sql|c|h|go|rs|java|rb)$",
    re.IGNORECASE,
)
MAKE_WORDS = re.compile(r"\b(create|save|saves|saved|write|writes|store|produce|generate)\b", re.I)
NOT = re.compile(r"\b(not|never|nor)\b|n't\b", re.IGNORECASE)
REMOVAL = re.compile(r"\b(remov\w*|delet\w*|drop\w*|without|instead of|no longer)\b", re.I)

# path -> text, for every file the check may look at ("" for a file it does not read)
Files = Callable[[], Iterable[tuple[str, str]]]
Exists = Callable[[str], bool]  # whether a file is at this path (else: among `Files`' paths)
NO_FILE = "does not exist (the task asks for this file)."
SAVE_HINT = (
    "To save what a command prints in a file, run it with its output sent there "
    "(`python3 script.py ARGS > FILE`), then read the file."
)


class TaskTerms(BaseModel):
    present: list[str] = []  # must appear in some file
    absent: list[str] = []  # must appear in no file
    outputs: list[str] = []  # files that must exist


def _is_name(span: str) -> bool:
    if OPTION.match(span):
        return True
    if not IDENTIFIER.match(span):
        return False
    camel = re.search(r"[a-z][A-Z]", span) is not None
    return "_" in span.strip("_") or camel


def renames(task: str) -> list[tuple[str, str]]:
    """(old, new) for each "rename `A` to `B`" of the task."""
    return [(old.strip(), new.strip()) for old, new in RENAME.findall(task)]


def terms_of(task: str) -> TaskTerms:
    renamed = renames(task)
    absent = [old for old, _ in renamed if _is_name(old)]
    present: list[str] = []
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", task):
        removal = REMOVAL.search(sentence) is not None
        for span in BACKTICKS.findall(sentence):
            name = span.strip()
            if name.startswith("-") and " " in name:  # `--limit N`: the option itself
                name = name.split()[0]
            if call := CALL.match(name):  # a call or signature: the function's name
                name = call.group(1)
            if _is_name(name) and name not in absent and not removal and name not in present:
                present.append(name)
    return TaskTerms(present=present, absent=absent, outputs=_outputs(task))


def _outputs(task: str) -> list[str]:
    """The files a sentence of the task asks to create or save. Sentences run across the
    task's line breaks ("save its output\nto `summary.txt`"); a blank line or a list item
    starts a new one."""
    flowing = re.sub(r"\n(?!\s*\n|\s*[-*] )", " ", task)
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", flowing):
        if not MAKE_WORDS.search(sentence) or REMOVAL.search(sentence) or NOT.search(sentence):
            continue
        for span in BACKTICKS.findall(sentence):
            path = span.strip().removeprefix("./")
            if FILE.match(path) and ".." not in path.split("/") and path not in found:
                found.append(path)
    return found


def unmet(terms: TaskTerms, files: Files, exists: Exists | None = None) -> list[str]:
    """What the workspace lacks of the task's named things, one plain sentence each."""
    if not terms.present and not terms.absent and not terms.outputs:
        return []
    found: dict[str, list[str]] = {name: [] for name in [*terms.present, *terms.absent]}
    paths: set[str] = set()
    # the files are read (in the sandbox) only for names, or for paths when `exists` is not given
    reading = files() if found or exists is None else ()
    for path, text in reading:
        paths.add(path.removeprefix("./"))
        for name, where in found.items():
            if name in text:
                where.append(path)
    there = exists or paths.__contains__
    lines = [f"`{path}` {NO_FILE}" for path in terms.outputs if not there(path)]
    lines += [f"`{name}` appears in no file." for name in terms.present if not found[name]]
    for name in terms.absent:
        if where := found[name]:
            shown = ", ".join(where[:8]) + (" ..." if len(where) > 8 else "")
            lines.append(f"`{name}` (the old name) still appears in: {shown}.")
    return lines


def question(terms: TaskTerms, files: Files, exists: Exists | None = None) -> str | None:
    """The answer to a `finish` that left a named thing undone, or None."""
    lines = unmet(terms, files, exists)
    if not lines:
        return None
    missing = [name for name in terms.present if f"`{name}` appears in no file." in lines]
    options = [name for name in missing if name.startswith("--")]
    how = [_argparse_hint(options[0])] if options else []
    if any(line.endswith(NO_FILE) for line in lines):
        how.append(SAVE_HINT)
    return "\n".join(
        [
            "finish questioned: the task names things your change has not done yet.",
            *[f"- {line}" for line in lines],
            *how,
            "Do that part of the task (grep finds each place), then call finish again. If "
            "it is done another way, call finish again and say how.",
        ]
    )


def _argparse_hint(option: str) -> str:
    """How a missing option is read (seen in the bench: `int(sys.argv[2])`, which is the
    option's own name)."""
    attribute = option[2:].replace("-", "_")
    return (
        f"A command-line option like `{option}` is read with argparse: "
        f'parser.add_argument("{option}", ...), then args.{attribute} (a hand-read '
        "sys.argv[2] is the option's own name, not its value)."
    )
