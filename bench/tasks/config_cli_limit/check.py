"""Hidden check: --limit N shows N lines (default 10), bad values are usage errors (exit 2)."""

from collections import Counter

from checklib import compare, fail, passed, paths, rng, run


def expected(ws, limit):  # type: ignore[no-untyped-def]
    lines = (ws / "unseen.log").read_text().splitlines()
    errors = [line.split("ERROR", 1)[1].strip() for line in lines if "ERROR" in line]
    return "".join(
        f"{count:5d}  {message}\n" for message, count in Counter(errors).most_common(limit)
    )


def main() -> None:
    ws, _ = paths()
    r = rng()
    lines = [f"t{i} ERROR code {r.randint(0, 30) // r.randint(1, 4)}" for i in range(400)]
    (ws / "unseen.log").write_text("\n".join(lines) + "\n")
    proc = run(["python3", "top_errors.py", "unseen.log"], ws)
    compare("default run", (proc.returncode, proc.stdout), (0, expected(ws, 10)))
    for limit in (1, 3, r.randint(4, 9), 25):
        for args in (["unseen.log", "--limit", str(limit)], ["--limit", str(limit), "unseen.log"]):
            proc = run(["python3", "top_errors.py", *args], ws)
            compare(
                f"top_errors.py {' '.join(args)}",
                (proc.returncode, proc.stdout),
                (0, expected(ws, limit)),
            )
    for bad in ("0", "-1", "ten", "2.5"):
        proc = run(["python3", "top_errors.py", "unseen.log", "--limit", bad], ws)
        if proc.returncode != 2 or not proc.stderr.strip():
            fail(f"--limit {bad}: exit {proc.returncode}, stderr {proc.stderr[-200:]!r}")
    passed()


main()
