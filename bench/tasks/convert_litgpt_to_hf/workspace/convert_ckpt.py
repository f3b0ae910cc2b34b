"""Convert a litgpt-format checkpoint (JSON) to the hf format. See FORMATS.md."""

import json
import sys


def convert_litgpt_to_hf(checkpoint):
    """The hf-format dict for a litgpt-format dict (the input is not modified)."""
    raise NotImplementedError


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
