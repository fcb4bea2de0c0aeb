"""Email channel benchmark (a script, not a test): the whole pipeline with the trained
model, as `make run` runs it.

    .venv/bin/python bench/mail_bench.py [--quick] [--mails N] [--latency-mails N] [--rate R]

Starts `ks1bot mail serve` (its own process: SMTP listener, IMAP IDLE on a throwaway
Dovecot, the Router with the trained model, replies to an aiosmtpd sink acting as relay)
and measures

1. throughput — N mails (texts from ../shared/eval/dev.jsonl, distinct senders) sent to
   the SMTP listener as fast as the gateway takes them; mails/s from the first send to
   the N-th reply at the sink;
2. latency with IMAP IDLE — mails appended to the Dovecot INBOX one at a time at R per
   second; seconds from the APPEND to the reply at the sink, p50 / p95 / max.

In both phases every tenth mail (`--attachment-share`) carries an attachment of 1 to 5 MB
(the gateway stores it with the conversation, as in production).

Targets (README): ≥ 20 mails/s, p95 ≤ 2 s on 2 cores. `--quick` is the CI smoke run
(few mails, no targets enforced). Needs root and Debian's dovecot-imapd for phase 2
(skipped with a note otherwise).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"

# The throwaway mail servers are the test suite's (tests/support/), not the product's.
from tests.support.mail_servers import Dovecot, SmtpSink, dovecot_available  # noqa: E402
from tests.support.ports import free_port, wait_for_port  # noqa: E402

FALLBACK_TEXTS = [
    ("Frage zum Update", "Hallo, wie installiere ich das neue KS1 Update mit dem Update Tool?"),
    ("KS1 Fehler", "Beim Buchen eines Lieferscheins stürzt KS1 mit einer Fehlermeldung ab."),
    ("Drucker", "Unser Drucker im Lager druckt nur leere Seiten."),
    ("Support hours", "When is your support available?"),
]


def texts():
    if EVAL.is_file():
        rows = [json.loads(line) for line in EVAL.open(encoding="utf-8")]
        found = [(r.get("subject") or "Anfrage", r["text"]) for r in rows if r.get("channel") == "email"]
        if found:
            return found
    return FALLBACK_TEXTS


MB = 1024 * 1024


def attachment_size(i: int, share: float) -> int:
    """0, or 1 to 5 MB for `share` of the mails (every 10th at 0.1), sizes cycling 1…5 MB."""
    if share <= 0:
        return 0
    every = max(1, round(1 / share))
    return (1 + (i // every) % 5) * MB if i % every == every // 2 else 0


def mail(i: int, subject: str, body: str, prefix: str, attachment: int = 0) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Kunde {i} <{prefix}{i}@musterhandel.example>"
    msg["To"] = "support@ks1-support.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{prefix}-{i}-{time.time_ns()}@musterhandel.example>"
    msg.set_content(body)
    if attachment:  # a scan or a log file: bytes that do not compress
        msg.add_attachment(random.Random(i).randbytes(attachment), maintype="application", subtype="pdf",
                           filename=f"Protokoll-{i}.pdf")
    return msg.as_bytes()


def start_gateway(data: Path, smtp_port: int, sink: SmtpSink, imap_url: str | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "ks1bot.app.cli", "mail", "serve", "--smtp-listen", f"127.0.0.1:{smtp_port}",
               "--relay", f"127.0.0.1:{sink.port}", "--data-dir", str(data)]
    if imap_url:
        command += ["--imap", imap_url]
    # --data-dir places all of the gateway's data there: queue, handoffs, files (not the repository's var/)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    log = open(data / "gateway.log", "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def handled(data: Path) -> dict:
    """Outcomes and reply states in the gateway's queue (read from its database)."""
    from mail_gateway.store import MailStore

    store = MailStore(data / "mail")
    try:
        summary = store.summary()
    finally:
        store.close()
    done = sum(summary["inbound"][k] for k in ("processed", "ignored", "failed"))
    return {"done": done, "replies_open": summary["replies"]["pending"] + summary["replies"]["sending"]}


def throughput(data: Path, smtp_port: int, sink: SmtpSink, count: int, share: float, connections: int = 4) -> dict:
    """Mails per second from the first SMTP send until every mail has its outcome stored
    and every reply is at the sink (thanks-only mails get no reply, as in production)."""
    pool = texts()
    mails = [mail(i, *pool[i % len(pool)], prefix="tp", attachment=attachment_size(i, share)) for i in range(count)]
    with_files = sum(1 for i in range(count) if attachment_size(i, share))
    megabytes = sum(len(raw) for raw in mails) / MB
    base = handled(data)["done"]
    before = len(sink.received)
    started = time.monotonic()

    def client(part):
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
            for raw in part:
                smtp.sendmail("bench@musterhandel.example", ["support@ks1-support.example"], raw)

    threads = [threading.Thread(target=client, args=(mails[k::connections],)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.monotonic() - started
    deadline = started + max(120, count)
    while time.monotonic() < deadline:
        state = handled(data)
        if state["done"] - base >= count and state["replies_open"] == 0:
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    done = handled(data)["done"] - base
    return {"mails": count, "done": done, "replies": len(sink.received) - before, "accepted_s": round(accepted, 2),
            "seconds": round(elapsed, 2), "mails_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
            "with_attachment": with_files, "megabytes": round(megabytes, 1)}


def latency(data: Path, dovecot: Dovecot, sink: SmtpSink, count: int, rate: float, share: float) -> dict:
    """Seconds from the APPEND to the reply at the sink (or, for a mail that gets no reply,
    to its stored outcome)."""
    pool = texts()
    waits = []
    files = []
    for i in range(count):
        raw = mail(i, *pool[i % len(pool)], prefix="lat", attachment=attachment_size(i, share))
        base, before = handled(data)["done"], len(sink.received)
        sent = time.time()
        dovecot.append(raw)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = handled(data)
            if state["done"] > base and state["replies_open"] == 0:
                break
            time.sleep(0.01)
        got = sink.wait_for(before + 1, timeout=0.2)
        waits.append((got[before].at if len(got) > before else time.time()) - sent)
        if attachment_size(i, share):
            files.append(waits[-1])
        time.sleep(max(0.0, 1.0 / rate - (time.time() - sent)))
    waits.sort()
    p95 = waits[min(len(waits) - 1, int(round(0.95 * (len(waits) - 1))))]
    return {"mails": count, "replies": len(waits), "p50_s": round(statistics.median(waits), 3),
            "p95_s": round(p95, 3), "max_s": round(max(waits), 3), "with_attachment": len(files),
            "attachment_max_s": round(max(files), 3) if files else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run: few mails, targets not enforced")
    parser.add_argument("--mails", type=int, help="throughput mails (default 300; quick 20)")
    parser.add_argument("--latency-mails", type=int, help="IMAP latency mails (default 40; quick 5)")
    parser.add_argument("--rate", type=float, default=2.0, help="IMAP mails per second in the latency phase")
    parser.add_argument("--attachment-share", type=float, default=0.1,
                        help="share of the mails with a 1–5 MB attachment (default 0.1; 0: none)")
    args = parser.parse_args(argv)
    count = args.mails or (20 if args.quick else 300)
    lat_count = args.latency_mails or (5 if args.quick else 40)
    print(f"mail benchmark on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}", flush=True)
    sink = SmtpSink().start()
    reason = dovecot_available()
    dovecot = Dovecot().start() if reason is None else None
    data = Path(tempfile.mkdtemp(prefix="ks1-mail-bench-"))
    smtp_port = free_port()
    started = time.monotonic()
    gateway = start_gateway(data, smtp_port, sink, dovecot.url() if dovecot else None)
    try:
        wait_for_port(smtp_port, timeout=600)
        print(f"gateway up in {time.monotonic() - started:.1f} s (model load and warm-up)", flush=True)
        tp = throughput(data, smtp_port, sink, count, args.attachment_share)
        print(f"throughput: {tp['done']}/{tp['mails']} mails handled ({tp['replies']} replies at the sink) in "
              f"{tp['seconds']} s = {tp['mails_per_s']} mails/s (SMTP accepted all in {tp['accepted_s']} s; "
              f"{tp['with_attachment']} mails with a 1–5 MB attachment, {tp['megabytes']} MB in all)", flush=True)
        lat = None
        if dovecot:
            lat = latency(data, dovecot, sink, lat_count, args.rate, args.attachment_share)
            print(f"IMAP IDLE latency (arrival → reply), {lat['mails']} mails at {args.rate}/s: "
                  f"p50 {lat['p50_s']} s, p95 {lat['p95_s']} s, max {lat['max_s']} s "
                  f"({lat['with_attachment']} with a 1–5 MB attachment, slowest {lat['attachment_max_s']} s)",
                  flush=True)
        else:
            print(f"IMAP latency skipped: {reason}", flush=True)
        status = subprocess.run([sys.executable, "-m", "ks1bot.app.cli", "mail", "status", "--data-dir", str(data), "--json"],
                                cwd=ROOT, capture_output=True, text=True)
        summary = json.loads(status.stdout)
        print(f"queue after the run: {json.dumps(summary['inbound'])}, replies {json.dumps(summary['replies'])}")
        stored = sum(1 for _ in (data / "attachments").rglob("*") if _.is_file()) if (data / "attachments").exists() \
            else 0
        print(f"attachment files stored with the conversations: {stored}; everything under {data}")
        ok = tp["done"] == tp["mails"] and (lat is None or lat["replies"] == lat["mails"])
        if not args.quick:
            ok = ok and tp["mails_per_s"] >= 20 and (lat is None or lat["p95_s"] <= 2.0)
            print(f"targets (≥ 20 mails/s, p95 ≤ 2 s): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
        sink.stop()
        if dovecot:
            dovecot.stop()


if __name__ == "__main__":
    sys.exit(main())
