"""`rempart completion bash|zsh|fish` and `rempart man`, generated from the parser itself.

shtab writes the completion scripts and argparse-manpage the roff page, both from the very
`argparse` parser the program runs, so neither can drift from the options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import shtab
from argparse_manpage.manpage import Manpage

from agent.about import rempart_version

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "rempart completion bash > ~/.local/share/bash-completion/completions/rempart",
    "zsh": "rempart completion zsh > ~/.zfunc/_rempart  (with fpath+=~/.zfunc before compinit)",
    "fish": "rempart completion fish > ~/.config/fish/completions/rempart.fish",
}
EXIT_CODES = """\
0 success; 1 the task failed, or a check the command ran said no (policy check/test, audit
verify, doctor); 2 usage error; 3 a step, token or time limit ran out; 4 stopped by you;
5 the model finished but the project's check failed; 6 the policy refused what the task
needed; 7 the model server did not answer; 8 a problem for you to fix (configuration, a
policy file, the store); 125 the sandbox could not run; 126 (sandbox exec) the command cannot
be invoked; 127 (sandbox exec) the command was not found; 130 interrupted (Ctrl+C).
"""

Parser = Callable[[], argparse.ArgumentParser]


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    script: str = shtab.complete(parser, shell=shell)
    return script


def man_page(parser: argparse.ArgumentParser) -> str:
    data = {
        "version": rempart_version(),
        "project_name": "rempart",
        "description": "sandboxed, on-prem coding agent",
        "manual_title": "Rempart manual",
        "date": "",
        "url": "",
    }
    page = str(Manpage(parser, _data=data))
    return page + "\n.SH EXIT STATUS\n" + EXIT_CODES.replace("\n", " ").strip() + "\n"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], build: Parser) -> None:
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for your shell. Install it with:\n  "
        + "\n  ".join(INSTALL.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(func=lambda args: _print(completion_script(build(), args.shell)))
    man = sub.add_parser(
        "man",
        help="print the manual page (roff): rempart man | man -l -",
    )
    man.set_defaults(func=lambda args: _print(man_page(build())))


def _print(text: str) -> int:
    print(text, end="" if text.endswith("\n") else "\n")
    return 0
