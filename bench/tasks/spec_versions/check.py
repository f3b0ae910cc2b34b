"""Hidden check: compare_versions against an independent ordering on unseen versions."""

from checklib import call_each, compare, passed, paths, rng


def key(v: tuple[int, int, int, int]) -> tuple[int, int, int, int, int]:
    major, minor, patch, rc = v
    return (major, minor, patch, 0 if rc else 1, rc)


def text(v: tuple[int, int, int, int]) -> str:
    major, minor, patch, rc = v
    return f"{major}.{minor}.{patch}" + (f"-rc{rc}" if rc else "")


def main() -> None:
    ws, _ = paths()
    r = rng()
    pool = [
        (r.randint(0, 12), r.randint(0, 12), r.randint(0, 12), r.choice([0, 0, 1, 2, 9, 10]))
        for _ in range(12)
    ]
    pool += [(1, 9, 0, 0), (1, 10, 0, 0), (1, 0, 0, 9), (1, 0, 0, 10), (1, 0, 0, 0)]
    pairs = [(a, b) for a in pool for b in pool]
    got = call_each(
        ws, "release.versions", [("compare_versions", [text(a), text(b)]) for a, b in pairs]
    )
    for (a, b), result in zip(pairs, got, strict=True):
        want = (key(a) > key(b)) - (key(a) < key(b))
        compare(f"compare_versions({text(a)!r}, {text(b)!r})", result, ["ok", want])
    bad = ["1.2", "1.2.3.4", "v1.2.3", "1.2.3-beta", "1.2.x", " 1.2.3", "1.2.3-rc", "1.2.3-rc0", ""]
    got = call_each(ws, "release.versions", [("compare_versions", [b, "1.0.0"]) for b in bad])
    for b, result in zip(bad, got, strict=True):
        compare(f"compare_versions({b!r}, '1.0.0')", result, ["raise", "ValueError"])
    passed()


main()
