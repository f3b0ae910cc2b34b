"""sed scripts: accept only what we can parse as safe, everything else is dynamic.

GNU sed runs shell commands with the `e` command and the `s///e` flag, reads files with
`r`/`R` and writes them with `w`/`W` and `s///w` — with any delimiter (`s|a|b|e`,
`s a b e`, `sxaxbxe`). A blocklist regex cannot follow that, so the script is parsed:
addresses, `{ } !`, the commands `p P d D q Q = n N g G h H x z l F`, labels and branches
(`: b t T`), `y` and `s` with flags `g p i I m M` and digits. `w FILE` (flag or command) is
a write of FILE. Anything else (`e`, `r`, `a`/`i`/`c` text, unknown letters, unterminated
parts) makes the script unsafe. The script is parsed twice, with and without treating
`[...]` specially inside a regex, and is safe only when both readings are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIMPLE = frozenset("pPdDqQ=nNgGhHxzlF")
S_FLAGS = frozenset("gpiImM0123456789")
MAX_SCRIPT = 4096


class Unsafe(Exception):
    """The script does something we do not accept (the message says what)."""


@dataclass(slots=True)
class SedScript:
    writes: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, brackets: bool) -> None:
        self.s = text
        self.i = 0
        self.brackets = brackets
        self.out = SedScript()

    def peek(self) -> str:
        """The next character, or "" at the end."""
        return self.s[self.i] if self.i < len(self.s) else ""

    def blanks(self, newlines: bool = False) -> None:
        while self.peek() in (" ", "\t") or (newlines and self.peek() in ("\n", ";")):
            self.i += 1

    def delimited(self, delim: str, regex: bool) -> str:
        """Text up to the next unescaped `delim` (consumed)."""
        start = self.i
        while True:
            c = self.peek()
            if c == "":
                raise Unsafe("unterminated sed expression")
            if c == "\\":
                self.i += 2
                continue
            if c == "\n" and regex:
                raise Unsafe("newline inside a sed regex")
            if c == "[" and regex and self.brackets:
                self.bracket()
                continue
            if c == delim:
                self.i += 1
                return self.s[start : self.i - 1]
            self.i += 1

    def bracket(self) -> None:
        self.i += 1
        if self.peek() == "^":
            self.i += 1
        if self.peek() == "]":
            self.i += 1
        while True:
            c = self.peek()
            if c == "":
                raise Unsafe("unterminated `[` in a sed regex")
            if c == "[" and self.s[self.i + 1 : self.i + 2] in (":", ".", "="):
                end = self.s.find(self.s[self.i + 1] + "]", self.i + 2)
                if end < 0:
                    raise Unsafe("unterminated character class in a sed regex")
                self.i = end + 2
                continue
            self.i += 1
            if c == "]":
                return

    def address(self) -> None:
        c = self.peek()
        if c.isdigit():
            while self.peek().isdigit():
                self.i += 1
            if self.peek() == "~":
                self.i += 1
                while self.peek().isdigit():
                    self.i += 1
        elif c == "$":
            self.i += 1
        elif c in ("/", "\\"):
            if c == "\\":
                self.i += 1
                c = self.peek()
                if c in ("", "\n", "\\"):
                    raise Unsafe("bad sed address delimiter")
            self.i += 1
            self.delimited(c, True)
            while self.peek() in ("I", "M"):
                self.i += 1
        else:
            return
        self.blanks()
        if self.peek() == ",":
            self.i += 1
            self.blanks()
            if self.peek() in ("+", "~"):
                self.i += 1
                while self.peek().isdigit():
                    self.i += 1
            else:
                self.address()

    def filename(self) -> str:
        self.blanks()
        end = self.s.find("\n", self.i)
        end = len(self.s) if end < 0 else end
        name = self.s[self.i : end]
        self.i = end
        if not name:
            raise Unsafe("`w` without a file name")
        return name

    def label(self) -> None:
        self.blanks()
        while self.peek() not in ("", "\n", ";", "}"):
            self.i += 1

    def command(self) -> None:
        self.address()
        self.blanks()
        while self.peek() == "!":
            self.i += 1
            self.blanks()
        c = self.peek()
        self.i += 1
        if c == "{" or c == "}":
            return
        if c == "#":
            end = self.s.find("\n", self.i)
            self.i = len(self.s) if end < 0 else end
            return
        if c in SIMPLE:
            if c in "qQlL":
                self.blanks()
                while self.peek().isdigit():
                    self.i += 1
        elif c in (":", "b", "t", "T"):
            self.label()
        elif c == "y":
            delim = self.peek()
            if delim in ("", "\n", "\\"):
                raise Unsafe("bad `y` delimiter")
            self.i += 1
            self.delimited(delim, False)
            self.delimited(delim, False)
        elif c == "s":
            self.substitute()
            return
        elif c in ("w", "W"):
            self.out.writes.append(self.filename())
            return
        else:
            raise Unsafe(f"sed command `{c}` is not accepted" if c else "empty sed command")
        self.end()

    def substitute(self) -> None:
        delim = self.peek()
        if delim in ("", "\n", "\\"):
            raise Unsafe("bad `s` delimiter")
        self.i += 1
        self.delimited(delim, True)
        self.delimited(delim, False)
        while True:
            c = self.peek()
            if c in S_FLAGS and c:
                self.i += 1
            elif c == "w":
                self.i += 1
                self.out.writes.append(self.filename())
                return
            elif c == "e":
                raise Unsafe("`s///e` runs the pattern space as a shell command")
            else:
                break
        self.end()

    def end(self) -> None:
        self.blanks()
        c = self.peek()
        if c in ("", "\n", ";"):
            return
        if c in ("}", "#"):
            return
        raise Unsafe(f"unexpected `{c}` after a sed command")

    def parse(self) -> SedScript:
        if len(self.s) > MAX_SCRIPT:
            raise Unsafe("sed script too long to check")
        while True:
            self.blanks(newlines=True)
            if self.i >= len(self.s):
                return self.out
            self.command()


def parse_sed(script: str) -> SedScript:
    """The files a sed script writes; raises `Unsafe` when it is not accepted."""
    if script.startswith("#n\n"):
        script = script[3:]
    first = _Parser(script, brackets=True).parse()
    second = _Parser(script, brackets=False).parse()
    for name in second.writes:
        if name not in first.writes:
            first.writes.append(name)
    return first


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


SED_FLAGS = frozenset("nErsuz")
SED_LONG = _s(
    "--quiet --silent --regexp-extended --separate --unbuffered --null-data "
    "--zero-terminated --posix --debug --sandbox --follow-symlinks --binary"
)


def sed_scripts(argv: list[str]) -> tuple[list[str], int | None, str | None]:
    """(scripts, index of the first file operand or None, why unsafe or None)."""
    scripts: list[str] = []
    first_file: int | None = None
    i = 1
    while i < len(argv):
        text = argv[i]
        if text == "--":
            first_file = i + 1 if i + 1 < len(argv) else None
            break
        if text.startswith("--"):
            opt, eq, value = text.partition("=")
            if opt == "--expression":
                if not eq:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                scripts.append(value)
            elif opt == "--file":
                return scripts, None, "`sed --file` runs a script from a file"
            elif opt == "--line-length" and not eq:
                i += 1
            elif opt not in SED_LONG and opt not in ("--in-place", "--line-length"):
                return scripts, None, f"unknown sed option `{opt[:40]}`"
        elif text.startswith("-") and text != "-":
            for k, ch in enumerate(text[1:], 1):
                rest = text[k + 1 :]
                if ch in SED_FLAGS:
                    continue
                if ch == "i":
                    break  # the rest is the backup suffix
                if ch in ("e", "l"):
                    if not rest:
                        i += 1
                        rest = argv[i] if i < len(argv) else ""
                    if ch == "e":
                        scripts.append(rest)
                    break
                if ch == "f":
                    return scripts, None, "`sed -f` runs a script from a file"
                return scripts, None, f"unknown sed option `-{ch}`"
        elif not scripts and first_file is None:
            scripts.append(text)
            first_file = -1
        elif first_file is None or first_file == -1:
            first_file = i
        i += 1
    if first_file == -1:
        first_file = None
    return scripts, first_file, None
