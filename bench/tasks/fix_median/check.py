"""Hidden check: tests unchanged and passing; median right on unseen inputs, input untouched."""

import statistics

from checklib import call_each, compare, passed, paths, require_unchanged, rng, run_pytest


def main() -> None:
    ws, orig = paths()
    require_unchanged(ws, orig, "tests/**/*")
    run_pytest(ws)
    r = rng()
    samples = [[r.randint(-50, 50) for _ in range(r.randint(1, 12))] for _ in range(20)]
    got = call_each(ws, "stats", [("median", [s]) for s in samples] + [("median", [[]])])
    for sample, result in zip(samples, got, strict=False):
        compare(f"median({sample})", result, ["ok", statistics.median(sample)])
    compare("median([])", got[-1], ["raise", "ValueError"])
    passed()


main()
