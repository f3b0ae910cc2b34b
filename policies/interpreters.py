"""Commands whose real program is not in argv: shell code, inline interpreter code, `eval`.

`code_reason(argv)` returns why a command must be treated as dynamic (never allowed by an
allow rule), or None. It errs on the side of "dynamic": a false positive costs an approval,
a false negative is a bypass.
"""

from __future__ import annotations

import re

from policies.paths import fold_text
from policies.sedscript import Unsafe, parse_sed, sed_scripts
from policies.shell import GLOB, LIT, Tok
from policies.wrappers import command_name

_SHELL_NAMES = "sh bash zsh dash ksh mksh ash fish csh tcsh yash posh rbash pwsh powershell"
SHELLS = frozenset(_SHELL_NAMES.split())
SHELL_BUILTINS = {
    "eval": "`eval` runs a string as shell code",
    "source": "`source` runs a file as shell code in this shell",
    ".": "`.` runs a file as shell code in this shell",
    "alias": "`alias` redefines command names",
    "unalias": "`unalias` changes command names",
    "hash": "`hash` remaps command names to paths",
    "enable": "`enable` loads or toggles shell builtins",
    "trap": "`trap` installs shell code to run later",
    "bind": "`bind` can attach shell code to keys",
    "complete": "`complete` can install shell code",
    "fc": "`fc` re-runs commands from history",
    "let": "`let` evaluates arithmetic that can run code",
    "export": "`export` changes the environment of later commands",
    "declare": "`declare` changes shell variables",
    "typeset": "`typeset` changes shell variables",
    "local": "`local` changes shell variables",
    "readonly": "`readonly` changes shell variables",
    "set": "`set` changes shell options or positional parameters",
    "shopt": "`shopt` changes shell options",
    "mapfile": "`mapfile` assigns shell variables",
    "readarray": "`readarray` assigns shell variables",
}
# interpreter -> options that take inline code
INLINE_CODE: dict[str, frozenset[str]] = {
    "perl": frozenset(["-e", "-E"]),
    "ruby": frozenset(["-e"]),
    "node": frozenset(["-e", "--eval", "-p", "--print"]),
    "nodejs": frozenset(["-e", "--eval", "-p", "--print"]),
    "bun": frozenset(["-e", "--eval", "-p", "--print"]),
    "deno": frozenset(["eval"]),
    "php": frozenset(["-r", "-R", "-B", "-E"]),
    "lua": frozenset(["-e"]),
    "luajit": frozenset(["-e"]),
    "rscript": frozenset(["-e"]),
    "r": frozenset(["-e"]),
    "julia": frozenset(["-e", "-E", "--eval", "--print"]),
    "osascript": frozenset(["-e"]),
    "groovy": frozenset(["-e"]),
    "tclsh": frozenset(),
    "wish": frozenset(),
    "vim": frozenset(["-c", "--cmd", "-S"]),
    "vi": frozenset(["-c", "--cmd", "-S"]),
    "nvim": frozenset(["-c", "--cmd", "-S"]),
    "ex": frozenset(["-c", "--cmd", "-S"]),
    "emacs": frozenset(["--eval", "-l", "--load", "-f", "--funcall", "-batch", "--batch"]),
    "make": frozenset(["--eval"]),
    "gdb": frozenset(["-ex", "-x", "--batch", "-batch"]),
}
STDIN_READERS = frozenset(
    ["perl", "ruby", "node", "nodejs", "php", "lua", "luajit", "tclsh", "wish", "julia"]
)
DANGEROUS_OPTIONS: dict[str, tuple[str, ...]] = {
    "tar": ("--to-command", "--checkpoint-action", "-I", "--use-compress-program",
            "--rsh-command", "--info-script", "--new-volume-script", "-F"),
    "rsync": ("-e", "--rsh", "--rsync-path"),
    "scp": ("-S", "-o"),
    "ssh": ("-o", "-F"),
    "sftp": ("-S", "-o", "-F"),
    "zip": ("-TT", "--unzip-command"),
    "sort": ("--compress-program",),
    "git": ("--upload-pack", "--receive-pack", "--exec", "--extcmd", "--open-files-in-pager"),
    "rg": ("--pre",),
    "less": ("+!", "-+"),
}  # fmt: skip
_PYTHON = re.compile(r"(?:python|pypy)[0-9.]*")
PYTHON_SHORT_VALUE = frozenset("WXQ")
PYTHON_LONG_VALUE = frozenset(["--check-hash-based-pycs"])
_STDIN_PATH = re.compile(r"/+(?:dev/+(?:stdin|tty|fd/+[0-9]+)|proc/+[^/]+/+fd/+[0-9]+)/*")
_AWK = frozenset(["awk", "gawk", "mawk", "nawk"])
_AWK_DANGER = re.compile(r"system|\||>|getline|ENVIRON|PROCINFO|@load|@include")


def _options(argv: list[Tok], with_arg: frozenset[str]) -> tuple[list[str], list[Tok]]:
    """(option texts, positional tokens) of a command, honouring `--`."""
    opts: list[str] = []
    pos: list[Tok] = []
    i = 1
    while i < len(argv):
        text = argv[i].text
        if text == "--":
            pos.extend(argv[i + 1 :])
            break
        if text.startswith("-") and text != "-" and argv[i].kind == LIT:
            opts.append(text)
            if text in with_arg:
                i += 1
                if i < len(argv):
                    opts.append(argv[i].text)
        else:
            pos.append(argv[i])
        i += 1
    return opts, pos


def _shell(name: str, argv: list[Tok]) -> str | None:
    i = 1
    while i < len(argv):
        text = argv[i].text
        if text == "-":
            return f"`{name} -` reads commands from standard input"
        if text == "--" or not text.startswith(("-", "+")) or text == "+":
            rest = argv[i + 1 :] if text == "--" else argv[i:]
            return _stdin_script(name, rest[:1])
        if text.startswith("--"):
            if text in ("--rcfile", "--init-file", "--command"):
                return f"`{name} {text}` runs shell code"
        elif any(c in text[1:] for c in "cisCE") or text.lower() in (
            "-command",
            "-encodedcommand",
            "-file",
        ):
            return f"`{name} {text}` runs shell code given on the command line or stdin"
        if text in ("-o", "+o", "-O", "+O"):
            i += 1
        i += 1
    return f"`{name}` reads commands from standard input"


def _python(name: str, argv: list[Tok]) -> str | None:
    i = 1
    while i < len(argv):
        text = argv[i].text
        if text == "-":
            return f"`{name} -` reads code from standard input"
        if text == "--":
            return _stdin_script(name, argv[i + 1 : i + 2])
        if not text.startswith("-"):
            return _stdin_script(name, argv[i : i + 1])
        if text.startswith("--"):
            opt, eq, _ = text.partition("=")
            if opt in ("--version", "--help", "--help-all", "--help-env", "--help-xoptions"):
                return None
            i += 2 if opt in PYTHON_LONG_VALUE and not eq else 1
            continue
        for k, ch in enumerate(text[1:], 1):
            rest = text[k + 1 :]
            if ch == "c":
                return f"`{name} -c` runs code given on the command line"
            if ch == "m":
                return None if rest or i + 1 < len(argv) else f"`{name} -m` without a module"
            if ch in "hV":
                return None
            if ch in PYTHON_SHORT_VALUE:
                i += 0 if rest else 1  # `-W error` / `-Werror`
                break
        i += 1
    return f"`{name}` reads code from standard input"


def _stdin_script(name: str, script: list[Tok]) -> str | None:
    """`python3 /dev/stdin`, `bash /dev/fd/0`: the program comes from standard input."""
    if not script:
        return f"`{name}` reads code from standard input"
    text = script[0].text
    if script[0].kind == LIT and (text == "-" or _STDIN_PATH.fullmatch(text)):
        return f"`{name} {text[:40]}` reads code from standard input"
    return None


def _script_of(name: str, argv: list[Tok], letters: frozenset[str]) -> str | None:
    for tok in argv[1:]:
        text = tok.text
        if (
            text in letters
            or (
                text.startswith("-")
                and not text.startswith("--")
                and any(f"-{c}" in letters for c in text[1:])
            )
            or (text.startswith("--") and text.partition("=")[0] in letters)
        ):
            return f"`{name} {text[:40]}` runs code given on the command line"
    operands = [t for t in argv[1:] if t.text == "-" or not t.text.startswith("-")]
    if name in STDIN_READERS and not operands:
        return f"`{name}` reads code from standard input"
    return _stdin_script(name, operands[:1]) if operands else None


def code_reason(argv: list[Tok]) -> str | None:
    """Why this (literal) command runs code that is not in its argv, or None."""
    if not argv:
        return None
    name = fold_text(command_name(argv[0].text))
    if name in SHELL_BUILTINS:
        return SHELL_BUILTINS[name]
    if name in SHELLS:
        return _shell(name, argv)
    if _PYTHON.fullmatch(name):
        return _python(name, argv)
    if name in INLINE_CODE:
        return _script_of(name, argv, INLINE_CODE[name])
    if name in _AWK:
        opts, pos = _options(argv, frozenset(["-F", "-v", "-f", "--file"]))
        if "-f" in opts or "--file" in opts:
            return f"`{name} -f` runs a program from a file"
        if pos and _AWK_DANGER.search(pos[0].text):
            return f"`{name}` program runs commands, writes files or reads the environment"
        return None if pos else f"`{name}` without a program"
    if name == "sed":
        texts = [t.text if t.kind in (LIT, GLOB) else "\x00" for t in argv]
        scripts, _, why = sed_scripts(texts)
        if why:
            return why
        for script in scripts:
            if "\x00" in script:
                return "`sed` script is not literal"
            try:
                parse_sed(script)
            except Unsafe as exc:
                return f"`sed` script is not one we can check as safe ({exc})"
        return None
    if name == "git":
        return _git(argv)
    for opt in DANGEROUS_OPTIONS.get(name, ()):
        if any(t.text == opt or t.text.startswith(opt + "=") for t in argv[1:]):
            return f"`{name} {opt}` can run other programs"
    return None


def _git(argv: list[Tok]) -> str | None:
    i = 1
    while i < len(argv) and argv[i].text.startswith("-"):
        text = argv[i].text
        if text == "-c" or text.startswith(("--config-env", "--exec-path=", "-c")):
            return "`git -c`/`--config-env` can make git run arbitrary programs"
        i += 2 if text in ("-C", "--git-dir", "--work-tree", "--namespace") else 1
    sub = argv[i].text if i < len(argv) else ""
    rest = [t.text for t in argv[i + 1 :]]
    if sub in ("filter-branch", "filter-repo") or (sub == "submodule" and "foreach" in rest):
        return f"`git {sub}` runs shell code"
    if sub == "rebase" and any(t in ("-x", "--exec") or t.startswith("--exec=") for t in rest):
        return "`git rebase --exec` runs shell code"
    if sub in ("difftool", "mergetool") and any(t.startswith(("-x", "--extcmd")) for t in rest):
        return f"`git {sub} --extcmd` runs a program"
    opts = rest[: rest.index("--")] if "--" in rest else rest
    if sub == "grep" and any(t.startswith("-") and not t.startswith("--") and "O" in t
                             for t in opts):  # fmt: skip
        return "`git grep -O` opens the matches with a program of the caller's choice"
    for text in opts:
        opt = text.partition("=")[0]
        if not opt.startswith("--") or len(opt) < 3:
            continue
        for danger in DANGEROUS_OPTIONS["git"]:
            if danger.startswith(opt):  # git accepts unique prefixes of long options
                return f"`git {opt}` (`{danger}`) runs a program"
    return None
