"""Hidden check: no `get_usr` left anywhere, get_user works, main.py output unchanged."""

import re

from checklib import call_each, compare, fail, passed, paths, run


def main() -> None:
    ws, orig = paths()
    for path in sorted(ws.rglob("*.py")):
        if re.search(r"\bget_usr\b", path.read_text()):
            fail(f"{path.relative_to(ws)} still mentions get_usr")
    want = run(["python3", "main.py"], orig)
    if want.returncode != 0:
        fail(f"check is broken: original main.py exited {want.returncode}")
    got = run(["python3", "main.py"], ws)
    if got.returncode != 0:
        fail(f"main.py exited {got.returncode}: {got.stderr[-400:]}")
    compare("main.py output", got.stdout, want.stdout)
    result = call_each(ws, "accounts.store", [("get_user", [2]), ("get_user", [99])])
    compare(
        "get_user(2)",
        result[0],
        ["ok", {"name": "linus", "email": "linus@example.org", "admin": False}],
    )
    compare("get_user(99)", result[1], ["raise", "KeyError"])
    passed()


main()
