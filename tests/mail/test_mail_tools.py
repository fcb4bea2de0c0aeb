"""`ks1bot mail status`, `ks1bot mail serve` errors, and the benchmark's smoke run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mail_samples as m
from mail_client import send

ROOT = Path(__file__).resolve().parents[2]


def ks1bot(*args, env=None):
    return subprocess.run([str(Path(sys.executable).with_name("ks1bot")), *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=120)


def test_status_shows_depth_failures_and_last_error(gateway, sink, stub_router, tmp_path):
    gw = gateway(stub_router, relay=sink, data_dir=tmp_path / "d")
    send(gw, m.plain("KS1 Fehler", "Fehler beim Buchen"))
    send(gw, m.out_of_office())
    assert gw.wait_idle(30)
    gw.store.query("UPDATE inbound SET status='failed', reason='processing_error', last_error='boom' "
                   "WHERE message_id='<ooo-1@musterhandel.example>'")
    result = ks1bot("mail", "status", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    assert "queue depth: 0" in result.stdout and "processed 1" in result.stdout and "failed 1" in result.stdout
    assert "boom" in result.stdout and "<ooo-1@musterhandel.example>" in result.stdout
    data = json.loads(ks1bot("mail", "status", "--data-dir", str(tmp_path / "d"), "--json").stdout)
    assert data["inbound"]["failed"] == 1 and data["replies"]["sent"] == 1


def test_status_without_a_queue(tmp_path):
    result = ks1bot("mail", "status", "--data-dir", str(tmp_path))
    assert result.returncode == 0 and "No mail queue yet" in result.stdout


@pytest.mark.parametrize("args, message", [
    ((), "Nothing to receive mail from"),
    (("--smtp-listen", "nonsense"), "HOST:PORT"),
    (("--imap", "imap://bot@127.0.0.1:1/INBOX"), "KS1BOT_MAIL_IMAP_PASSWORD"),
])
def test_serve_explains_configuration_errors(args, message, tmp_path):
    # the configuration is checked before the model is loaded: these fail fast
    result = ks1bot("mail", "serve", "--data-dir", str(tmp_path), *args)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.slow
def test_benchmark_quick_smoke_run(trained_model):
    result = subprocess.run([sys.executable, "bench/mail_bench.py", "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "mails/s" in result.stdout and "throughput: 20/20" in result.stdout
