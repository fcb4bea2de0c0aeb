"""Retention: raw mails, composed replies and the conversations' files older than
mail.retention_days are deleted (`ks1bot mail cleanup`, and the gateway's daily job);
newer ones and the outcome rows stay."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import mail_samples as m
from mail_client import send
from tests.support.files import png

ROOT = Path(__file__).resolve().parents[2]
OLD = "<old-1@musterhandel.example>"
NEW = "<new-1@musterhandel.example>"


def with_screenshot(message_id: str) -> bytes:
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Hans Meier <h.meier@musterhandel.example>"
    msg["To"] = "support@ks1-support.example"
    msg["Subject"] = "Bitte um Rückruf"
    msg["Message-ID"] = message_id
    msg.set_content("Bitte rufen Sie mich an, siehe Screenshot.")
    colour = (200, 30, 30) if message_id == OLD else (30, 30, 200)  # different bytes: two files
    msg.add_attachment(png(rgb=colour), maintype="image", subtype="png", filename=f"shot-{message_id[1:6]}.png")
    return msg.as_bytes()


def age(gw, message_id: str, days: float) -> None:
    """Make one mail (its queue rows and its files) `days` old."""
    then = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))
    gw.store.query("UPDATE inbound SET received_at=? WHERE message_id=?", (then.timestamp(), message_id))
    gw.store.query("UPDATE outbound SET created_at=? WHERE conversation_id=?", (then.timestamp(), message_id))
    with gw.handoffs.engine.begin() as db:
        db.exec_driver_sql("UPDATE attachments SET created_at=? WHERE conversation_id=?",
                           (then.replace(tzinfo=None), message_id))


def cleanup(data_dir: Path, *args: str) -> dict:
    result = subprocess.run([str(Path(sys.executable).with_name("ks1bot")), "mail", "cleanup", "--data-dir",
                             str(data_dir), "--json", *args], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cleanup_deletes_what_is_older_than_the_retention(gateway, sink, stub_router, tmp_path):
    data = tmp_path / "d"
    gw = gateway(stub_router, relay=sink, data_dir=data)
    send(gw, with_screenshot(OLD))
    send(gw, with_screenshot(NEW), mail_from="e.roth@musterhandel.example")
    sink.wait_for(2)
    assert gw.wait_idle(30)
    age(gw, OLD, 400)
    raw = {r["message_id"]: data / "mail" / r["raw_path"] for r in gw.store.query("SELECT * FROM inbound")}
    files = {f.conversation_id: gw.handoffs.files.path_of(f.sha256)
             for cid in (OLD, NEW) for f in gw.handoffs.files.for_conversation("email", cid)}
    assert all(p.exists() for p in list(raw.values()) + list(files.values()))

    dry = cleanup(data, "--dry-run")
    assert (dry["raw_mails"], dry["replies"], dry["attachment_rows"]) == (1, 1, 1)
    assert all(p.exists() for p in list(raw.values()) + list(files.values()))

    done = cleanup(data)
    assert (done["raw_mails"], done["replies"], done["attachment_rows"], done["attachment_files"]) == (1, 1, 1, 1)
    assert not raw[OLD].exists() and not files[OLD].exists()
    assert raw[NEW].exists() and files[NEW].exists()
    assert gw.handoffs.files.for_conversation("email", OLD) == []
    [row] = gw.store.query("SELECT status, route, raw_path, text FROM inbound WHERE message_id=?", (OLD,))
    assert row["status"] == "processed" and row["raw_path"] == "" and row["text"] is None   # the outcome stays
    assert cleanup(data)["raw_mails"] == 0   # nothing left to do


def test_the_gateway_runs_the_cleanup_itself(gateway, sink, stub_router, tmp_path):
    gw = gateway(stub_router, relay=sink, data_dir=tmp_path / "d", retention_days=30)
    send(gw, with_screenshot(OLD))
    sink.wait_for(1)
    assert gw.wait_idle(30)
    age(gw, OLD, 31)
    counts = gw.retention.run()
    assert counts["raw_mails"] == 1 and counts["attachment_rows"] == 1
    assert gw.store.query("SELECT raw_path FROM inbound")[0]["raw_path"] == ""
    assert [t.name for t in __import__("threading").enumerate() if t.name == "mail-retention"]


def test_cleanup_explains_a_bad_retention(tmp_path):
    result = subprocess.run([str(Path(sys.executable).with_name("ks1bot")), "mail", "cleanup", "--data-dir",
                             str(tmp_path), "--days", "0"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ), timeout=120)
    assert result.returncode == 2 and "--days must be more than 0" in result.stderr
    assert m  # the samples module is importable here (shared helpers)
