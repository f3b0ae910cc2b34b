"""Untrusted text for widgets: `policies.termsafe` escapes, highlighted, and never markup.

`visible` is what a person approves: every control, invisible and non-ASCII character as an
escape (`\\x1b`, `\\u200b`, `\\u0430`), highlighted. `shown` is everything else a widget
shows of untrusted text (output, diffs, model text, reasons): newlines and tabs kept, the
characters a terminal could act on escaped and highlighted. Both return `rich.text.Text`,
so `[bold red]` in the text stays text: never pass untrusted `str` to a widget that parses
markup (`Static("...")`, DataTable `str` cells, `notify`, `border_title`).
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

from policies.termsafe import pieces

MARK_STYLE = "bold reverse"


def _text(text: str, style: str, keep: str, strict: bool) -> Text:
    out = Text(style=style)
    for chunk, escaped in pieces(text, keep=keep, strict=strict):
        out.append(chunk, style=MARK_STYLE if escaped else None)
    return out


def visible(text: str, style: str = "") -> Text:
    """`text` with every non-printable or non-ASCII character escaped and highlighted."""
    return _text(text, style, keep="", strict=True)


def shown(text: str, style: str = "") -> Text:
    """Untrusted multi-line text: controls, bidi and invisible characters escaped, highlighted."""
    return _text(text, style, keep="\n\t", strict=False)


def unusual(text: str) -> list[str]:
    """Names of the characters `visible` escapes (for a warning line), in order, unique."""
    seen: dict[str, None] = {}
    for char in text:
        if not (0x20 <= ord(char) < 0x7F) and char not in "\n\t\r":
            name = unicodedata.name(char, "") or f"{unicodedata.category(char)} control character"
            seen.setdefault(f"U+{ord(char):04X} {name}", None)
    return list(seen)
