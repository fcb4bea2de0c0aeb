"""The project's var/ — the data of a running installation (`make run`) — must be left
alone by the test suite: a snapshot at session start (tests/conftest.py), compared by
tests/test_var_untouched.py at the end."""
from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_VAR = Path(__file__).resolve().parents[2] / "var"
SNAPSHOT = pytest.StashKey[object]()


def var_snapshot():
    """Every file and folder under the project's var/ with its size and modification time
    (None when var/ does not exist)."""
    if not PROJECT_VAR.exists():
        return None
    entries = []
    for path in sorted(PROJECT_VAR.rglob("*")):
        stat = path.lstat()
        entries.append((str(path.relative_to(PROJECT_VAR)), stat.st_size if path.is_file() else -1, stat.st_mtime_ns))
    return entries
