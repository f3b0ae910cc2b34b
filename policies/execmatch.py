"""Matching exec rules (argv patterns) against argv tokens.

A pattern is a list of tokens: a literal, `"*"` (one token), `"**"` (any number, also none),
`{glob: ...}` or `{regex: ...}` (one token). Patterns match an argv *prefix* unless the rule
says `exact: true`. The result is a level: NO, MAYBE (a non-literal token could expand to
something that matches) or YES. Allow rules need YES on exact tokens; deny and ask rules
apply on MAYBE over case-folded tokens, so they catch `GIT push` and `$X push`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies.globs import GlobError, token_regex
from policies.paths import fold_text
from policies.schema import GlobToken, RegexToken, Token
from policies.shell import LIT, SLOT, Tok
from policies.wrappers import command_name

NO, MAYBE, YES = 0, 1, 2
MAX_TOKEN_FOR_REGEX = 1024
MAX_ARGV = 4096
MAX_DP = 200
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*[*+{?]")

LITERAL, STAR, DSTAR, PATTERN = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class PTok:
    kind: int
    exact: str
    folded: str
    rx_exact: re.Pattern[str] | None = None
    rx_folded: re.Pattern[str] | None = None


def compile_token(token: Token, first: bool) -> PTok:
    """Compile one pattern token (raises ValueError with a message for a person)."""
    if isinstance(token, str):
        if token == "*":
            return PTok(STAR, token, token)
        if token == "**":
            return PTok(DSTAR, token, token)
        text = command_name(token) if first else token
        return PTok(LITERAL, text, fold_text(text))
    if isinstance(token, GlobToken):
        try:
            return PTok(
                PATTERN, token.glob, token.glob, token_regex(token.glob),
                token_regex(fold_text(token.glob)),
            )  # fmt: skip
        except GlobError as exc:
            raise ValueError(str(exc)) from exc
    assert isinstance(token, RegexToken)
    if _NESTED_QUANTIFIER.search(token.regex):
        raise ValueError("regex has a quantified group containing a quantifier (slow matching)")
    try:
        exact = re.compile(token.regex, re.DOTALL)
        folded = re.compile(token.regex, re.DOTALL | re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"regex does not compile: {exc}") from exc
    return PTok(PATTERN, token.regex, token.regex, exact, folded)


def _tok_level(p: PTok, text: str, folded: bool) -> int:
    if p.kind == STAR:
        return YES
    if p.kind == LITERAL:
        return YES if (p.folded if folded else p.exact) == text else NO
    rx = p.rx_folded if folded else p.rx_exact
    assert rx is not None
    if len(text) > MAX_TOKEN_FOR_REGEX:
        return MAYBE if folded else NO
    return YES if rx.fullmatch(text) else NO


def is_simple(pat: list[PTok]) -> bool:
    """No `**` before the last token: a literal argv matches in one left-to-right pass."""
    return all(p.kind != DSTAR for p in pat[:-1])


def match_level(
    pat: list[PTok],
    toks: list[Tok],
    texts: list[str],
    exact: bool,
    folded: bool,
    simple: bool | None = None,
) -> int:
    """How well `pat` matches argv (`texts` are the token texts, folded when `folded`).

    `simple` (optional, for speed): the argv is all literal and `is_simple(pat)`.
    """
    n = len(toks)
    if n > MAX_ARGV:
        return MAYBE if folded else NO
    if simple is None:
        simple = all(t.kind == LIT for t in toks) and is_simple(pat)
    if simple:
        for i, p in enumerate(pat):
            if p.kind == DSTAR:
                return YES
            if i >= n or _tok_level(p, texts[i], folded) == NO:
                return NO
        return YES if not exact or len(pat) == n else NO
    if not exact and is_simple(pat):
        k = len(pat) - (1 if pat and pat[-1].kind == DSTAR else 0)
        if n >= k and all(toks[i].kind == LIT for i in range(k)):
            # the prefix is literal: what follows it cannot change a prefix match
            for i in range(k):
                if _tok_level(pat[i], texts[i], folded) == NO:
                    return NO
            return YES
    if n > MAX_DP:
        return MAYBE if folded else NO
    memo: dict[tuple[int, int], int] = {}

    def f(i: int, j: int) -> int:
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(pat):
            rest = toks[j:]
            res = (
                YES if not exact or not rest else MAYBE if all(t.kind != LIT for t in rest) else NO
            )
        elif pat[i].kind == DSTAR:
            res = max(f(i + 1, k) for k in range(j, n + 1))
        elif j == n:
            res = YES if all(p.kind == DSTAR for p in pat[i:]) else NO
        elif toks[j].kind == LIT:
            res = min(_tok_level(pat[i], texts[j], folded), f(i + 1, j + 1))
        else:
            one = YES if pat[i].kind == STAR or toks[j].kind == SLOT else MAYBE
            res = min(one, f(i + 1, j + 1))
            if toks[j].kind != SLOT:
                res = max(res, min(MAYBE, f(i, j + 1)), min(MAYBE, f(i + 1, j)))
        memo[key] = res
        return res

    return f(0, 0)
