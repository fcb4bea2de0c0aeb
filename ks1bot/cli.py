"""`ks1bot.cli:main`, the console script's entry point before the package was split into
layers; it is `ks1bot.app.cli:main` now (pyproject.toml). Kept so that a `ks1bot` script
installed earlier keeps working until `make venv` reinstalls it."""
from __future__ import annotations

import sys

from ks1bot.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
