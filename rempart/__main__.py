"""`python -m rempart`: the same as the `rempart` command."""

import sys

from rempart.cli import main

sys.exit(main())
