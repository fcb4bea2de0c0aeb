"""`ks1bot route` as the evaluation runs it: a subprocess on JSONL files."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EVAL_DIR, ROOT

KS1BOT = [str(Path(sys.executable).with_name("ks1bot"))]


def run_route(tmp_path, lines, customers=EVAL_DIR / "customers.csv", extra=()):
    source = tmp_path / "in.jsonl"
    if isinstance(lines, (str, Path)) and Path(lines).is_file():
        source = Path(lines)
    else:
        source.write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))
    out = tmp_path / "out.jsonl"
    cmd = KS1BOT + ["route", "--input", str(source), "--output", str(out)]
    if customers:
        cmd += ["--customers", str(customers)]
    proc = subprocess.run(cmd + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=900)
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return proc, rows


@pytest.mark.slow
def test_dev_set_route_accuracy(tmp_path, trained_model):
    proc, rows = run_route(tmp_path, EVAL_DIR / "dev.jsonl")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(rows) == sum(1 for _ in open(EVAL_DIR / "dev.jsonl"))
    score = subprocess.run([sys.executable, str(EVAL_DIR / "score.py"), str(EVAL_DIR / "dev_expect.jsonl"),
                            str(tmp_path / "out.jsonl"), "--show-misses"], capture_output=True, text=True)
    summary = score.stdout.strip().splitlines()[-1]
    figures = dict(re.findall(r"(\w+)=([\d.]+)", summary))
    assert float(figures["route_accuracy"]) >= 0.95, score.stdout
    assert int(figures["wrong_exclusions"]) == 0, score.stdout
    for row in rows:
        # SPEC §7's fields, plus `parts` (topic, confidence and status of each request)
        assert set(row) == {"id", "language", "topic", "confidence", "route", "priority", "reasons", "reply", "parts"}
        assert 0.0 <= row["confidence"] <= 1.0
        assert row["parts"] and all(set(p) == {"topic", "confidence", "status"} for p in row["parts"])
        assert (row["reply"] == "") == (row["route"] == "ignore")


@pytest.mark.slow
def test_bad_lines_get_errors_and_the_run_goes_on(tmp_path, trained_model):
    good = {"id": "ok", "channel": "chat", "received_at": "2026-11-17T11:20:00+01:00",
            "sender": "h.meier@meier-bau.de", "text": "Guten Tag!"}

    def variant(**changes):
        row = dict(good, **changes)
        return json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False)

    lines = [
        "{this is not json",
        variant(id="missing", text=None),
        variant(id="fax", channel="fax"),
        variant(id="naive", received_at="2026-11-17T11:20:00"),
        variant(id="empty", text="  "),
        b"\xff\xfe broken bytes",
        "",
        variant(id="emoji", text="🙂🔥 KS1 💥 stürzt ab ‮تجربة‬ \u0000\u0007\u200b"),
        variant(id="long", text="KS1 zeigt beim Buchen einen Fehler. " * 3000),
        variant(id="rtl", text="مرحبا، هل يمكنكم المساعدة؟"),
        variant(id="ok"),
    ]
    proc, rows = run_route(tmp_path, lines)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(rows) == len(lines)
    by_id = {r.get("id"): r for r in rows if r.get("id")}
    assert "not valid JSON" in rows[0]["error"]
    assert "missing field text" in by_id["missing"]["error"]
    assert "unknown channel" in by_id["fax"]["error"]
    assert "no UTC offset" in by_id["naive"]["error"]
    assert "text is empty" in by_id["empty"]["error"]
    assert "not UTF-8" in rows[5]["error"]
    assert "empty" in rows[6]["error"]
    for key in ("emoji", "long", "rtl", "ok"):
        assert "error" not in by_id[key], by_id[key]
        assert by_id[key]["route"] in ("answer", "exclude", "handoff", "ignore")
    assert by_id["ok"]["route"] == "answer" and by_id["ok"]["topic"] == "greeting"
    assert by_id["long"]["route"] == "handoff"


@pytest.mark.parametrize("content, fragment", [
    (None, "cannot be read"),
    ("id;name\n1;x\n", "first line must be"),
    ("customer_id,name,contract,contacts\nC1,X,platinum,@x.de\n", "contract 'platinum'"),
])
def test_bad_customer_file_is_one_clear_error_and_exit_2(tmp_path, content, fragment):
    customers = tmp_path / "customers.csv"
    if content is not None:
        customers.write_text(content)
    proc, rows = run_route(tmp_path, ['{"id": "x"}'], customers=customers)
    assert proc.returncode == 2
    message = proc.stderr.strip().splitlines()
    assert len(message) == 1 and fragment in message[0], proc.stderr
    assert rows == []


def test_missing_input_file_is_exit_2(tmp_path):
    proc = subprocess.run(KS1BOT + ["route", "--input", str(tmp_path / "nope.jsonl")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def test_output_lines_survive_unicode_line_separators():
    from ks1bot.app.cli import json_line

    line = json_line({"reply": "a\u2028b\u2029c\x85d – ü"})
    assert len(line.splitlines()) == 1
    assert json.loads(line)["reply"] == "a\u2028b\u2029c\x85d – ü"


@pytest.mark.slow
def test_shell_talks_to_the_bot(trained_model):
    proc = subprocess.run(
        KS1BOT + ["shell", "--sender", "h.meier@meier-bau.de", "--customers", str(EVAL_DIR / "customers.csv")],
        input="Guten Tag!\nKS1 stürzt beim Buchen ab\nHallo?\n/reset\nGuten Tag!\n/quit\n",
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.count("bot> Guten Tag! Hier ist der KS1-Support.") == 2
    assert "[handoff · bug_report" in out
    assert "the bot stays silent" in out
