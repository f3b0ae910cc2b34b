"""Glob → regular expression translation with bounded matching time.

Every `*` that is followed by more pattern in the same component becomes an atomic
lazy group (`(?>[^/]*?X)`): the leftmost match of `X` is always a correct choice there,
so no backtracking is needed and pathological patterns stay linear. `**` (at most
`MAX_DOUBLE_STARS` per pattern) may backtrack over path components only.
"""

from __future__ import annotations

import re

MAX_STARS = 16
MAX_DOUBLE_STARS = 3


class GlobError(ValueError):
    """A glob that cannot be compiled, with a message for a person."""


def _atoms(component: str, any_char: str) -> list[str | None]:
    """Split one component into atoms: None for `*`, else a regex for one character."""
    out: list[str | None] = []
    i, n = 0, len(component)
    while i < n:
        c = component[i]
        if c == "*":
            if not out or out[-1] is not None:
                out.append(None)
            i += 1
        elif c == "?":
            out.append(any_char)
            i += 1
        elif c == "[":
            j = i + 1
            negate = j < n and component[j] in "!^"
            if negate:
                j += 1
            start = j
            if j < n and component[j] == "]":
                j += 1
            while j < n and component[j] != "]":
                j += 1
            if j >= n:
                raise GlobError(f"unclosed `[` in glob `{component}`")
            body = component[start:j].replace("\\", "\\\\").replace("^", "\\^")
            body = body.replace("[", "\\[")
            if not body:
                raise GlobError(f"empty character class in glob `{component}`")
            excluded = "/" if any_char == "[^/]" else ""
            out.append(f"[^{body}{excluded}]" if negate else f"(?![{excluded}])[{body}]")
            if not excluded:
                out[-1] = f"[^{body}]" if negate else f"[{body}]"
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(component[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return out


def component_regex(component: str, any_char: str = "[^/]", hide_dot: bool = False) -> str:
    """Regex for one path component (or a whole token when `any_char` is `.`)."""
    atoms = _atoms(component, any_char)
    if sum(1 for a in atoms if a is None) > MAX_STARS:
        raise GlobError(f"more than {MAX_STARS} `*` in `{component}`")
    run = any_char + "*"
    parts: list[str] = []
    if hide_dot and atoms and not component.startswith("."):
        parts.append(r"(?!\.)")
    stars = [i for i, a in enumerate(atoms) if a is None]
    last_star = stars[-1] if stars else -1
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom is not None:
            parts.append(atom)
            i += 1
            continue
        j = i + 1
        lit: list[str] = []
        while j < len(atoms) and atoms[j] is not None:
            lit.append(atoms[j] or "")
            j += 1
        if i == last_star:
            parts.append(run + "".join(lit))
        else:
            parts.append(f"(?>{run}?{''.join(lit)})")
        i = j
    return "".join(parts)


def token_regex(glob: str) -> re.Pattern[str]:
    """A glob over a whole string: `*` and `?` match any character (used for argv and MCP)."""
    return re.compile(component_regex(glob, any_char="."), re.DOTALL)


def path_regex(pattern: str, hide_dot: bool = False) -> str:
    """Regex text for a normalised path pattern (components split on `/`, `**` collapsed)."""
    comps: list[str] = []
    for comp in pattern.split("/"):
        if comp == "**" and comps and comps[-1] == "**":
            continue
        comps.append(comp)
    if sum(1 for c in comps if c == "**") > MAX_DOUBLE_STARS:
        raise GlobError(f"more than {MAX_DOUBLE_STARS} `**` in `{pattern}`")
    n = len(comps)
    out: list[str] = []
    for i, comp in enumerate(comps):
        if comp == "**":
            if n == 1:
                out.append(".*")
            elif i == 0:
                out.append("(?:.*/)?")
            elif i == n - 1:
                out.append("(?:/.*)?")
            else:
                out.append("/(?:.*/)?")
            continue
        if i > 0 and comps[i - 1] != "**":
            out.append("/")
        if comp == "" and i == 0:
            continue  # leading `/` of an absolute pattern
        out.append(component_regex(comp, hide_dot=hide_dot))
    return "".join(out)


def shell_glob_regex(arg: str) -> re.Pattern[str]:
    """What a shell would match an unquoted glob argument against (dotfiles hidden)."""
    return re.compile(path_regex(arg, hide_dot=True), re.DOTALL)


def has_glob_chars(text: str) -> bool:
    return any(c in text for c in "*?[")
