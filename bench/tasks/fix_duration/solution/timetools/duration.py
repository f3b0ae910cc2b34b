"""Durations written like `2h`, `45m`, `1h30m`, `90s` or `1h2m3s`."""

import re

UNITS = {"h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([hms])")


def parse_duration(text):
    """Seconds in a duration string; ValueError when the text is not a duration."""
    text = text.strip().lower()
    if not text or _PART.sub("", text):
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * UNITS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds):
    """The shortest `XhYmZs` form of a number of seconds (`0s` for zero)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"
