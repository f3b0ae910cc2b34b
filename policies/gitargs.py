"""git's command line: global options, the files a subcommand reads or writes, pathspecs.

- `git -C . push`, `git --no-pager push`: global options come before the subcommand and
  hide it from argv-prefix rules; `without_globals` gives the argv that deny rules see too.
- `git show HEAD:.env`, `git log -p -- .env`: paths (and `rev:path`) are judged as reads.
- Pathspecs are not shell globs: `*` matches `/` and leading dots (fnmatch without
  FNM_PERIOD), and `:(...)`/`:!`/`:/` magic changes their meaning. Glob pathspecs are
  returned for probing against the read-deny patterns; magic we cannot resolve is dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.globs import has_glob_chars
from policies.shell import GLOB, LIT, SLOT, Tok


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


GLOBAL_VALUE = _s(
    "-C -c --git-dir --work-tree --namespace --exec-path --config-env --super-prefix "
    "--list-cmds --attr-source"
)
# git subcommands that print file contents (from the work tree, the index or history)
READERS = _s(
    "show log diff blame annotate cat-file grep archive whatchanged format-patch "
    "shortlog diff-tree diff-index diff-files ls-files ls-tree"
)
WRITE_O = frozenset(["archive", "format-patch", "bundle"])
# options of the readers whose value is a separate word that is not a path
VALUE_OPTIONS = _s(
    "--grep --author --committer -n --max-count --skip --since --until --after "
    "--before -S -G --format --date -e --max-depth -m -A -B -C --context --encoding "
    "--abbrev -L --decorate-refs --decorate-refs-exclude --branches --tags --remotes "
    "--exclude"
)
_MAGIC_OK = frozenset({"top", "icase", "literal", "glob"})


@dataclass(slots=True)
class GitArgs:
    reads: list[Tok] = field(default_factory=list)
    writes: list[Tok] = field(default_factory=list)
    pathspecs: list[str] = field(default_factory=list)  # globs, git semantics, `/`-rooted
    chdir: list[Tok] = field(default_factory=list)  # `-C DIR`, in order
    dynamic: str | None = None


def subcommand_index(argv: list[Tok]) -> int:
    """Index of the subcommand (len(argv) when there is none)."""
    i = 1
    while i < len(argv) and argv[i].kind == LIT and argv[i].text.startswith("-"):
        text = argv[i].text
        i += 2 if text in GLOBAL_VALUE else 1
    return min(i, len(argv))


def without_globals(argv: list[Tok]) -> list[Tok] | None:
    """`git -C . --no-pager push x` → `git push x`; None when there is nothing to drop."""
    i = subcommand_index(argv)
    return [argv[0], *argv[i:]] if i > 1 else None


def _globals(argv: list[Tok], end: int, out: GitArgs) -> None:
    i = 1
    while i < end:
        text = argv[i].text
        opt, eq, value = text.partition("=")
        if opt == "-C" and i + 1 < len(argv):
            out.chdir.append(argv[i + 1])
        elif opt in ("--git-dir", "--work-tree"):
            if eq:
                out.reads.append(Tok(value, argv[i].kind))
            elif i + 1 < len(argv):
                out.reads.append(argv[i + 1])
        i += 2 if text in GLOBAL_VALUE else 1


def _pathspec(text: str, kind: int, cwd_top: bool, out: GitArgs) -> None:
    """One pathspec: a read (literal), a probe (glob), or dynamic (unknown magic)."""
    if kind not in (LIT, GLOB):
        return  # an expansion: the segment is dynamic already
    top, literal = cwd_top, False
    if text.startswith(":("):
        end = text.find(")")
        if end < 0:
            out.dynamic = out.dynamic or f"git pathspec magic `{text[:60]}` cannot be read"
            return
        words = {w.strip().lower() for w in text[2:end].split(",") if w.strip()}
        if words & {"exclude"}:
            return  # an exclusion narrows what is read
        if not words <= _MAGIC_OK:
            out.dynamic = out.dynamic or f"git pathspec magic `{text[:60]}` is not understood"
            return
        top = top or "top" in words
        literal = "literal" in words  # icase: deny patterns are case-folded anyway
        text = text[end + 1 :]
    elif text.startswith((":!", ":^")):
        return
    elif text.startswith(":/"):
        top, text = True, text[2:]
    elif text.startswith(":") and len(text) > 1:
        out.dynamic = out.dynamic or f"git pathspec magic `{text[:60]}` is not understood"
        return
    if not text:
        text = "."
    if has_glob_chars(text) and not literal:
        out.pathspecs.append(("/" if top else "") + text)
        return
    out.reads.append(Tok(("/workspace/" if top else "") + text, LIT))


def git_files(argv: list[Tok], top: bool = False) -> GitArgs:
    """`git diff --output=F` writes F; `git show HEAD:.env` and `git log -p -- .env` read .env."""
    out = GitArgs()
    i = subcommand_index(argv)
    _globals(argv, i, out)
    if i >= len(argv):
        return out
    sub = argv[i].text
    after_dashes = False
    pattern_seen = sub != "grep" or any(
        t.text in ("-e", "-f", "--file") or t.text.startswith(("-e", "-f")) for t in argv[i + 1 :]
    )
    j = i + 1
    while j < len(argv):
        tok, text = argv[j], argv[j].text
        if tok.kind == SLOT:
            j += 1
            continue
        if text == "--" and not after_dashes:
            after_dashes = True
        elif not after_dashes and text.startswith(("--output=", "--output-directory=")):
            out.writes.append(Tok(text.split("=", 1)[1], tok.kind))
        elif not after_dashes and (
            text in ("--output", "--output-directory") or (text == "-o" and sub in WRITE_O)
        ):
            if j + 1 < len(argv):
                out.writes.append(argv[j + 1])
            j += 1
        elif not after_dashes and sub == "grep" and text in ("-f", "--file"):
            if j + 1 < len(argv):
                out.reads.append(argv[j + 1])
            j += 1
        elif not after_dashes and sub in READERS and text in VALUE_OPTIONS:
            j += 1  # `--grep 'x*'` is not a pathspec
        elif sub in READERS and (after_dashes or not text.startswith("-")):
            if not after_dashes and not pattern_seen:
                pattern_seen = True  # `git grep PATTERN`
            elif not after_dashes and ":" in text and not text.startswith(":"):
                path = text.split(":", 1)[1].split(":", 1)[-1]
                if path:
                    out.reads.append(Tok(path, tok.kind))
            elif (
                after_dashes
                or "/" in text
                or text.startswith((".", ":"))
                or has_glob_chars(text)
                or tok.kind != LIT
            ):
                _pathspec(text, tok.kind, top, out)
        j += 1
    return out
