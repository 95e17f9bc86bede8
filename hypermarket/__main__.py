"""``python -m hypermarket``: see ``hypermarket.cli.main``."""

import sys

from hypermarket.cli.main import main

sys.exit(main())
