"""Convert a litgpt-format checkpoint (JSON) to the hf format. See FORMATS.md."""

import json
import sys


def convert_litgpt_to_hf(checkpoint):
    """The hf-format dict for a litgpt-format dict (the input is not modified)."""
    c, w = checkpoint["config"], checkpoint["weights"]
    e = c["n_embd"]
    state = {"model.embed_tokens.weight": w["transformer.wte.weight"]}
    for i in range(c["n_layer"]):
        s, d = f"transformer.h.{i}.", f"model.layers.{i}."
        qkv = transpose(w[s + "attn.attn.weight"])
        state[d + "input_layernorm.weight"] = w[s + "norm_1.weight"]
        state[d + "self_attn.q_proj.weight"] = qkv[:e]
        state[d + "self_attn.k_proj.weight"] = qkv[e : 2 * e]
        state[d + "self_attn.v_proj.weight"] = qkv[2 * e :]
        state[d + "self_attn.o_proj.weight"] = transpose(w[s + "attn.proj.weight"])
        state[d + "post_attention_layernorm.weight"] = w[s + "norm_2.weight"]
        state[d + "mlp.up_proj.weight"] = transpose(w[s + "mlp.fc.weight"])
        state[d + "mlp.down_proj.weight"] = transpose(w[s + "mlp.proj.weight"])
    state["model.norm.weight"] = w["transformer.ln_f.weight"]
    state["lm_head.weight"] = w["lm_head.weight"]
    config = {
        "num_hidden_layers": c["n_layer"],
        "hidden_size": e,
        "num_attention_heads": c["n_head"],
        "vocab_size": c["vocab_size"],
        "intermediate_size": c["intermediate_size"],
    }
    return {"format": "hf", "config": config, "state_dict": state}


def transpose(m):
    return [list(col) for col in zip(*m, strict=True)]


def main(argv):
    if len(argv) != 2:
        print("usage: convert_ckpt.py SRC DST", file=sys.stderr)
        return 2
    with open(argv[0]) as src:
        checkpoint = json.load(src)
    if checkpoint.get("format") != "litgpt":
        print(f"{argv[0]}: not a litgpt checkpoint", file=sys.stderr)
        return 1
    with open(argv[1], "w") as dst:
        json.dump(convert_litgpt_to_hf(checkpoint), dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
