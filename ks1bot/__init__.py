"""KS1 support bot: classify support messages against the KS1 support terms and route them."""
from __future__ import annotations

__version__ = "0.1.0"
