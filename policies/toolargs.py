"""File options of developer tools the shipped policies allow: pip, pytest, find.

`pip install --target .git x` writes `.git`; `pip install -r .env` reads `.env`;
`pytest --basetemp=tests` deletes and rewrites `tests`; `find . -fls F` writes F. Long
options may be abbreviated (optparse and argparse accept unique prefixes), so a long
option that is a prefix of a known file option counts as that option.
"""

from __future__ import annotations

from policies.shell import LIT, Tok

MIN_PREFIX = 4  # `--ta` for `--target`: shorter prefixes are ambiguous for these tools


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


# tool -> (options whose value is read, options whose value is written, other value options)
SPECS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    "pip": (
        _s("-r --requirement -c --constraint --find-links -f --build-constraint"),
        _s("-t --target --root --prefix --src --log --log-file --report --cache-dir -d --dest"),
        _s(
            "-i --index-url --extra-index-url --platform --python-version --implementation "
            "--abi --no-binary --only-binary --progress-bar --trusted-host --proxy --timeout "
            "--retries --exists-action --cert --client-cert --global-option --config-settings "
            "-C --upgrade-strategy --use-feature --use-deprecated --keyring-provider"
        ),
    ),
    "pytest": (
        _s("-c --config-file --rootdir --confcutdir --inifile"),
        _s(
            "--basetemp --junitxml --junit-xml --result-log --resultlog --report-log --html "
            "--log-file --json-report-file --debug --cov-report"
        ),
        _s(
            "-k -m -p -o --override-ini --maxfail --tb --durations --durations-min -W "
            "--pythonwarnings --log-level --log-format --log-cli-level --import-mode "
            "--capture --color --deselect --ignore --ignore-glob -n --numprocesses "
            "--cov --timeout --log-file-level --junit-prefix --show-capture"
        ),
    ),
}
SPECS["pip3"] = SPECS["pip"]
SPECS["py.test"] = SPECS["pytest"]
OPTIONAL_VALUE = _s("--debug --cov-report")  # only `--opt=VALUE` carries a file
FIND_WRITES = _s("-fls -fprint -fprint0 -fprintf")
FIND_READS = _s("-newer -anewer -cnewer -samefile -files0-from")


def _long(opt: str, names: frozenset[str]) -> str | None:
    if opt in names:
        return opt
    if len(opt) < MIN_PREFIX:
        return None
    hits = [n for n in names if n.startswith("--") and n.startswith(opt)]
    return hits[0] if hits else None


def tool_files(name: str, argv: list[Tok]) -> tuple[list[Tok], list[Tok]]:
    """(reads, writes) of `pip ...`, `pytest ...` or `find ...` (argv[0] is the tool)."""
    reads: list[Tok] = []
    writes: list[Tok] = []
    if name == "find":
        for i, tok in enumerate(argv[:-1]):
            if tok.text in FIND_WRITES:
                writes.append(argv[i + 1])
            elif tok.text in FIND_READS:
                reads.append(argv[i + 1])
        return reads, writes
    read_opts, write_opts, value_opts = SPECS[name]
    every = read_opts | write_opts | value_opts
    i = 1
    while i < len(argv):
        tok, text = argv[i], argv[i].text
        i += 1
        if tok.kind != LIT or not text.startswith("-") or text == "-":
            continue
        if text == "--":
            break
        opt, eq, value = text.partition("=")
        if opt.startswith("--"):
            full = _long(opt, every)
            if full is None:
                continue
            if eq:
                val: Tok | None = Tok(value, tok.kind)
            elif full in OPTIONAL_VALUE:
                continue
            else:
                val = argv[i] if i < len(argv) else None
                i += 1
        else:
            full = opt[:2]
            if full not in every:
                continue
            if len(text) > 2:
                val = Tok(text[2:].removeprefix("="), tok.kind)
            else:
                val = argv[i] if i < len(argv) else None
                i += 1
        if val is None:
            continue
        if full == "--cov-report":
            kind, _, path = val.text.partition(":")
            if not path or kind not in ("xml", "html", "json", "lcov", "annotate"):
                continue
            val = Tok(path, val.kind)
        if full in write_opts:
            writes.append(val)
        elif full in read_opts:
            reads.append(val)
    return reads, writes
