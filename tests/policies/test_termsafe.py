"""The one escaping step for terminal output: what is escaped, in which notation, and what not."""

from __future__ import annotations

import json

from policies.termsafe import json_safe, pieces, safe, safe_line

ATTACK = "a\x1b]0;pwned\x07b\x1b[2Jc\r  policy: ALLOW\x9b31m\u202etxt.exe\u2066x\u2069\x7f\x08"


def test_terminal_controls_c1_bidi_and_invisible_characters_are_shown_as_escapes() -> None:
    assert safe(ATTACK) == (
        "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\r  policy: ALLOW\\x9b31m"
        "\\u202etxt.exe\\u2066x\\u2069\\x7f\\x08"
    )
    assert safe("zero\u200bwidth\ufeff tag\U000e0041 sep\u2028") == (
        "zero\\u200bwidth\\ufeff tag\\U000e0041 sep\\u2028"
    )


def test_newlines_tabs_and_printable_unicode_are_kept() -> None:
    text = "déjà vu\n\tπ = 3.14 · 日本語 ✔\n"
    assert safe(text) == text


def test_a_one_line_field_escapes_newlines_and_tabs_too() -> None:
    assert safe_line("rule\n  policy: ALLOW\t") == "rule\\n  policy: ALLOW\\t"


def test_strict_mode_escapes_every_non_ascii_look_alike() -> None:
    assert safe("rm -rf \u0430pp", strict=True) == "rm -rf \\u0430pp"


def test_pieces_mark_exactly_the_escapes_and_join_to_safe() -> None:
    parts = list(pieces("ok\x1b[2Jé\r"))
    assert parts == [("ok", False), ("\\x1b", True), ("[2Jé", False), ("\\r", True)]
    assert "".join(chunk for chunk, _ in pieces(ATTACK)) == safe(ATTACK)


def test_json_keeps_the_data_but_no_raw_c1_or_bidi_character() -> None:
    line = json_safe(json.dumps({"text": ATTACK, "ok": "é"}, ensure_ascii=False))
    assert json.loads(line) == {"text": ATTACK, "ok": "é"}
    assert not any(c in line for c in "\x1b\x07\r\x9b\u202e\u2066\x7f")
    assert "é" in line
