"""Hidden check: tests unchanged and passing; random hf checkpoints convert exactly."""

from ckptlib import check_conversion, hf, litgpt

check_conversion(source=hf, target=litgpt)
