"""Hidden check: summarize.py totals per region correctly on unseen CSVs; summary.txt matches."""

import csv
import io
from collections import defaultdict

from checklib import fail, passed, paths, rng, run

REGIONS = ["north", "south", "east", "west", "central", "arctic"]


def expected(text: str) -> str:
    totals: dict[str, float] = defaultdict(float)
    for row in csv.DictReader(io.StringIO(text)):
        totals[row["region"]] += float(row["amount"])
    return "".join(f"{region}: {totals[region]:.2f}\n" for region in sorted(totals))


def main() -> None:
    ws, _ = paths()
    if not (ws / "summarize.py").is_file():
        fail("summarize.py does not exist")
    saved = ws / "summary.txt"
    if not saved.is_file():
        fail("summary.txt does not exist")
    want = expected((ws / "sales.csv").read_text())
    if saved.read_text().strip() != want.strip():
        fail(f"summary.txt is {saved.read_text()!r}, expected {want!r}")
    r = rng()
    for i in range(3):
        rows = [f"{r.choice(REGIONS)},{r.randint(0, 9999) / 100}" for _ in range(r.randint(5, 25))]
        text = "region,amount\n" + "\n".join(rows) + "\n"
        (ws / f"unseen_{i}.csv").write_text(text)
        proc = run(["python3", "summarize.py", f"unseen_{i}.csv"], ws)
        if proc.returncode != 0:
            fail(f"summarize.py exited {proc.returncode}: {proc.stderr[-400:]}")
        if proc.stdout.strip() != expected(text).strip():
            fail(f"on an unseen CSV printed {proc.stdout!r}, expected {expected(text)!r}")
    passed()


main()
