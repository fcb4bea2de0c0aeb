"""`ks1bot learn`, end to end: a correction made in the console appears in the review file;
after the lead accepts it, the retrained model routes that message right, with the
before/after report printed. The model is trained on a small subset of the training data
(8 examples per topic) and measured on the first messages of each set, to stay fast —
through the real command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.staff_console.conftest import PASSWORD, LiveServer, login, make_console, new_handoff

ROOT = Path(__file__).resolve().parents[2]
TEXT = ("Beim Verbuchen der Kassenabschlüsse meldet KS1 seit dem letzten Build "
        "Rundungsdifferenz 0x8004 und bricht ab")


def small_nlu(target: Path, per_topic: int = 8) -> Path:
    target.mkdir(parents=True)
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        blocks = []
        for block in data["nlu"]:
            lines = [line for line in block["examples"].splitlines() if line.startswith("- ")][:per_topic]
            blocks.append({"intent": block["intent"], "examples": "\n".join(lines) + "\n"})
        (target / path.name).write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True),
                                        encoding="utf-8")
    return target


def ks1bot(settings_file: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ks1bot.app.cli", "--settings", str(settings_file), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)


@pytest.mark.timeout(1800)
def test_a_console_correction_is_reviewed_learned_and_routes_right(tmp_path, settings):
    data_dir, models_dir = tmp_path / "var", tmp_path / "models"
    url = f"sqlite:///{tmp_path / 'ks1bot.db'}"
    settings_file = tmp_path / "settings.yml"
    raw = yaml.safe_load((ROOT / "settings.yml").read_text(encoding="utf-8"))
    raw.update(data_dir=str(data_dir), models_dir=str(models_dir), database_url=url)
    settings_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    local = settings.with_overrides(data_dir=data_dir, models_dir=models_dir, database_url=url)

    # the console: an agent corrects the classification, the lead accepts it
    store, auth, app = make_console(local, url)
    auth.add_staff("anna", PASSWORD)
    auth.add_staff("lena", PASSWORD, role="lead")
    handoff = new_handoff(store, channel="email", text=TEXT, subject=None, sender="h.meier@meier-bau.de",
                          topic="os")
    with LiveServer(app) as server:
        anna = login(server.url)
        page = anna.get(f"{server.url}/console/handoffs/{handoff}")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = anna.post(f"{server.url}/console/handoffs/{handoff}/correct",
                         data={"csrf_token": csrf, "topic": "bug_report", "route": "handoff"})
        assert "Korrektur gespeichert" in done.text
        assert "Korrektur der Einordnung" in done.text  # in the audit trail
        lena = login(server.url, "lena")
        learn = lena.get(f"{server.url}/console/learn")
        assert learn.status_code == 200 and "Kassenabschlüsse" in learn.text
        correction = learn.text.split('<tr data-id="', 1)[1].split('"', 1)[0]
        csrf = learn.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        lena.post(f"{server.url}/console/learn/{correction}/review", data={"csrf_token": csrf, "review": "accepted"})

    review = tmp_path / "review.yml"
    exported = ks1bot(settings_file, "learn", "export", "--out", str(review))
    assert exported.returncode == 0, exported.stderr
    entries = yaml.safe_load(review.read_text(encoding="utf-8"))["examples"]
    assert [(e["topic"], e["route"], e["review"]) for e in entries] == [("bug_report", "handoff", "accept")]
    assert "Kassenabschlüsse" in entries[0]["text"] and f"handoff {handoff}" in entries[0]["source"]
    again = ks1bot(settings_file, "learn")  # alone: export
    assert "nothing to review" in again.stdout  # "since the last run"

    nlu = small_nlu(tmp_path / "nlu")
    applied = ks1bot(settings_file, "learn", "apply", str(review), "--nlu-dir", str(nlu), "--eval-limit", "12")
    print(applied.stdout)
    assert "before → after" in applied.stdout and "route accuracy" in applied.stdout
    assert "realistic test set" in applied.stdout and "dev set" in applied.stdout
    assert applied.returncode == 0 and "KEPT" in applied.stdout, applied.stdout + applied.stderr[-3000:]
    learned = (nlu / "learned" / "bug_report.yml").read_text(encoding="utf-8")
    assert "Kassenabschlüsse" in learned

    from ks1bot.app import wiring
    from ks1bot.core.messages import InboundMessage, parse_timestamp
    from ks1bot.nlu.model_store import current_model

    model = current_model(models_dir, training_dirs=(nlu, ROOT / "data" / "rules"))
    assert model is not None
    router = wiring.build_router(local, None, model=model)
    routed = router.route(InboundMessage(id="again", channel="email", text=TEXT, sender="h.meier@meier-bau.de",
                                         received_at=parse_timestamp("2026-12-01T10:00:00+01:00")))
    assert (routed.decision.topic, routed.decision.route) == ("bug_report", "handoff")
