"""Hidden check: tests unchanged and passing; random litgpt checkpoints convert exactly."""

from ckptlib import check_conversion, hf, litgpt

check_conversion(source=litgpt, target=hf)
