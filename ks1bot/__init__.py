"""KS1 support bot: classify support messages against the KS1 support terms and route them.

Layers, each importing only those before it (docs/architecture.md):
core ← nlu ← conversations ← channels (and mail_gateway) ← console; entry points in `app`.
"""
from __future__ import annotations

__version__ = "0.1.0"
