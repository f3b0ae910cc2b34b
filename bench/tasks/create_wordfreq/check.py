"""Hidden check: wordfreq.py prints the right top 5 on unseen text; top_words.txt matches."""

import re
from collections import Counter
from pathlib import Path

from checklib import fail, passed, paths, rng, run

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "tau", "rho"]


def top5(text: str) -> str:
    counts = Counter(re.findall(r"[a-z]+", text.lower()))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
    return "".join(f"{word} {count}\n" for word, count in ranked)


def main() -> None:
    ws, _ = paths()
    script = ws / "wordfreq.py"
    if not script.is_file():
        fail("wordfreq.py does not exist")
    saved = ws / "top_words.txt"
    if not saved.is_file():
        fail("top_words.txt does not exist")
    want = top5((ws / "data" / "notes.txt").read_text())
    if saved.read_text().strip() != want.strip():
        fail(f"top_words.txt is {saved.read_text()!r}, expected {want!r}")
    r = rng()
    for i in range(3):
        words = [
            r.choice(WORDS).upper() if r.random() < 0.3 else r.choice(WORDS) for _ in range(60)
        ]
        seps = [r.choice([" ", ", ", "\n", "--", "3", "'s "]) for _ in words]
        text = "".join(w + s for w, s in zip(words, seps, strict=True))
        sample = Path(ws) / f"unseen_{i}.txt"
        sample.write_text(text)
        proc = run(["python3", "wordfreq.py", sample.name], ws)
        if proc.returncode != 0:
            fail(f"wordfreq.py exited {proc.returncode}: {proc.stderr[-400:]}")
        if proc.stdout.strip() != top5(text).strip():
            fail(f"on unseen text printed {proc.stdout!r}, expected {top5(text)!r}")
    passed()


main()
