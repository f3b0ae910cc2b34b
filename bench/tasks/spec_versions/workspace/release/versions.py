"""Version ordering for release notes."""


def compare_versions(a, b):
    """-1, 0 or 1 as version a is lower than, equal to or higher than version b."""
    raise NotImplementedError
