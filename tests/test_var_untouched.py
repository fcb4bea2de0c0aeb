"""The test suite never touches the data of a running installation: the project's var/
(where `make run` keeps its queue, handoffs, files and tracker) is exactly as it was when
the session started — or still absent. Every test uses its own data directory and
database. tests/conftest.py takes the snapshot at session start and runs this test last."""
from __future__ import annotations

from tests.support.var_guard import PROJECT_VAR, SNAPSHOT, var_snapshot


def test_the_suite_left_the_projects_var_untouched(request):
    before = request.config.stash[SNAPSHOT]
    after = var_snapshot()
    if before is None:
        assert after is None, f"the test suite created {PROJECT_VAR}: {[e[0] for e in after][:20]}"
        return
    added = sorted({e[0] for e in after} - {e[0] for e in before})
    removed = sorted({e[0] for e in before} - {e[0] for e in after})
    unchanged = {e[0] for e in set(after) & set(before)}
    changed = sorted(({e[0] for e in after} & {e[0] for e in before}) - unchanged)
    assert (added, removed, changed) == ([], [], []), f"the test suite changed {PROJECT_VAR}: added {added[:10]}, " \
                                                      f"removed {removed[:10]}, changed {changed[:10]}"
