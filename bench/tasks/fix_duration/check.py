"""Hidden check: tests unchanged and passing; parse_duration right on unseen durations."""

from checklib import call_each, compare, passed, paths, require_unchanged, rng, run_pytest


def main() -> None:
    ws, orig = paths()
    require_unchanged(ws, orig, "tests/**/*")
    run_pytest(ws)
    r = rng()
    cases: list[tuple[str, int]] = []
    for _ in range(20):
        h, m, s = r.randint(0, 30), r.randint(0, 59), r.randint(0, 59)
        text = (
            (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")
        )
        cases.append((text, h * 3600 + m * 60 + s))
    got = call_each(ws, "timetools", [("parse_duration", [t]) for t, _ in cases])
    for (text, seconds), result in zip(cases, got, strict=True):
        compare(f"parse_duration({text!r})", result, ["ok", seconds])
    bad = call_each(ws, "timetools", [("parse_duration", ["later"]), ("parse_duration", ["5x"])])
    compare("parse_duration of garbage", bad, [["raise", "ValueError"]] * 2)
    passed()


main()
