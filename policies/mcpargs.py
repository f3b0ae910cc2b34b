"""MCP tool calls: annotations, argument constraints of tool rules, and path arguments.

- `hints`: a tool's effective annotations. Missing ones take the MCP defaults (not read-only,
  destructive, not idempotent, open world): a server that says nothing is destructive.
- `ArgRule.mismatch`: why a rule's `when`, `arguments` and `allowed_keys` do not fit a call.
  Fail closed: an allow rule needs every list element to satisfy every constraint and a
  value it cannot check fails it; a deny/ask rule needs one element, an uncheckable value
  satisfies it, and strings are also compared case-folded.
- `path_claims`: the files a call names through arguments flagged `path`, as reads and
  writes to judge like `read_file`; `path: revision` also reads `PATH` of `REV:PATH`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.execmatch import MAYBE, YES, PTok, RegexBudget, _tok_level
from policies.paths import MAX_PATH, fold_text

MAX_DEPTH = 8  # nested lists in one argument
MAX_LEAVES = 4096  # values of one argument
MAX_PATHS = 1024  # path judgements for one call
MAX_STRINGS = 256  # unflagged strings judged for one call
MAX_BASES = 8  # directory arguments relative paths are also judged against (repo_path...)
MAX_COLONS = 16  # `:` in one revision

HINT_KEYS = {
    "read_only": ("readOnlyHint", False),
    "destructive": ("destructiveHint", True),
    "idempotent": ("idempotentHint", False),
    "open_world": ("openWorldHint", True),
}


def hints(annotations: dict[str, Any] | None) -> dict[str, bool]:
    """Effective hints: a missing or non-boolean hint takes the MCP default."""
    given = annotations or {}
    out: dict[str, bool] = {}
    for name, (key, default) in HINT_KEYS.items():
        value = given.get(key)
        out[name] = value if isinstance(value, bool) else default
    if out["read_only"]:
        out["destructive"] = False  # the spec: destructiveHint means nothing when read-only
    return out


class _Unknown:
    """A value that could not be flattened (too deep or too many elements)."""


UNKNOWN = _Unknown()


def leaves(value: Any) -> list[Any] | _Unknown:
    """The non-list values in `value` (nested lists flattened), or UNKNOWN past the bounds."""
    out: list[Any] = []
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, list):
            if depth >= MAX_DEPTH:
                return UNKNOWN
            todo.extend((x, depth + 1) for x in reversed(item))
        else:
            out.append(item)
            if len(out) > MAX_LEAVES:
                return UNKNOWN
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return None if math.isnan(number) else number


@dataclass(frozen=True, slots=True)
class ArgCheck:
    """One argument's constraints, compiled."""

    name: str
    glob: PTok | None = None
    regex: PTok | None = None
    low: float | None = None
    high: float | None = None
    required: bool = False
    path: str | None = None  # "read", "write", "both", "revision" or "none" (not a path)

    def _text_ok(self, p: PTok, leaf: Any, allow: bool, budget: RegexBudget) -> bool:
        if not isinstance(leaf, str):
            return not allow
        if allow:
            return _tok_level(p, leaf, False, budget) == YES
        return (
            _tok_level(p, fold_text(leaf), True, budget) >= MAYBE
            or _tok_level(p, leaf, False, budget) == YES
        )

    def _number_ok(self, leaf: Any, allow: bool) -> bool:
        number = _number(leaf)
        if number is None:
            return not allow
        return (self.low is None or number >= self.low) and (
            self.high is None or number <= self.high
        )

    def conditions(self) -> bool:
        return self.required or any(
            x is not None for x in (self.glob, self.regex, self.low, self.high)
        )

    def mismatch(self, arguments: dict[str, Any], allow: bool, budget: RegexBudget) -> str | None:
        """Why the value does not fit. An absent key fits an allow rule unless `required`,
        and never a deny/ask rule (nothing reaches the server through it)."""
        if not self.conditions():
            return None  # only a path kind: not a match condition
        if self.name not in arguments:
            return f"argument `{self.name}` is absent" if self.required or not allow else None
        values = leaves(arguments[self.name])
        if isinstance(values, _Unknown):
            return f"argument `{self.name}` is nested too deep to check" if allow else None
        tests: list[tuple[str, Any]] = []
        if self.glob is not None:
            tests.append((f"glob `{self.glob.exact}`", lambda x, p=self.glob: self._text_ok(
                p, x, allow, budget)))  # fmt: skip
        if self.regex is not None:
            tests.append((f"regex `{self.regex.exact}`", lambda x, p=self.regex: self._text_ok(
                p, x, allow, budget)))  # fmt: skip
        if self.low is not None or self.high is not None:
            bounds = f"[{'' if self.low is None else self.low}, "
            bounds += f"{'' if self.high is None else self.high}]"
            tests.append((f"bounds {bounds}", lambda x: self._number_ok(x, allow)))
        for what, ok in tests:
            if allow and not all(ok(x) for x in values):
                return f"argument `{self.name}` does not satisfy {what}"
            if not allow and not any(ok(x) for x in values):
                return f"argument `{self.name}` does not satisfy {what}"
        return None


@dataclass(frozen=True, slots=True)
class ArgRule:
    """What a tool rule asks of a call beyond its tool glob."""

    checks: tuple[ArgCheck, ...] = ()
    allowed: frozenset[str] | None = None
    when: tuple[tuple[str, bool], ...] = ()

    def mismatch(
        self,
        arguments: dict[str, Any],
        tool_hints: dict[str, bool],
        allow: bool,
        budget: RegexBudget,
    ) -> str | None:
        """Why the rule does not fit this call, or None when it does."""
        for name, want in self.when:
            if tool_hints[name] != want:
                return f"the tool's annotations do not give `{name}: {str(want).lower()}`"
        if self.allowed is not None:
            extra = sorted(k for k in arguments if k not in self.allowed)
            if extra:
                return f"argument `{extra[0][:80]}` is not in allowed_keys"
        for check in self.checks:
            why = check.mismatch(arguments, allow, budget)
            if why is not None:
                return why
        return None

    def summary(self) -> str:
        """Short text of the constraints, for `explain`."""
        parts = [f"{k}={str(v).lower()}" for k, v in self.when]
        for c in self.checks:
            bits = [f"glob {c.glob.exact}"] if c.glob is not None else []
            bits += [f"regex {c.regex.exact}"] if c.regex is not None else []
            bits += [f"min {c.low:g}"] if c.low is not None else []
            bits += [f"max {c.high:g}"] if c.high is not None else []
            bits += ["required"] if c.required else []
            bits += [f"path {c.path}"] if c.path is not None else []
            parts.append(f"{c.name}: {', '.join(bits)}")
        if self.allowed is not None:
            parts.append(f"allowed_keys: {', '.join(sorted(self.allowed))}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Claim:
    """A file an argument names: `op` of `path` relative to `cwd`, or an `error` (deny)."""

    argument: str
    op: str = "read"
    path: str = ""
    cwd: str = "."
    error: str | None = None
    code: str = "mcp-bad-path-argument"  # the built-in rule an error is denied by


def _revision_paths(text: str) -> list[str]:
    """The paths a git revision may read: after each of the first `:` (`REV:PATH`, `:PATH`,
    `:N:PATH`; git splits at the first ones). For text longer than a path can be
    (its whole-value read is denied as a bad path): none."""
    if len(text) > MAX_PATH:
        return []
    colons = [i for i, ch in enumerate(text) if ch == ":"][:MAX_COLONS]
    return [(text[i + 1 :].lstrip("/") or ".") for i in colons]


def path_claims(
    rules: Iterable[ArgRule], arguments: dict[str, Any], tool_hints: dict[str, bool]
) -> list[Claim]:
    """Every file the call's path arguments name (path kinds from all the given rules)."""
    kinds: dict[str, set[str]] = {}
    for rule in rules:
        for check in rule.checks:
            if check.path is not None and check.path != "none":
                kinds.setdefault(check.name, set()).add(check.path)
    out: list[Claim] = []
    strings: dict[str, list[str]] = {}
    bases: list[tuple[str, str]] = []  # single-string path arguments: `repo_path`, a root
    for name in sorted(kinds):
        value = arguments.get(name)
        if value is None:
            continue
        values = leaves(value)
        if isinstance(values, _Unknown) or not all(isinstance(v, str) for v in values):
            out.append(Claim(name, error=f"argument `{name}` names files but is not a string "
                                          "or a list of strings"))  # fmt: skip
            continue
        strings[name] = [v for v in values if isinstance(v, str)]
        if isinstance(value, str) and kinds[name] & {"read", "write", "both"}:
            bases.append((name, value))
    if len(bases) > MAX_BASES:
        return [Claim("*", error=f"the call names more than {MAX_BASES} directories")]
    for name, values in strings.items():
        dirs = ["."] + [base for owner, base in bases if owner != name]
        for kind in sorted(kinds[name]):
            out.extend(_claims(name, kind, values, dirs, tool_hints))
            if len(out) > MAX_PATHS:
                return [Claim("*", error=f"the call names more than {MAX_PATHS} paths")]
    return out


def _claims(
    name: str, kind: str, values: Sequence[str], dirs: Sequence[str], tool_hints: dict[str, bool]
) -> list[Claim]:
    """Each value relative to the workspace and to each other directory argument (git_add
    `files` are relative to `repo_path`): only a non-allow result counts, so more is safe."""
    out: list[Claim] = []
    for value in values:
        where = dirs if not value.startswith("/") else ["."]
        if kind in ("read", "both"):
            out.extend(Claim(name, "read", value, d) for d in where)
        if kind == "write" or (kind == "both" and not tool_hints["read_only"]):
            out.extend(Claim(name, "write", value, d) for d in where)
        if kind != "revision":
            continue
        if value.startswith("-"):
            why = f"argument `{name}` starts with `-`: a git option, not a revision"
            out.append(Claim(name, error=why, code="mcp-option-argument"))
            continue
        # `git diff TARGET`: a non-revision is a path; `REV:PATH` reads PATH from the tree
        out.extend(Claim(name, "read", value, d) for d in where)
        for path in _revision_paths(value):
            out.extend(Claim(name, "read", path, d) for d in dirs)
        if len(out) > MAX_PATHS:
            break
    return out


def flagged(rules: Iterable[ArgRule]) -> set[str]:
    """Arguments some rule gives a path kind (`path: false` included): not sniffed."""
    return {c.name for rule in rules for c in rule.checks if c.path is not None}


def sniffed(arguments: dict[str, Any], skip: set[str]) -> list[tuple[str, str]]:
    """`(argument, candidate path)` for the strings of unflagged arguments (objects and
    lists walked, at most `MAX_STRINGS` strings): the whole string and what follows each `:`."""
    out: list[tuple[str, str]] = []
    seen = 0
    for name in sorted(arguments):
        if name in skip:
            continue
        todo: list[tuple[Any, int]] = [(arguments[name], 0)]
        while todo and seen < MAX_STRINGS:
            item, depth = todo.pop()
            if isinstance(item, str):
                seen += 1
                out.append((name, item))
                out.extend((name, rest) for rest in _revision_paths(item) if rest != ".")
            elif isinstance(item, list | dict) and depth < MAX_DEPTH:
                values = item.values() if isinstance(item, dict) else item
                todo.extend((v, depth + 1) for v in values)
    return out
