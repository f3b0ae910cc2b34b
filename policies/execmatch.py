"""Matching exec rules (argv patterns) against argv tokens.

A pattern is a list of tokens: a literal, `"*"` (one token), `"**"` (any number, also none),
`{glob: ...}` or `{regex: ...}` (one token). Patterns match an argv *prefix* unless the rule
says `exact: true`. The result is a level: NO, MAYBE (a non-literal token could expand to
something that matches) or YES. Allow rules need YES on exact tokens; deny and ask rules
apply on MAYBE over case-folded tokens, so they catch `GIT push` and `$X push`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import regex

from policies.globs import GlobError, token_regex
from policies.paths import fold_text
from policies.schema import GlobToken, RegexToken, Token
from policies.shell import LIT, SLOT, Tok
from policies.wrappers import command_name

NO, MAYBE, YES = 0, 1, 2
MAX_TOKEN_FOR_REGEX = 1024
MAX_ARGV = 4096
MAX_DP = 200
REGEX_TIMEOUT_S = 0.005  # one `{regex: ...}` token against one argv word
REGEX_BUDGET_S = 0.05  # all regex tokens of one exec action together
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*[*+{?]")
# a quantified group holding an alternation or an optional part: `(a|a)*`, `(a?){25}`
_RISKY_GROUP = re.compile(r"\((?:[^()\\]|\\.)*[|?](?:[^()\\]|\\.)*\)\s*[*+{]")

LITERAL, STAR, DSTAR, PATTERN = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class PTok:
    kind: int
    exact: str
    folded: str
    rx_exact: re.Pattern[str] | regex.Pattern[str] | None = None
    rx_folded: re.Pattern[str] | regex.Pattern[str] | None = None
    timed: bool = False  # a user regex: matched with a timeout (`regex` module)


@dataclass(slots=True)
class RegexBudget:
    """Time spent on user regexes for one action; past the budget they fail closed unrun."""

    spent: float = 0.0
    timed_out: list[str] = field(default_factory=list)

    def match(self, p: PTok, text: str, folded: bool) -> int:
        """Fail closed on timeout: a match for deny/ask (`folded`), no match for allow."""
        rx = p.rx_folded if folded else p.rx_exact
        assert isinstance(rx, regex.Pattern)
        failed = YES if folded else NO
        if self.spent >= REGEX_BUDGET_S:
            self._note(p)
            return failed
        start = time.perf_counter()
        try:
            found = rx.fullmatch(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            self._note(p)
            return failed
        finally:
            self.spent += time.perf_counter() - start
        return YES if found else NO

    def _note(self, p: PTok) -> None:
        if p.exact not in self.timed_out:
            self.timed_out.append(p.exact)


def regex_risk(pattern: str) -> str | None:
    """Why a regex token may match slowly (a `policy check` warning), or None."""
    if _RISKY_GROUP.search(pattern):
        return (
            "regex has a quantified group with an alternation or optional part "
            "(slow matching: matches are cut off after 5 ms and fail closed)"
        )
    if pattern.count("*") + pattern.count("+") + pattern.count("{") > 8:
        return "regex has many quantifiers (slow matching: matches are cut off after 5 ms)"
    return None


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
        re.compile(token.regex, re.DOTALL)  # the documented dialect is Python's `re`
        exact = regex.compile(token.regex, regex.DOTALL)
        folded = regex.compile(token.regex, regex.DOTALL | regex.IGNORECASE)
    except (re.error, regex.error) as exc:
        raise ValueError(f"regex does not compile: {exc}") from exc
    return PTok(PATTERN, token.regex, token.regex, exact, folded, timed=True)


def _tok_level(p: PTok, text: str, folded: bool, budget: RegexBudget | None = None) -> int:
    if p.kind == STAR:
        return YES
    if p.kind == LITERAL:
        return YES if (p.folded if folded else p.exact) == text else NO
    rx = p.rx_folded if folded else p.rx_exact
    assert rx is not None
    if len(text) > MAX_TOKEN_FOR_REGEX:
        return MAYBE if folded else NO
    if p.timed:
        return (budget or RegexBudget()).match(p, text, folded)
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
    budget: RegexBudget | None = None,
) -> int:
    """How well `pat` matches argv (`texts` are the token texts, folded when `folded`).

    `simple` (optional, for speed): the argv is all literal and `is_simple(pat)`.
    `budget` bounds (and records timeouts of) user regex tokens over one action.
    """
    if budget is None:
        budget = RegexBudget()
    n = len(toks)
    if n > MAX_ARGV:
        return MAYBE if folded else NO
    if simple is None:
        simple = all(t.kind == LIT for t in toks) and is_simple(pat)
    if simple:
        for i, p in enumerate(pat):
            if p.kind == DSTAR:
                return YES
            if i >= n or _tok_level(p, texts[i], folded, budget) == NO:
                return NO
        return YES if not exact or len(pat) == n else NO
    if not exact and is_simple(pat):
        k = len(pat) - (1 if pat and pat[-1].kind == DSTAR else 0)
        if n >= k and all(toks[i].kind == LIT for i in range(k)):
            # the prefix is literal: what follows it cannot change a prefix match
            for i in range(k):
                if _tok_level(pat[i], texts[i], folded, budget) == NO:
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
            res = min(_tok_level(pat[i], texts[j], folded, budget), f(i + 1, j + 1))
        else:
            one = YES if pat[i].kind == STAR or toks[j].kind == SLOT else MAYBE
            res = min(one, f(i + 1, j + 1))
            if toks[j].kind != SLOT:
                res = max(res, min(MAYBE, f(i, j + 1)), min(MAYBE, f(i + 1, j)))
        memo[key] = res
        return res

    return f(0, 0)
