import re

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-rc([1-9]\d*))?")


def _key(text):
    match = _VERSION.fullmatch(text)
    if not match:
        raise ValueError(text)
    major, minor, patch, rc = match.groups()
    return (int(major), int(minor), int(patch), 0 if rc else 1, int(rc or 0))


def compare_versions(a, b):
    ka, kb = _key(a), _key(b)
    return (ka > kb) - (ka < kb)
