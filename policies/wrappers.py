"""Commands that run other commands: wrappers are unwrapped so the wrapped command is judged.

`analyse(argv)` says which inner commands a simple command runs (`timeout 5 git push` runs
`git push`; `find . -exec rm {} ;` runs `rm {}`), whether the wrapper is *transparent*
(adds nothing by itself, so its own rules apply but no default), and whether it makes the
command dynamic (options we do not know, `env NAME=value`, `sudo -s`, `watch`, ...).
Code given on the command line to shells and interpreters is in `interpreters.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policies.paths import fold_text
from policies.shell import LIT, SLOT, Tok

STD_BIN = frozenset({"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"})
MAX_UNWRAP = 8


@dataclass(frozen=True, slots=True)
class Spec:
    args: frozenset[str] = frozenset()  # options that take a value
    flags: frozenset[str] = frozenset()  # options without a value
    dynamic: frozenset[str] = frozenset()  # options that run a shell or shell code
    stop: frozenset[str] = frozenset()  # options after which no command is run
    positionals: int = 0  # operands before the wrapped command
    transparent: bool = True
    numeric_flags: bool = False  # `nice -10`


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


WRAPPERS: dict[str, Spec] = {
    "timeout": Spec(
        _s("-s --signal -k --kill-after"),
        _s("--preserve-status --foreground -v --verbose"),
        positionals=1,
    ),
    "nice": Spec(_s("-n --adjustment"), numeric_flags=True),
    "nohup": Spec(),
    "env": Spec(
        _s("-u --unset -C --chdir"),
        _s("-i --ignore-environment - -0 --null -v --debug"),
        _s("-S --split-string"),
    ),
    "command": Spec(flags=_s("-p"), stop=_s("-v -V")),
    "builtin": Spec(),
    "exec": Spec(_s("-a"), _s("-c -l")),
    "sudo": Spec(
        _s(
            "-u --user -g --group -C --close-from -D --chdir -h "
            "--host -p --prompt -r --role -t --type -U --other-user "
            "-T --command-timeout"
        ),
        _s(
            "-A --askpass -b --background -E --preserve-env -H "
            "--set-home -k --reset-timestamp -n --non-interactive -P "
            "--preserve-groups -S --stdin -B --bell -N --no-update"
        ),
        _s("-s --shell -i --login -e --edit"),
        _s("-l --list -v --validate -K --remove-timestamp -V --version"),
        transparent=False,
    ),
    "doas": Spec(_s("-u -C"), _s("-n"), _s("-s"), transparent=False),
    "su": Spec(
        _s("-s --shell -g --group -G --supp-group -w --whitelist-environment"),
        _s("- -l --login -m -p --preserve-environment -P --pty"),
        _s("-c --command --session-command"),
        transparent=False,
    ),
    "runuser": Spec(
        _s("-u --user -g --group -G --supp-group -s --shell -w"),
        _s("- -l --login -m -p --preserve-environment"),
        _s("-c --command --session-command"),
        transparent=False,
    ),
    "stdbuf": Spec(_s("-i --input -o --output -e --error")),
    "ionice": Spec(
        _s("-c --class -n --classdata"), _s("-t --ignore"), stop=_s("-p --pid -P --pgid -u --uid")
    ),
    "chroot": Spec(_s("--userspec --groups"), _s("--skip-chdir"), positionals=1, transparent=False),
    "setsid": Spec(flags=_s("-c --ctty -f --fork -w --wait")),
    "time": Spec(
        _s("-f --format -o --output"), _s("-p --portability -v --verbose -a --append -q --quiet")
    ),
    "flock": Spec(
        _s("-w --timeout -E --conflict-exit-code"),
        _s(
            "-s --shared -x -e --exclusive -n --nb --nonblock -u "
            "--unlock -o --close -F --no-fork --verbose"
        ),
        _s("-c --command"),
        positionals=1,
    ),
    "strace": Spec(
        _s("-o -e -p -s -u -E -a -b -I -O -P -S -X"),
        _s("-f -ff -c -C -d -D -i -k -q -qq -r -t -tt -ttt -T -v -V -x -xx -y -yy -z -Z -w"),
        transparent=False,
    ),
    "ltrace": Spec(
        _s("-o -e -p -s -u -a -A -D -F -l -n"),
        _s("-f -c -C -d -i -r -S -t -tt -ttt -T"),
        transparent=False,
    ),
    "busybox": Spec(),
    "unbuffer": Spec(flags=_s("-p")),
    "fakeroot": Spec(_s("-l --lib --faked -s -i"), _s("-u --unknown-is-real"), transparent=False),
    "taskset": Spec(flags=_s("-a --all-tasks -c --cpu-list"), stop=_s("-p --pid"), positionals=1),
    "chrt": Spec(flags=_s("-a -b -d -f -i -o -r -R -m -v"), stop=_s("-p --pid"), positionals=1),
    "catchsegv": Spec(),
    "xargs": Spec(
        _s(
            "-a --arg-file -d --delimiter -E -I -L --max-lines -n "
            "--max-args -P --max-procs -s --max-chars "
            "--process-slot-var"
        ),
        _s("-0 --null -o --open-tty -p --interactive -r --no-run-if-empty -t --verbose -x --exit"),
    ),
    "watch": Spec(
        _s("-n --interval -d --differences -q --equexit"),
        _s(
            "-b --beep -c --color -e --errexit -g --chgexit -p "
            "--precise -t --no-title -w --no-wrap -x --exec"
        ),
    ),
    "coproc": Spec(),
}
ALWAYS_DYNAMIC = {
    "watch": "`watch` runs its command through `sh -c`",
    "parallel": "`parallel` runs its commands through a shell",
    "coproc": "`coproc` starts a background co-process",
    "script": "`script` runs a shell",
    "sg": "`sg` runs its command through a shell",
    "expect": "`expect` runs a script language",
}
RUN_SUBCOMMANDS = {
    ("uv", "run"), ("poetry", "run"), ("pipenv", "run"), ("pdm", "run"), ("hatch", "run"),
    ("conda", "run"), ("git", "bisect"), ("npm", "exec"), ("pnpm", "exec"), ("yarn", "exec"),
}  # fmt: skip
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def command_name(text: str) -> str:
    """`/usr/bin/git` → `git` (standard bin directories only; `./git` stays `./git`)."""
    if "/" in text:
        head, _, base = text.rpartition("/")
        norm = "/" + "/".join(p for p in head.split("/") if p and p != ".")
        if base and norm in STD_BIN:
            return base
    return text


@dataclass(slots=True)
class Analysis:
    inner: list[tuple[list[Tok], str]] = field(default_factory=list)
    transparent: bool = False
    dynamic: str | None = None


def _split_options(argv: list[Tok], start: int, spec: Spec, name: str, out: Analysis) -> int | None:
    """Index of the wrapped command, or None when there is none (or it cannot be known)."""
    i = start
    while i < len(argv):
        tok = argv[i]
        text = tok.text
        if tok.kind != LIT:
            out.dynamic = out.dynamic or f"non-literal option to `{name}`"
            return None
        if text == "--":
            i += 1
            break
        if not text.startswith("-") or (text == "-" and "-" not in spec.flags):
            break
        opt, eq, _ = text.partition("=")
        if opt in spec.stop:
            return None
        if opt in spec.dynamic:
            out.dynamic = f"`{name} {opt}` runs a shell"
            return None
        if opt in spec.args:
            i += 1 if eq else 2
            continue
        if opt in spec.flags or (spec.numeric_flags and opt[1:].isdigit()):
            i += 1
            continue
        short = text[1:] if len(text) > 2 and text[1] != "-" else ""
        if short and all(f"-{c}" in spec.flags for c in short):
            i += 1
            continue
        if short and f"-{short[0]}" in spec.args:
            i += 1  # value glued to the option: `-n10`
            continue
        out.dynamic = f"unknown option `{text[:40]}` to `{name}`"
        return None
    if name == "env":
        while i < len(argv) and _ASSIGN.match(argv[i].text):
            out.dynamic = out.dynamic or f"`env` sets variables (`{argv[i].text[:60]}`)"
            i += 1
    i += spec.positionals
    return i if i < len(argv) else None


def _find_names(argv: list[Tok]) -> list[str]:
    """Literal `-name X` / `-path X` operands of a find (what `{}` can be), at most 4."""
    names: list[str] = []
    for i, tok in enumerate(argv[:-1]):
        if tok.text in ("-exec", "-execdir", "-ok", "-okdir"):
            break
        if tok.text in ("-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename"):
            value = argv[i + 1]
            if value.kind == LIT and value.text and not any(c in value.text for c in "*?[\\"):
                names.append(value.text)
    return names[:4]


def _find_exec(argv: list[Tok], out: Analysis) -> None:
    names = _find_names(argv)
    i = 1
    while i < len(argv):
        if argv[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            via = argv[i].text
            j = i + 1
            while j < len(argv) and argv[j].text not in (";", "+"):
                j += 1
            inner = [Tok(t.text, SLOT) if "{}" in t.text else t for t in argv[i + 1 : j]]
            if inner:
                out.inner.append((inner, f"find {via}"))
                for name in names:  # `-name .env -exec cat {} ;` reads `.env`
                    lit = [Tok(name) if t.kind == SLOT and t.text == "{}" else t for t in inner]
                    if lit != inner:
                        out.inner.append((lit, f"find {via} on `{name[:60]}`"))
            else:
                out.dynamic = "`find -exec` without a command"
            i = j
        i += 1


def analyse(argv: list[Tok]) -> Analysis:
    """What `argv` runs besides itself (see module docs)."""
    out = Analysis()
    if not argv or argv[0].kind != LIT:
        return out
    name = fold_text(command_name(argv[0].text))
    if name in ALWAYS_DYNAMIC:
        out.dynamic = ALWAYS_DYNAMIC[name]
    if name == "find":
        _find_exec(argv, out)
        return out
    if len(argv) > 1 and (name, argv[1].text) in RUN_SUBCOMMANDS:
        rest = argv[2:]
        if name == "git":  # git bisect run CMD
            idx = next((k for k, t in enumerate(rest) if t.text == "run"), None)
            rest = rest[idx + 1 :] if idx is not None else []
        elif rest and rest[0].text.startswith("-"):
            out.dynamic = f"options to `{name} {argv[1].text}` are not understood"
            return out
        if rest:
            out.inner.append((rest, f"{name} {argv[1].text}"))
        return out
    spec = WRAPPERS.get(name)
    if spec is None:
        return out
    out.transparent = spec.transparent
    start = _split_options(argv, 1, spec, name, out)
    if start is None:
        return out
    inner = list(argv[start:])
    if name == "xargs":
        inner.append(Tok("{xargs input}", SLOT))
    out.inner.append((inner, name))
    return out
