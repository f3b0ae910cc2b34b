"""The `rempart` command line: the root parser, the one error handler, exit codes.

The one package that may import every other; nothing imports it (tests/test_layers.py).
"""
