import sys

from kt_lib.cli import main

sys.exit(main())
