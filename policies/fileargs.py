"""Which arguments of common commands are files read or written.

`cat .env` must not pass because the rule allows `cat`: every path argument of the commands
below is judged as `fs.read` / `fs.write` by the files rules. Unknown commands are not
guessed at (the sandbox mask is the second wall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.gitargs import git_files
from policies.paths import fold_text
from policies.sedscript import Unsafe, parse_sed, sed_scripts
from policies.shell import LIT, SLOT, Tok
from policies.toolargs import tool_files
from policies.wrappers import command_name


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


READERS = _s(
    "cat tac nl head tail less more most wc sort uniq cut paste od xxd hexdump hd strings "
    "base64 base32 basenc md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum "
    "sum file stat diff diff3 sdiff cmp comm join fold fmt pr expand unexpand rev iconv column "
    "bat batcat view zcat zless zmore bzcat xzcat lzcat zstdcat gzip gunzip bzip2 bunzip2 xz "
    "unxz zstd lz4 unzip shuf split csplit look tsort readelf objdump nm xmllint exiftool "
    "openssl gpg python python3 node ruby perl bash sh zsh dash php lua source . vim vi nvim "
    "nano emacs code jq yq"
)
GREPS = _s("grep egrep fgrep zgrep rg ag ack")
SCRIPTED = _s("sed awk gawk mawk nawk")
FILTER_FIRST = _s("jq yq")
WRITERS = _s(
    "rm rmdir unlink shred truncate touch mkdir mkfifo mknod tee chattr setfacl dos2unix unix2dos"
)
MODE_FIRST = _s("chmod chown chgrp")
COPIERS = _s("cp install rsync scp")
KNOWN = READERS | GREPS | SCRIPTED | WRITERS | MODE_FIRST | COPIERS | {"mv", "ln", "tar", "zip"}
VALUE_OPTIONS = _s(
    "-n -c -m -A -B -C -d -D -e -f -k -t -s -w -l -L -b -g -j -M -T -o -O -S -N -I -E -F -K "
    "-u -U -x -X --lines --bytes --max-count --include --exclude --exclude-dir --regexp --file "
    "--key --field-separator --output --delimiter --fields --characters --target-directory "
    "--glob --type --type-not --max-depth --context --before-context --after-context --mode "
    "--suffix --reference --size --width --from --to --argjson --arg"
)
FILE_VALUE_READ = _s("-f --file --from-file --rawfile --slurpfile -r --reference -a --arg-file")
FILE_VALUE_WRITE = _s("-o --output --target-directory")
TARGET_DIR = _s("cp install mv ln")  # `-t DIR`: the directory written to
NO_VALUE = {
    "grep": _s("-c -s -l -L -o -b -x -u -T -U -E -F -G -P -i -v -w -n -h -H -q -r -R -I -a -z"),
    "rg": _s("-c -s -l -o -b -x -u -U -F -P -i -v -w -n -h -H -q -a -z -S -L -N -p"),
    "sort": _s("-b -d -f -g -i -M -h -n -R -r -V -c -C -m -s -u -z"),
    "head": _s("-q -v -z"),
    "tail": _s("-f -F -q -v -z"),
    "cp": _s("-a -b -d -f -i -l -L -n -P -p -R -r -s -T -u -v -x"),
    "mv": _s("-b -f -i -n -T -u -v"),
    "ln": _s("-b -d -F -f -i -L -n -P -r -s -T -v"),
    "rm": _s("-d -f -i -I -r -R -v"),
    "mkdir": _s("-p -v"),
    "touch": _s("-a -c -f -h -m"),
    "tee": _s("-a -i -p"),
    "sed": _s("-n -E -r -s -u -z"),
    "diff": _s("-a -b -B -c -d -e -E -i -N -p -q -r -s -t -T -u -w -y"),
    "wc": _s("-c -l -m -w -L"),
    "cut": _s("-s -z -n"),
    "uniq": _s("-c -d -D -i -u -z"),
    "gzip": _s("-c -d -f -k -l -n -N -q -r -t -v -1 -9"),
}


@dataclass(slots=True)
class FileArgs:
    reads: list[Tok] = field(default_factory=list)
    writes: list[Tok] = field(default_factory=list)
    pathspecs: list[str] = field(default_factory=list)  # git globs (see gitargs.py)
    chdir: list[Tok] = field(default_factory=list)  # `git -C DIR`: paths are under DIR
    dynamic: str | None = None


def _scan(name: str, argv: list[Tok], out: FileArgs) -> list[Tok]:
    """Positional operands; option values go to `out` (unknown ones as reads, to be safe)."""
    flags = NO_VALUE.get(name, frozenset())
    pos: list[Tok] = []
    i = 1
    while i < len(argv):
        tok = argv[i]
        text = tok.text
        if text == "--" and tok.kind == LIT:
            pos.extend(argv[i + 1 :])
            break
        if tok.kind != LIT or not text.startswith("-") or text == "-":
            pos.append(tok)
            i += 1
            continue
        opt, eq, value = text.partition("=")
        if opt.startswith("--"):
            if eq:
                _file_value(opt, Tok(value, tok.kind), out, name)
            elif opt in VALUE_OPTIONS or opt in FILE_VALUE_READ or opt in FILE_VALUE_WRITE:
                if i + 1 < len(argv):
                    _file_value(opt, argv[i + 1], out, name)
                i += 1
            i += 1
            continue
        for k in range(1, len(text)):  # a cluster: `-rt DIR`, `-ofile`
            short = f"-{text[k]}"
            if short in flags or short not in VALUE_OPTIONS:
                continue
            if k + 1 < len(text):
                _file_value(short, Tok(text[k + 1 :], tok.kind), out, name)
            elif i + 1 < len(argv):
                _file_value(short, argv[i + 1], out, name)
                i += 1
            break
        i += 1
    return pos


def _file_value(opt: str, tok: Tok, out: FileArgs, name: str = "") -> None:
    if opt in FILE_VALUE_WRITE or (opt == "-t" and name in TARGET_DIR):
        out.writes.append(tok)
    elif tok.kind != SLOT:
        out.reads.append(tok)  # a file option, or a flag we mistook for one: judge it


def sed_writes(argv: list[Tok]) -> list[str]:
    """Files a sed script writes with `w` (unsafe scripts are dynamic elsewhere)."""
    scripts, _, why = sed_scripts([t.text for t in argv])
    out: list[str] = []
    for script in [] if why else scripts:
        try:
            out.extend(parse_sed(script).writes)
        except Unsafe:
            continue
    return out


def file_args(argv: list[Tok]) -> FileArgs:
    """The files a (literal) command reads and writes, as far as we know the command."""
    out = FileArgs()
    if not argv or argv[0].kind != LIT:
        return out
    name = fold_text(command_name(argv[0].text))
    if name == "git":
        git = git_files(argv)
        return FileArgs(git.reads, git.writes, git.pathspecs, git.chdir, git.dynamic)
    if name in ("python", "python3") and len(argv) > 2 and argv[1].text == "-m":
        name, argv = argv[2].text, argv[2:]
    if name in ("pip", "pip3", "pytest", "py.test", "find"):
        reads, writes = tool_files(name, argv)
        return FileArgs(reads, writes)
    if name == "dd":
        for tok in argv[1:]:
            if tok.text.startswith("if="):
                out.reads.append(Tok(tok.text[3:], tok.kind))
            elif tok.text.startswith("of="):
                out.writes.append(Tok(tok.text[3:], tok.kind))
        return out
    if name not in KNOWN:
        return out
    pos = [t for t in _scan(name, argv, out) if t.kind != SLOT]
    if name in GREPS or name in SCRIPTED or name in FILTER_FIRST:
        has_script = any(
            t.text in ("-e", "--regexp", "-f", "--file", "--expression", "--from-file")
            or t.text.startswith(("--regexp=", "--expression=", "--file="))
            for t in argv[1:]
        )
        if not has_script and pos:
            pos = pos[1:]
        if name == "sed" and any(t.text.startswith(("-i", "--in-place")) for t in argv[1:]):
            out.writes.extend(pos)
        if name == "sed":
            out.writes.extend(Tok(w) for w in sed_writes(argv))
    if name in MODE_FIRST:
        out.writes.extend(pos[1:])
    elif name in WRITERS:
        out.writes.extend(pos)
    elif name in COPIERS:
        out.reads.extend(pos[:-1] if len(pos) > 1 and not out.writes else pos)
        if len(pos) > 1 and not out.writes:
            out.writes.append(pos[-1])
    elif name == "mv":
        out.reads.extend(pos)
        out.writes.extend(pos)
    elif name == "ln":
        targets = pos[:-1] if len(pos) > 1 else pos
        out.reads.extend(targets)
        if len(pos) > 1:
            out.writes.append(pos[-1])
        elif pos:
            out.writes.append(Tok(pos[0].text.rstrip("/").rsplit("/", 1)[-1], pos[0].kind))
    elif name in ("tar", "zip"):
        out.reads.extend(pos)
    else:
        out.reads.extend(pos)
    return out
