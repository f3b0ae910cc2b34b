import json
import subprocess
import sys
from pathlib import Path

from convert_ckpt import convert_litgpt_to_hf

SAMPLE = Path(__file__).resolve().parent.parent / "sample"


def test_the_sample_converts_to_the_expected_hf_checkpoint():
    litgpt = json.loads((SAMPLE / "litgpt.json").read_text())
    expected = json.loads((SAMPLE / "hf.json").read_text())
    assert convert_litgpt_to_hf(litgpt) == expected


def test_the_command_line_writes_the_converted_file(tmp_path):
    out = tmp_path / "out.json"
    script = SAMPLE.parent / "convert_ckpt.py"
    subprocess.run([sys.executable, script, SAMPLE / "litgpt.json", out], check=True)
    assert json.loads(out.read_text()) == json.loads((SAMPLE / "hf.json").read_text())
