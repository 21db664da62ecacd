import sys

from kt_harness.cli import main

sys.exit(main())
