"""`python -m annotation.core.stats agreement FILE.csv --level ...`: see `cli`."""

import sys

from annotation.core.stats.cli import main

sys.exit(main())
