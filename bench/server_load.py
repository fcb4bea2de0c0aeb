"""`ks1bot bench server`: round trips through the running bot (Rasa REST channel + actions).

The benchmark starts `ks1bot serve` on free ports, waits until it is up, warms it up,
then for each concurrency level runs the load generator in a separate process:

    python -m bench.server_load --url URL --concurrency N --duration S [--max-messages M]

an asyncio/aiohttp client with N virtual users, each sending its next message as
soon as the previous reply is in (closed loop, no think time). Every message opens a
new conversation, so each one is classified, routed by the action server and answered
(none is cut short by the silence after a handoff). The texts are the KS1 messages of
../shared/eval/dev.jsonl and bench/data/holdout.jsonl, with their channel and timestamp
as metadata, each sent with a case number of its own ("(Vorgang 4711…)") so no text
repeats and no cache inside the bot answers in place of the model. Traffic goes to
127.0.0.1 only, bounded in time and count.

The client authenticates like the real ones (docs/security.md): chat and email texts go
to the REST webhook with its API key and, when the sender is a customer of the
directory, a customer token signed like KS1 web's; call transcripts go to the phone
webhook, signed like the phone system's requests. `ks1bot bench server` makes the
secrets for the bot it starts and hands them to the generator in its environment.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import common
from bench.common import BenchError, Progress

EVAL = common.ROOT.parent / "shared" / "eval"
MESSAGE_FILES = (EVAL / "dev.jsonl", common.ROOT / "bench" / "data" / "holdout.jsonl")
#: The targets of the benchmark issue at 10 concurrent conversations.
TARGET_THROUGHPUT = 50.0
TARGET_P95_MS = 100.0
RASA_REFERENCE = "about 20 messages/s for one Rasa instance (Rasa's published figure)"


#: The secrets `ks1bot bench server` starts its bot with (and gives the load generator).
SECRET_NAMES = ("KS1BOT_REST_API_KEY", "KS1BOT_CALL_SECRET", "KS1BOT_WIDGET_TOKEN_SECRET")


def bench_secrets() -> Dict[str, str]:
    import secrets

    return {name: secrets.token_hex(32) for name in SECRET_NAMES}


def load_directory():
    """The evaluation customer directory (None when it is missing): whose token to send."""
    from ks1bot.core.customers import CustomerDirectory

    path = EVAL / "customers.csv"
    return CustomerDirectory.load(path) if path.is_file() else None


def load_messages(files: Sequence[Path] = MESSAGE_FILES) -> List[Dict[str, Any]]:
    """The texts and metadata the virtual users send."""
    messages = []
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(row, dict) or not str(row.get("text") or "").strip():
                continue
            metadata = {k: row[k] for k in ("channel", "received_at", "subject") if row.get(k)}
            if metadata.get("channel") not in ("chat", "email", "call"):
                metadata["channel"] = "chat"
            messages.append({"text": str(row["text"]), "metadata": metadata, "sender": str(row.get("sender") or "")})
    if not messages:
        raise BenchError(f"no messages found in {', '.join(str(p) for p in files)}.")
    return messages


# -- the load generator (runs in its own process) ----------------------------------
def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


def unique_text(text: str, case_number: int) -> str:
    """The message with a case number of its own, as customers often write one."""
    return f"{text.rstrip()} (Vorgang {case_number})"


class Credentials:
    """How the load generator signs and authenticates, from its environment."""

    def __init__(self, env: Dict[str, str]) -> None:
        missing = [name for name in SECRET_NAMES if not env.get(name)]
        if missing:
            raise BenchError(f"the load generator needs {', '.join(missing)} in its environment "
                             "(`ks1bot bench server` sets them for the bot it starts).")
        self.rest_key = env["KS1BOT_REST_API_KEY"]
        self.call_secret = env["KS1BOT_CALL_SECRET"]
        self.widget_secret = env["KS1BOT_WIDGET_TOKEN_SECRET"]
        self.directory = load_directory()
        self._tokens: Dict[str, Optional[str]] = {}

    def customer_token(self, sender: str) -> Optional[str]:
        """KS1 web's token for a sender that is a customer (made once per sender)."""
        if sender not in self._tokens:
            from ks1bot.core.tokens import make_customer_token

            match = self.directory.match(sender) if self.directory is not None and sender else None
            self._tokens[sender] = make_customer_token(self.widget_secret, match.customer.customer_id, time.time(),
                                                       email=sender) if match else None
        return self._tokens[sender]

    def request(self, url: str, message: Dict[str, Any], conversation: str, text: str):
        """(url, body bytes, headers, kind) of one message: a call transcript to the phone
        webhook, signed; anything else to the REST webhook with the API key."""
        from ks1bot.core.tokens import sign_request

        metadata = dict(message["metadata"])
        if metadata.get("channel") == "call":
            body = json.dumps({"call_id": conversation, "caller": message["sender"] or "+4900000000",
                               "transcript": text}).encode()
            stamp = str(int(time.time()))
            return (url.rsplit("/webhooks/", 1)[0] + "/webhooks/call", body,
                    {"Content-Type": "application/json", "X-KS1-Timestamp": stamp,
                     "X-KS1-Signature": sign_request(self.call_secret, stamp, body)}, "call")
        token = self.customer_token(message["sender"])
        if token:
            metadata["customer_token"] = token
        body = json.dumps({"sender": conversation, "message": text, "metadata": metadata}).encode()
        return url, body, {"Content-Type": "application/json", "Authorization": f"Bearer {self.rest_key}"}, "rest"


def answered(kind: str, status: int, body: Any) -> bool:
    """A decision came back (REST: a `custom` message; phone: the route)."""
    if status != 200:
        return False
    if kind == "call":
        return isinstance(body, dict) and bool(body.get("route"))
    return any(isinstance(r, dict) and "custom" in r for r in body or [])


async def drive(url: str, concurrency: int, duration: float, max_messages: int,
                messages: Sequence[Dict[str, Any]], prefix: str = "load", timeout: float = 60.0,
                credentials: Optional[Credentials] = None) -> Dict[str, Any]:
    """Closed-loop load: `concurrency` users until `duration` seconds or `max_messages`."""
    import aiohttp

    credentials = credentials or Credentials(dict(os.environ))
    urls = [u.strip() for u in url.split(",") if u.strip()]
    latencies: List[float] = []
    failures: Dict[str, int] = {}
    counter = itertools.count()
    case_base = random.SystemRandom().randrange(10**8, 9 * 10**8)  # case numbers unique across runs
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    started = time.perf_counter()
    deadline = started + duration

    async def user(session, number: int) -> None:
        for turn in itertools.count():
            n = next(counter)
            if n >= max_messages or time.perf_counter() >= deadline:
                return
            message = messages[n % len(messages)]
            text = unique_text(message["text"], case_base + n)
            # several Rasa processes (`--url A,B`): each user stays with one, like nginx's hash
            target, body, headers, kind = credentials.request(urls[number % len(urls)], message,
                                                              f"{prefix}-{number}-{turn}", text)
            sent = time.perf_counter()
            try:
                async with session.post(target, data=body, headers=headers) as response:
                    answer = await response.json(content_type=None)
                    problem = None if answered(kind, response.status, answer) else \
                        f"HTTP {response.status} without a decision"
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                problem = type(exc).__name__
            if problem is None:
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                failures[problem] = failures.get(problem, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        await asyncio.gather(*(user(session, u) for u in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "messages": len(latencies),
        "errors": sum(failures.values()),
        "failures": failures,
        "elapsed_s": round(elapsed, 2),
        "throughput": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "mean_ms": round(statistics.fmean(ordered), 1) if ordered else float("nan"),
        "max_ms": round(ordered[-1], 1) if ordered else float("nan"),
    }


def generator_main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_load", description="closed-loop REST load")
    parser.add_argument("--url", required=True, help="the REST webhook, on 127.0.0.1 (several: comma-separated, "
                                                     "each user keeps to one)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (at most 600)")
    parser.add_argument("--max-messages", type=int, default=100_000)
    parser.add_argument("--prefix", default="load")
    args = parser.parse_args(argv)
    hosts = {u.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0] for u in args.url.split(",") if u.strip()}
    if not hosts or hosts - {"127.0.0.1", "localhost", "[::1]"}:
        print("server_load: the load generator only targets 127.0.0.1 / localhost.", file=sys.stderr)
        return 2
    try:
        credentials = Credentials(dict(os.environ))
    except BenchError as exc:
        print(f"server_load: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(drive(args.url, max(1, args.concurrency), min(args.duration, 600.0),
                               args.max_messages, load_messages(), args.prefix, credentials=credentials))
    print(json.dumps(result), flush=True)
    return 0


# -- the orchestration (`ks1bot bench server`) -----------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> List[int]:
    """Process ids below `pid` (Linux /proc)."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    result, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            result.append(child)
            todo.append(child)
    return result


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the given processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def serve_options() -> List[str]:
    """The option strings `ks1bot serve` accepts (its other listeners get free ports too)."""
    from ks1bot.app.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return [o for action in commands.choices["serve"]._actions for o in action.option_strings]  # noqa: SLF001


class Bot:
    """`ks1bot serve` on free ports, in its own process group; `start()` / `stop()`."""

    def __init__(self, workdir: Path, settings: Optional[Path] = None) -> None:
        self.workdir = workdir
        self.rasa_port, self.actions_port = free_port(), free_port()
        self.log_path = workdir / "serve.log"
        self.settings = settings or self._settings()
        self.process: Optional[subprocess.Popen] = None
        #: The public channels' secrets of this bot; the load generator gets them too.
        self.secrets = bench_secrets()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"

    def _settings(self) -> Path:
        from ks1bot.core.settings import load_settings

        project = load_settings(common.ROOT / "settings.yml")
        customers = EVAL / "customers.csv"
        path = self.workdir / "settings.yml"
        path.write_text(
            f"customers: {customers if customers.is_file() else project.customers}\n"
            f"models_dir: {project.models_dir}\nknowledge_dir: {project.knowledge_dir}\n"
            f"data_dir: {self.workdir / 'var'}\n"
            # the mail listener `ks1bot serve` starts needs a sender address for its replies
            f"our_addresses: {json.dumps(list(project.our_addresses))}\n", encoding="utf-8")
        return path

    def command(self) -> List[str]:
        """`ks1bot serve` with a free port for every listener it has an option for."""
        ks1bot = Path(sys.executable).with_name("ks1bot")
        command = [str(ks1bot) if ks1bot.exists() else "ks1bot", "--settings", str(self.settings), "serve",
                   "--rasa-port", str(self.rasa_port), "--actions-port", str(self.actions_port)]
        options = serve_options()
        if "--console-port" in options:
            command += ["--console-port", str(free_port())]
        if "--smtp-listen" in options:
            command += ["--smtp-listen", f"127.0.0.1:{free_port()}"]
        return command

    def start(self, timeout: float = 420.0) -> None:
        command = self.command()
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(command, cwd=common.ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.secrets},
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"`ks1bot serve` stopped (exit code {self.process.returncode}); "
                                 f"its log:\n{self.log_tail()}")
            if "KS1 bot is up" in self.log_path.read_text(encoding="utf-8", errors="replace"):
                return
            time.sleep(1.0)
        self.stop()
        raise BenchError(f"`ks1bot serve` did not come up within {timeout:.0f} s; its log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def pids(self) -> List[int]:
        return [self.process.pid, *_descendants(self.process.pid)] if self.process else []

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # serve stops its two servers
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        self.process = None


def run_generator(url: str, concurrency: int, duration: float, max_messages: int, prefix: str,
                  secrets: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The load generator in a separate Python process; its JSON result."""
    command = [sys.executable, "-m", "bench.server_load", "--url", url, "--concurrency", str(concurrency),
               "--duration", str(duration), "--max-messages", str(max_messages), "--prefix", prefix]
    done = subprocess.run(command, cwd=common.ROOT, capture_output=True, text=True, timeout=duration + 300,
                          env={**os.environ, **(secrets or {})})
    if done.returncode != 0:
        raise BenchError(f"the load generator failed (exit code {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(levels: Sequence[int] = (1, 10, 50), duration: float = 30.0, max_messages: int = 100_000,
        warmup: int = 20, settings: Optional[Path] = None, progress: Optional[Progress] = None) -> Dict[str, Any]:
    from ks1bot.nlu.model_store import current_model
    from ks1bot.core.settings import load_settings

    progress = progress or Progress("bench server")
    project = load_settings(settings or common.ROOT / "settings.yml")
    model = current_model(project.models_dir)
    if model is None:
        progress("no current KS1 model: `ks1bot serve` trains it first (a few minutes) …")
    results = []
    with tempfile.TemporaryDirectory(prefix="ks1bench-server-") as tmp:
        bot = Bot(Path(tmp), settings)
        progress(f"starting `ks1bot serve` on ports {bot.rasa_port} (Rasa) and {bot.actions_port} (actions) …")
        bot.start()
        try:
            progress("bot is up; warming up …")
            if warmup:
                run_generator(bot.url, 1, 120.0, warmup, "warmup", bot.secrets)
            for level in levels:
                progress(f"{level} concurrent conversation(s) for {duration:.0f} s …")
                pids = bot.pids()
                cpu_before = cpu_seconds(pids)
                result = run_generator(bot.url, level, duration, max_messages, f"c{level}", bot.secrets)
                cpu = cpu_seconds(pids) - cpu_before
                result["server_cpu_ms_per_message"] = round(1000 * cpu / max(1, result["messages"]), 1)
                result["server_cpu_share"] = round(cpu / max(1e-9, result["elapsed_s"]), 2)
                results.append(result)
                progress(f"{level} concurrent: {result['throughput']:.1f} msg/s, p50 {result['p50_ms']:.0f} ms, "
                         f"p95 {result['p95_ms']:.0f} ms, {result['errors']} errors")
        finally:
            bot.stop()
            progress("bot stopped")
    return {
        "benchmark": "server",
        "machine": common.machine(),
        "model": model.name if model else None,
        "options": {"levels": list(levels), "duration": duration, "max_messages": max_messages, "warmup": warmup},
        "elapsed_s": round(progress.elapsed, 1),
        "results": results,
        "target": {"concurrency": 10, "throughput": TARGET_THROUGHPUT, "p95_ms": TARGET_P95_MS},
    }


def report(data: Dict[str, Any]) -> str:
    header = ["concurrent conversations", "messages", "errors", "throughput msg/s", "p50 ms", "p95 ms", "p99 ms",
              "server CPU ms/msg", "server CPU cores busy"]
    rows = [[r["concurrency"], r["messages"], r["errors"], f"{r['throughput']:.1f}", f"{r['p50_ms']:.0f}",
             f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}", f"{r['server_cpu_ms_per_message']:.0f}",
             f"{r['server_cpu_share']:.2f}"] for r in data["results"]]
    text = [
        common.machine_line(data["machine"]),
        f"`ks1bot serve` (Rasa REST and phone channels + action server, model {data['model']}), closed-loop load "
        f"from a separate process that authenticates like the real clients (REST API key and KS1 web's customer "
        f"tokens, signed phone requests), {data['options']['duration']:.0f} s per level after "
        f"{data['options']['warmup']} warm-up messages; every message a new conversation. "
        f"Reference: {RASA_REFERENCE}.",
        "", common.markdown_table(header, rows),
    ]
    at10 = next((r for r in data["results"] if r["concurrency"] == 10), None)
    if at10:
        ok_t = at10["throughput"] >= TARGET_THROUGHPUT
        ok_p = at10["p95_ms"] <= TARGET_P95_MS
        text += ["", f"Targets at 10 concurrent conversations: ≥ {TARGET_THROUGHPUT:.0f} msg/s — "
                     f"{'met' if ok_t else 'missed'} ({at10['throughput']:.1f}); p95 ≤ {TARGET_P95_MS:.0f} ms — "
                     f"{'met' if ok_p else 'missed'} ({at10['p95_ms']:.0f} ms)."]
    return "\n".join(text)


if __name__ == "__main__":
    sys.exit(generator_main())
