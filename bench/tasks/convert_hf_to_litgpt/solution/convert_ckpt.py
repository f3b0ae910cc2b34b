"""Convert a hf-format checkpoint (JSON) to the litgpt format. See FORMATS.md."""

import json
import sys


def convert_hf_to_litgpt(checkpoint):
    """The litgpt-format dict for an hf-format dict (the input is not modified)."""
    c, s = checkpoint["config"], checkpoint["state_dict"]
    w = {"transformer.wte.weight": s["model.embed_tokens.weight"]}
    for i in range(c["num_hidden_layers"]):
        d, p = f"transformer.h.{i}.", f"model.layers.{i}.self_attn."
        m = f"model.layers.{i}."
        qkv = s[p + "q_proj.weight"] + s[p + "k_proj.weight"] + s[p + "v_proj.weight"]
        w[d + "norm_1.weight"] = s[m + "input_layernorm.weight"]
        w[d + "attn.attn.weight"] = transpose(qkv)
        w[d + "attn.proj.weight"] = transpose(s[p + "o_proj.weight"])
        w[d + "norm_2.weight"] = s[m + "post_attention_layernorm.weight"]
        w[d + "mlp.fc.weight"] = transpose(s[m + "mlp.up_proj.weight"])
        w[d + "mlp.proj.weight"] = transpose(s[m + "mlp.down_proj.weight"])
    w["transformer.ln_f.weight"] = s["model.norm.weight"]
    w["lm_head.weight"] = s["lm_head.weight"]
    config = {
        "n_layer": c["num_hidden_layers"],
        "n_embd": c["hidden_size"],
        "n_head": c["num_attention_heads"],
        "vocab_size": c["vocab_size"],
        "intermediate_size": c["intermediate_size"],
    }
    return {"format": "litgpt", "config": config, "weights": w}


def transpose(m):
    return [list(col) for col in zip(*m, strict=True)]


def main(argv):
    if len(argv) != 2:
        print("usage: convert_ckpt.py SRC DST", file=sys.stderr)
        return 2
    with open(argv[0]) as src:
        checkpoint = json.load(src)
    if checkpoint.get("format") != "hf":
        print(f"{argv[0]}: not an hf checkpoint", file=sys.stderr)
        return 1
    with open(argv[1], "w") as dst:
        json.dump(convert_hf_to_litgpt(checkpoint), dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
