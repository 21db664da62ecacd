"""`python -m kt_harness`: the `kt` command."""

import sys

from kt_harness.cli import main

sys.exit(main())
