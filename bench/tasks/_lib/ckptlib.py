"""Reference model for the checkpoint-conversion checks (stdlib only).

A model is drawn at random, then written in both made-up formats (see FORMATS.md in the
task workspaces); a check converts one rendering with the agent's code and compares with
the other. Matrices here are [out][in] lists of lists.
"""

from __future__ import annotations

import json
import random
from typing import Any

from checklib import fail, passed, paths, require_unchanged, rng, run, run_pytest

Matrix = list[list[float]]


def transpose(m: Matrix) -> Matrix:
    return [list(col) for col in zip(*m, strict=True)]


def _matrix(r: random.Random, rows: int, cols: int) -> Matrix:
    return [[round(r.uniform(-1, 1), 4) for _ in range(cols)] for _ in range(rows)]


def _vector(r: random.Random, n: int) -> list[float]:
    return [round(r.uniform(0.5, 1.5), 4) for _ in range(n)]


def random_model(r: random.Random) -> dict[str, Any]:
    heads = r.choice([1, 2])
    embd = heads * r.choice([1, 2, 3])
    inter, vocab, layers = r.choice([3, 5, 8]), r.choice([5, 7]), r.randint(1, 3)
    return {
        "L": layers, "E": embd, "H": heads, "I": inter, "V": vocab,
        "wte": _matrix(r, vocab, embd), "ln_f": _vector(r, embd), "head": _matrix(r, vocab, embd),
        "layers": [
            {
                "n1": _vector(r, embd), "n2": _vector(r, embd),
                "q": _matrix(r, embd, embd), "k": _matrix(r, embd, embd),
                "v": _matrix(r, embd, embd), "o": _matrix(r, embd, embd),
                "up": _matrix(r, inter, embd), "down": _matrix(r, embd, inter),
            }
            for _ in range(layers)
        ],
    }  # fmt: skip


def litgpt(m: dict[str, Any]) -> dict[str, Any]:
    weights: dict[str, Any] = {"transformer.wte.weight": m["wte"]}
    for i, layer in enumerate(m["layers"]):
        p = f"transformer.h.{i}."
        weights[p + "norm_1.weight"] = layer["n1"]
        weights[p + "attn.attn.weight"] = transpose(layer["q"] + layer["k"] + layer["v"])
        weights[p + "attn.proj.weight"] = transpose(layer["o"])
        weights[p + "norm_2.weight"] = layer["n2"]
        weights[p + "mlp.fc.weight"] = transpose(layer["up"])
        weights[p + "mlp.proj.weight"] = transpose(layer["down"])
    weights["transformer.ln_f.weight"] = m["ln_f"]
    weights["lm_head.weight"] = m["head"]
    config = {
        "n_layer": m["L"], "n_embd": m["E"], "n_head": m["H"],
        "vocab_size": m["V"], "intermediate_size": m["I"],
    }  # fmt: skip
    return {"format": "litgpt", "config": config, "weights": weights}


def hf(m: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"model.embed_tokens.weight": m["wte"]}
    for i, layer in enumerate(m["layers"]):
        p = f"model.layers.{i}."
        state[p + "input_layernorm.weight"] = layer["n1"]
        state[p + "self_attn.q_proj.weight"] = layer["q"]
        state[p + "self_attn.k_proj.weight"] = layer["k"]
        state[p + "self_attn.v_proj.weight"] = layer["v"]
        state[p + "self_attn.o_proj.weight"] = layer["o"]
        state[p + "post_attention_layernorm.weight"] = layer["n2"]
        state[p + "mlp.up_proj.weight"] = layer["up"]
        state[p + "mlp.down_proj.weight"] = layer["down"]
    state["model.norm.weight"] = m["ln_f"]
    state["lm_head.weight"] = m["head"]
    config = {
        "num_hidden_layers": m["L"], "hidden_size": m["E"], "num_attention_heads": m["H"],
        "vocab_size": m["V"], "intermediate_size": m["I"],
    }  # fmt: skip
    return {"format": "hf", "config": config, "state_dict": state}


def first_difference(got: Any, want: Any, where: str = "") -> str | None:
    """Where two JSON values first differ (keys, shapes or numbers), or None."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where or 'top level'}: expected an object"
        if set(got) != set(want):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            return (
                f"{where or 'top level'}: missing keys {missing[:4]}, unexpected keys {extra[:4]}"
            )
        for key in want:
            found = first_difference(got[key], want[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: expected a list of {len(want)}"
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            found = first_difference(g, w, f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(got, bool) or got != want:
        return f"{where}: expected {want!r}, got {got!r}"
    return None


def check_conversion(source: Any, target: Any) -> None:
    """The hidden check of a conversion task: tests and samples unchanged, the tests pass,
    and `python3 convert_ckpt.py SRC DST` turns random `source` checkpoints into `target`."""
    ws, orig = paths()
    require_unchanged(ws, orig, "tests/**/*")
    require_unchanged(ws, orig, "sample/*")
    run_pytest(ws)
    r = rng()
    for i in range(4):
        model = random_model(r)
        (ws / f"unseen_{i}.json").write_text(json.dumps(source(model)))
        proc = run(["python3", "convert_ckpt.py", f"unseen_{i}.json", f"unseen_{i}.out.json"], ws)
        if proc.returncode != 0:
            fail(f"convert_ckpt.py exited {proc.returncode}: {proc.stderr[-400:]}")
        got = json.loads((ws / f"unseen_{i}.out.json").read_text())
        difference = first_difference(got, target(model))
        if difference:
            fail(f"unseen checkpoint {i} (L={model['L']}, E={model['E']}): {difference}")
    passed()
