"""The conversation record on a fresh SQLite database (no HTTP: the console's tests have that)."""
from __future__ import annotations

import pytest


@pytest.fixture
def store(tmp_path, settings):
    from ks1bot.app import wiring

    return wiring.handoff_store(settings.with_overrides(data_dir=tmp_path), url=f"sqlite:///{tmp_path / 'ks1bot.db'}")
