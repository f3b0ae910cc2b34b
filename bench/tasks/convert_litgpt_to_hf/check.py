"""Hidden check: tests unchanged and passing; random litgpt checkpoints convert exactly."""

import json

from checklib import fail, passed, paths, require_unchanged, rng, run, run_pytest
from ckptlib import first_difference, hf, litgpt, random_model


def main() -> None:
    ws, orig = paths()
    require_unchanged(ws, orig, "tests/**/*")
    require_unchanged(ws, orig, "sample/*")
    run_pytest(ws)
    r = rng()
    for i in range(4):
        model = random_model(r)
        (ws / f"unseen_{i}.json").write_text(json.dumps(litgpt(model)))
        proc = run(["python3", "convert_ckpt.py", f"unseen_{i}.json", f"unseen_{i}.out.json"], ws)
        if proc.returncode != 0:
            fail(f"convert_ckpt.py exited {proc.returncode}: {proc.stderr[-400:]}")
        difference = first_difference(
            json.loads((ws / f"unseen_{i}.out.json").read_text()), hf(model)
        )
        if difference:
            fail(f"unseen checkpoint {i} (L={model['L']}, E={model['E']}): {difference}")
    passed()


main()
