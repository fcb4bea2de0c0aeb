"""The email channel on real mail (`ks1bot bench mail-corpus`): tests/mail/corpus/ holds
183 mails from the test fixtures of 11 open-source projects, labelled by hand
(labels.jsonl: human or machine, the visible reply text, one phrase it must contain).

Each mail goes through the gateway's own code — parsing (`parse_mail`), loop protection
(`screen_mail`), the decision chain (`policy.verdict`, for a first mail of a thread) and
text preparation (`prepare`, what the classifier reads) — and is counted:

* crashes: an exception anywhere (must be 0); unreadable: parsed with `unparseable` set
  (they go to staff with the original attached);
* the ignore decision as auto-mail detection: precision and recall over the machine mails;
* human mails ignored (must be 0), human mails handed to staff without an automatic
  reply (a doubt, no address), machine mails that would get an automatic reply (at most
  5 %) and those handed to staff silently;
* visible reply, German and English separately: exact (whitespace-normalised equality of
  `visible_reply` with the labelled `visible_text`) and containment (the labelled
  `visible_core` is in the text the classifier reads).

No model is needed: what the router would answer does not change whether a mail is
ignored. Prints Markdown; `--misses` lists every mail that missed, by class.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench.common import ROOT

CORPUS = ROOT / "tests" / "mail" / "corpus"
MAX_MACHINE_ANSWERED = 0.05


def normalise(text: str) -> str:
    """NFC, whitespace runs as one space, stripped (the comparison of the labels)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def load_labels(corpus: Path = CORPUS) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (corpus / "labels.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def decide_mail(raw: bytes, own) -> Dict[str, Any]:
    """What the gateway's code does with one mail (a first mail of its thread)."""
    from ks1bot.core.email_text import visible_reply
    from ks1bot.core.messages import InboundMessage
    from ks1bot.core.preparation import prepare
    from mail_gateway import policy
    from mail_gateway.loop_protection import facts_of, screen_mail
    from mail_gateway.parsing import parse_mail

    mail = parse_mail(raw)
    if mail.unparseable:
        return {"action": "staff", "reason": "unparseable_mail", "unparseable": True, "classified": "",
                "visible": "", "message_id": mail.message_id}
    screening = screen_mail(facts_of(mail, own))
    context = policy.MailContext(auto_reason=screening.machine, has_reply_address=bool(mail.reply_address),
                                 in_handoff=False, replies_to_sender=0, replies_in_thread=0, doubts=screening.doubts)
    verdict = policy.verdict(context, policy.Limits())
    action = {"ignore": "ignore", "followup": "staff", "route": "answer"}[verdict.action]
    message = InboundMessage(id=mail.message_id, channel="email", received_at=dt.datetime.now(dt.timezone.utc),
                             sender=mail.from_address or mail.reply_address or "unknown@invalid", text=mail.body,
                             subject=mail.subject)
    return {"action": action, "reason": verdict.reason, "unparseable": False, "classified": prepare(message).text,
            "visible": visible_reply(mail.body, mail.subject), "message_id": mail.message_id}


def run(corpus: Path = CORPUS, settings_path: Optional[Path] = None) -> Dict[str, Any]:
    from ks1bot.core.settings import load_settings
    from mail_gateway.loop_protection import own_mail

    settings = load_settings(settings_path or ROOT / "settings.yml")
    own = own_mail(settings)
    rows = []
    started = time.perf_counter()
    for label in load_labels(corpus):
        raw = (corpus / label["file"]).read_bytes()
        try:
            outcome = decide_mail(raw, own)
            crash = None
        except Exception as exc:  # counted, never hidden
            outcome, crash = {"action": "crash", "reason": None, "unparseable": False, "classified": "",
                              "visible": ""}, f"{type(exc).__name__}: {exc}"
        exact = containment = None
        if label["kind"] == "human":
            if label["visible_text"]:
                exact = normalise(outcome["visible"]) == normalise(label["visible_text"])
            if label["visible_core"]:
                containment = normalise(label["visible_core"]).lower() in normalise(outcome["classified"]).lower()
        rows.append({"file": label["file"], "kind": label["kind"], "auto_class": label["auto_class"],
                     "language": label["language"], "action": outcome["action"], "reason": outcome["reason"],
                     "unparseable": outcome["unparseable"], "crash": crash, "exact": exact,
                     "containment": containment})
    return {"corpus": str(corpus.relative_to(ROOT)) if corpus.is_relative_to(ROOT) else str(corpus),
            "mails": len(rows), "seconds": round(time.perf_counter() - started, 2), "rows": rows,
            "figures": figures(rows)}


def _rate(hits: int, total: int) -> Optional[float]:
    return round(hits / total, 4) if total else None


def figures(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    machine = [r for r in rows if r["kind"] == "auto"]
    human = [r for r in rows if r["kind"] == "human"]
    ignored = [r for r in rows if r["action"] == "ignore"]
    true_ignored = [r for r in ignored if r["kind"] == "auto"]
    out: Dict[str, Any] = {
        "crashes": sum(1 for r in rows if r["crash"]),
        "unparseable": sum(1 for r in rows if r["unparseable"]),
        "human": len(human), "machine": len(machine),
        "auto_precision": _rate(len(true_ignored), len(ignored)),
        "auto_recall": _rate(len(true_ignored), len(machine)),
        "human_ignored": sum(1 for r in human if r["action"] == "ignore"),
        "human_to_staff_silently": sum(1 for r in human if r["action"] == "staff"),
        "machine_answered": sum(1 for r in machine if r["action"] == "answer"),
        "machine_to_staff_silently": sum(1 for r in machine if r["action"] == "staff"),
    }
    out["machine_answered_rate"] = _rate(out["machine_answered"], len(machine))
    for language in ("de", "en", "other"):
        scored = [r for r in human if r["language"] == language]
        exact = [r for r in scored if r["exact"] is not None]
        contained = [r for r in scored if r["containment"] is not None]
        out[f"exact_{language}"] = [sum(1 for r in exact if r["exact"]), len(exact)]
        out[f"containment_{language}"] = [sum(1 for r in contained if r["containment"]), len(contained)]
    by_class = Counter((r["auto_class"], r["action"]) for r in machine)
    out["machine_by_class"] = {cls: {a: by_class[(cls, a)] for a in ("ignore", "staff", "answer") if by_class[(cls, a)]}
                               for cls in sorted({r["auto_class"] for r in machine})}
    return out


def passes(f: Dict[str, Any]) -> bool:
    """The figures the issue makes a must."""
    return f["crashes"] == 0 and f["human_ignored"] == 0 and (f["machine_answered_rate"] or 0) <= MAX_MACHINE_ANSWERED


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _pair(pair: List[int]) -> str:
    hits, total = pair
    return f"{hits}/{total} ({_pct(_rate(hits, total))})" if total else "–"


def report(data: Dict[str, Any], misses: bool = False) -> str:
    f = data["figures"]
    lines = [
        f"### Real-mail corpus ({data['mails']} mails: {f['human']} human, {f['machine']} machine; "
        f"{data['seconds']} s)",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| crashes | {f['crashes']} | 0 |",
        f"| unreadable (to staff with the original) | {f['unparseable']} | |",
        f"| auto-mail detection (ignore) precision | {_pct(f['auto_precision'])} | |",
        f"| auto-mail detection (ignore) recall | {_pct(f['auto_recall'])} | |",
        f"| human mails ignored | {f['human_ignored']} | 0 |",
        f"| human mails to staff without an automatic reply | {f['human_to_staff_silently']} | |",
        f"| machine mails that would get an automatic reply | {f['machine_answered']} "
        f"({_pct(f['machine_answered_rate'])}) | ≤ 5 % |",
        f"| machine mails to staff without a reply | {f['machine_to_staff_silently']} | |",
        f"| visible reply exact, German | {_pair(f['exact_de'])} | |",
        f"| visible reply exact, English | {_pair(f['exact_en'])} | |",
        f"| visible reply containment, German | {_pair(f['containment_de'])} | |",
        f"| visible reply containment, English | {_pair(f['containment_en'])} | |",
        f"| (other languages: exact {_pair(f['exact_other'])}, containment {_pair(f['containment_other'])}) | | |",
        "",
        "| machine class | ignored | to staff | answered |",
        "|---|---|---|---|",
    ]
    for cls, counts in f["machine_by_class"].items():
        lines.append(f"| {cls} | {counts.get('ignore', 0)} | {counts.get('staff', 0)} | {counts.get('answer', 0)} |")
    lines += ["", "Must-be figures (0 crashes, 0 human mails ignored, ≤ 5 % machine mails answered): "
              + ("**hold**" if passes(f) else "**do not hold**")]
    if misses:
        rows = data["rows"]
        lines += ["", "Misses:"]
        for r in rows:
            if r["crash"]:
                lines.append(f"- crash: {r['file']}: {r['crash']}")
        for r in rows:
            if r["kind"] == "human" and r["action"] != "answer":
                lines.append(f"- human {r['action']}: {r['file']} ({r['reason']})")
        for r in rows:
            if r["kind"] == "auto" and r["action"] != "ignore":
                lines.append(f"- machine {r['action']}: {r['file']} ({r['auto_class']}; {r['reason']})")
        for r in rows:
            if r["kind"] == "human" and r["containment"] is False:
                lines.append(f"- containment miss ({r['language']}): {r['file']}")
        for r in rows:
            if r["kind"] == "human" and r["exact"] is False and r["language"] in ("de", "en"):
                lines.append(f"- exact miss ({r['language']}): {r['file']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args(argv)
    data = run(Path(args.corpus))
    print(report(data, misses=args.misses))
    return 0 if passes(data["figures"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
