"""Smoke runs of `ks1bot bench clinc|xsid|server` on tiny inputs (the real benchmarks stay
out of CI; docs/benchmarks.md has their numbers). Each checks that the command runs end
to end and writes its tables and results, not the numbers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KS1BOT = str(Path(sys.executable).with_name("ks1bot"))

pytestmark = pytest.mark.slow


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([KS1BOT, "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def test_clinc_quick(tmp_path):
    out, png = tmp_path / "clinc.json", tmp_path / "clinc.png"
    done = bench("clinc", "--quick", "--limit", "3", "--default-epochs", "1", "--scheme", "oos-train",
                 "--output", str(out), "--plot", str(png))
    data = json.loads(out.read_text())
    schemes = {(r["system"], row["scheme"]) for r in data["results"] for row in r["rows"]}
    assert schemes == {(s, k) for s in ("config", "rasa-default") for k in ("oos-train", "oos-train+threshold")}
    for result in data["results"]:
        for row in result["rows"]:
            assert 0.0 <= row["inscope_acc"] <= 1.0 and 0.0 <= row["oos_recall"] <= 1.0
    assert {p["classifier"] for p in data["paper"]} >= {"Rasa", "BERT"}
    assert "| paper: BERT | oos-train | 96.9 | 40.3 |" in done.stdout
    assert png.stat().st_size > 10_000
    assert "[bench clinc" in done.stderr  # progress lines with elapsed time


def test_clinc_rejects_a_missing_config(tmp_path):
    done = subprocess.run([KS1BOT, "bench", "clinc", "--quick", "--config", str(tmp_path / "nope.yml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "nope.yml not found" in done.stderr


def test_xsid_tiny(tmp_path):
    out = tmp_path / "xsid.json"
    done = bench("xsid", "--limit", "20", "--default-epochs", "1", "--language", "de", "--output", str(out))
    data = json.loads(out.read_text())
    assert {r["system"] for r in data["results"]} == {"ours", "ours-no-emb", "rasa-default", "rasa-default-emb"}
    assert all(r["n"] == 20 and r["language"] == "de" for r in data["results"])
    assert "What the embedding component adds" in done.stdout


def test_server_tiny(tmp_path, trained_model):
    out = tmp_path / "server.json"
    done = bench("server", "--concurrency", "2", "--duration", "3", "--warmup", "2", "--output", str(out))
    data = json.loads(out.read_text())
    assert data["model"] == trained_model.name  # the current model, not a retrained one
    (level,) = data["results"]
    assert level["concurrency"] == 2 and level["messages"] > 0 and level["errors"] == 0
    assert level["p50_ms"] > 0 and level["throughput"] > 0
    assert "bot stopped" in done.stderr


def test_route_bench_quick(trained_model):
    done = subprocess.run([sys.executable, "bench/route_bench.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-4000:]
    # | pipeline | set | route acc. | wrong excl. | topic acc. |
    row = next(line for line in done.stdout.splitlines() if line.startswith("| ours (config.yml) | dev "))
    dev_accuracy = float(row.split("|")[3])
    assert dev_accuracy >= 0.95  # the same bar as tests/test_route_cli.py
    assert "`ks1bot route` per message after warm-up" in done.stdout and "peak RSS" in done.stdout


def test_mail_corpus(tmp_path):
    out = tmp_path / "mail_corpus.json"
    done = bench("mail-corpus", "--misses", "--output", str(out))
    data = json.loads(out.read_text())
    assert data["mails"] >= 180 and data["figures"]["crashes"] == 0
    assert "| human mails ignored | 0 | 0 |" in done.stdout and "**hold**" in done.stdout
    assert "Misses:" in done.stdout
