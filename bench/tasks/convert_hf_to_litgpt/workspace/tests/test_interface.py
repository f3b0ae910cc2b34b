import json
import subprocess
import sys
from pathlib import Path

from convert_ckpt import convert_hf_to_litgpt

SAMPLE = Path(__file__).resolve().parent.parent / "sample"


def test_the_sample_converts_to_the_expected_litgpt_checkpoint():
    hf = json.loads((SAMPLE / "hf.json").read_text())
    expected = json.loads((SAMPLE / "litgpt.json").read_text())
    assert convert_hf_to_litgpt(hf) == expected


def test_the_command_line_writes_the_converted_file(tmp_path):
    out = tmp_path / "out.json"
    script = SAMPLE.parent / "convert_ckpt.py"
    subprocess.run([sys.executable, script, SAMPLE / "hf.json", out], check=True)
    assert json.loads(out.read_text()) == json.loads((SAMPLE / "litgpt.json").read_text())
