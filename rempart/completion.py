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
from policies.exitcodes import MEANING, Exit

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "rempart completion bash > ~/.local/share/bash-completion/completions/rempart",
    "zsh": "rempart completion zsh > ~/.zfunc/_rempart  (with fpath+=~/.zfunc before compinit)",
    "fish": "rempart completion fish > ~/.config/fish/completions/rempart.fish",
}
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
    codes = "".join(f".TP\n.B {int(code)}\n{MEANING[code]}\n" for code in Exit)
    return page + "\n.SH EXIT STATUS\n" + codes.replace("-", "\\-")


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
