"""The scale-out benchmark (docs/benchmarks.md §9): REST throughput and p95 at 10 and 50
conversations, and mail throughput, with 1, 2 and 4 processes per role on PostgreSQL
and Redis, next to the SQLite single process (`ks1bot serve` as `make run` starts it).

    python -m bench.scale_bench [--processes 1,2,4] [--levels 10,50] [--duration 20]
                                [--mails 200] [--output bench/results/scale.json]

For each configuration it starts the role processes as a process manager would
(`ks1bot serve --role actions --workers N`, `--role rasa --workers N` with Rasa process i
calling action server i, then `--role mail --workers N`), the load generator of
`ks1bot bench server` (bench/server_load.py) with its users spread over the Rasa
processes (each user keeps to one, as nginx's hash does), and for mail sends `--mails`
mails over the workers' SMTP listeners and times them until every outcome is stored.
PostgreSQL and Redis are the tests' own (tests/support/databases.py): started on
loopback, thrown away after. CPU per role is read from /proc for every process.
Traffic goes to 127.0.0.1 only. Writes the JSON, a Markdown table and a PNG plot."""
from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import common
from bench.server_load import EVAL, _descendants, bench_secrets, cpu_seconds, free_port, load_messages, run_generator

ROOT = common.ROOT
KS1BOT = str(Path(sys.executable).with_name("ks1bot"))


def log(line: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


class Group:
    """`ks1bot serve [--role R --workers N] …` in its own process group."""

    def __init__(self, workdir: Path, name: str, args: List[str], env: Dict[str, str]) -> None:
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen([KS1BOT, "--settings", str(workdir / "settings.yml"), "serve", *args],
                                        cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.name = name

    def wait_up(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} stopped: {self.log_path.read_text()[-3000:]}")
            if "KS1 bot is up" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(1)
        raise RuntimeError(f"{self.name} did not come up: {self.log_path.read_text()[-3000:]}")

    def pids(self) -> List[int]:
        return [self.process.pid, *_descendants(self.process.pid)] if self.process.poll() is None else []

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return round(total / 1024, 0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def settings_file(workdir: Path) -> None:
    from ks1bot.core.settings import load_settings

    project = load_settings(ROOT / "settings.yml")
    customers = EVAL / "customers.csv"
    (workdir / "settings.yml").write_text(
        f"customers: {customers if customers.is_file() else project.customers}\n"
        f"models_dir: {project.models_dir}\nknowledge_dir: {project.knowledge_dir}\n"
        f"data_dir: {workdir / 'var'}\nour_addresses: {json.dumps(list(project.our_addresses))}\n"
        "mail:\n  sender_limit: 100000\n  thread_replies_per_day: 100000\n")


def machine_busy() -> tuple:
    """(busy, total) jiffies of all cores so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def postgres_pids() -> List[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def rest_levels(urls: Sequence[str], levels: Sequence[int], duration: float, secrets: Dict[str, str],
                groups: Dict[str, Group], warmup: int = 20) -> List[Dict[str, Any]]:
    joined = ",".join(u + "/webhooks/rest/webhook" for u in urls)
    run_generator(joined, len(urls), 120.0, warmup * len(urls), "warmup", secrets)
    results = []
    for level in levels:
        pids = {name: g.pids() for name, g in groups.items()}
        pids["postgres"] = postgres_pids()
        before = {name: cpu_seconds(p) for name, p in pids.items()}
        busy_before = machine_busy()
        result = run_generator(joined, level, duration, 100_000, f"c{level}", secrets)
        busy_after = machine_busy()
        for name, p in pids.items():
            result[f"cpu_ms_per_msg_{name}"] = round(1000 * (cpu_seconds(p) - before[name]) / max(1, result["messages"]), 1)
        # every process of the machine (the load generator and other sessions too): 1.0 = all cores busy
        result["machine_busy"] = round((busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]), 2)
        results.append(result)
        log(f"  {level} conversations: {result['throughput']:.1f} msg/s, p95 {result['p95_ms']:.0f} ms, "
            f"{result['errors']} errors, CPU ms/msg " + ", ".join(f"{k[15:]} {v}" for k, v in result.items()
                                                               if k.startswith("cpu_ms_per_msg_")))
    return results


def mail_messages(count: int, tag: str) -> List[bytes]:
    texts = [m["text"] for m in load_messages() if m["metadata"].get("channel") in ("email", "chat")]
    made = []
    for n in range(count):
        msg = EmailMessage(policy=SMTP)
        msg["From"] = f"kunde{n}@bench-{tag}.example"
        msg["To"] = "support@ks1-support.example"
        msg["Subject"] = f"Anfrage {n}"
        msg["Message-ID"] = f"<{tag}-{n}@bench.example>"
        msg.set_content(f"{texts[n % len(texts)]}\n\n(Vorgang {tag}-{n})")
        made.append(msg.as_bytes())
    return made


def mail_throughput(smtp_ports: Sequence[int], count: int, tag: str, store) -> Dict[str, Any]:
    mails = mail_messages(count, tag)
    started = time.perf_counter()
    for n, raw in enumerate(mails):
        with smtplib.SMTP("127.0.0.1", smtp_ports[n % len(smtp_ports)], timeout=60) as client:
            client.sendmail(f"kunde{n}@bench.example", ["support@ks1-support.example"], raw)
    accepted = time.perf_counter() - started
    while True:
        done = store.query("SELECT COUNT(*) AS n FROM inbound WHERE status IN ('processed', 'ignored', 'failed')")[0]["n"]
        if done >= count or time.perf_counter() - started > 900:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    return {"mails": count, "handled": done, "seconds": round(elapsed, 1), "intake_s": round(accepted, 1),
            "throughput": round(done / elapsed, 2)}


def free_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports (--workers counts up from it)."""
    import socket

    for _ in range(200):
        base = free_port()
        if base + count >= 65000:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")


def run_config(label: str, processes: Optional[int], levels, duration, mails, pg, redis, workdir: Path):
    """processes None: SQLite, `ks1bot serve` with every role once (make run)."""
    from mail_gateway.store import MailStore

    secrets = {**bench_secrets(), "KS1BOT_RASA_TOKEN": "r" * 40, "KS1BOT_ACTIONS_TOKEN": "a" * 40}
    env = {**os.environ, **secrets}
    env.pop("KS1BOT_DATABASE_URL", None)
    env.pop("KS1BOT_REDIS_URL", None)
    out: Dict[str, Any] = {"label": label, "processes": processes or 1,
                           "store": "SQLite" if processes is None else "PostgreSQL + Redis"}
    if processes is None:
        rasa, actions, smtp = free_port(), free_port(), free_port()
        bot = Group(workdir, "all", ["--rasa-port", str(rasa), "--actions-port", str(actions), "--console-port",
                                     str(free_port()), "--smtp-listen", f"127.0.0.1:{smtp}"], env)
        try:
            bot.wait_up()
            log(f"{label}: up")
            out["rest"] = rest_levels([f"http://127.0.0.1:{rasa}"], levels, duration, secrets, {"all": bot})
            out["rss_mb"] = {"all": bot.rss_mb()}
            out["mail"] = mail_throughput([smtp], mails, f"sqlite{int(time.time())}",
                                          MailStore(workdir / "var" / "mail"))
            log(f"  mail: {out['mail']}")
        finally:
            bot.stop()
        return out
    env.update({"KS1BOT_DATABASE_URL": pg.database(), "KS1BOT_REDIS_URL": redis.url})
    actions = [free_block(processes) + i for i in range(1)]
    actions = [actions[0] + i for i in range(processes)]
    rasa_base = free_block(processes)
    while rasa_base in range(actions[0] - processes, actions[-1] + 1):
        rasa_base = free_block(processes)
    rasa = [rasa_base + i for i in range(processes)]
    env["KS1BOT_ACTIONS_URL"] = ",".join(f"http://127.0.0.1:{p}/webhook" for p in actions)
    groups = {}
    try:
        groups["actions"] = Group(workdir, f"actions-{processes}", ["--role", "actions", "--workers", str(processes),
                                                                    "--actions-port", str(actions[0])], env)
        groups["actions"].wait_up()
        groups["rasa"] = Group(workdir, f"rasa-{processes}", ["--role", "rasa", "--workers", str(processes),
                                                              "--rasa-port", str(rasa[0])], env)
        groups["rasa"].wait_up()
        log(f"{label}: up")
        out["rest"] = rest_levels([f"http://127.0.0.1:{p}" for p in rasa], levels, duration, secrets, groups)
        out["rss_mb"] = {name: g.rss_mb() for name, g in groups.items()}
    finally:
        for g in groups.values():
            g.stop()
    smtp_base, http_base = free_block(processes), free_block(processes)
    while abs(smtp_base - http_base) < processes:
        http_base = free_block(processes)
    smtp = [smtp_base + i for i in range(processes)]
    mail = Group(workdir, f"mail-{processes}", ["--role", "mail", "--workers", str(processes), "--smtp-listen",
                                                f"127.0.0.1:{smtp[0]}", "--mail-http-listen",
                                                f"127.0.0.1:{http_base}"], env)
    try:
        mail.wait_up()
        store = MailStore(workdir / "var" / "mail", url=env["KS1BOT_DATABASE_URL"])
        out["mail"] = mail_throughput(smtp, mails, f"pg{processes}-{int(time.time())}", store)
        out["rss_mb"]["mail"] = mail.rss_mb()
        log(f"  mail: {out['mail']}")
    finally:
        mail.stop()
    return out


def plot(data: Dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), dpi=110)
    pg = [c for c in data["configs"] if c["store"] != "SQLite"]
    sqlite = next((c for c in data["configs"] if c["store"] == "SQLite"), None)
    xs = [c["processes"] for c in pg]
    for level, colour in zip(data["options"]["levels"], ("tab:blue", "tab:orange", "tab:green")):
        def of(config, key):
            return next((r[key] for r in config["rest"] if r["concurrency"] == level), None)
        axes[0].plot(xs, [of(c, "throughput") for c in pg], "o-", color=colour, label=f"PostgreSQL, {level} conv.")
        axes[1].plot(xs, [of(c, "p95_ms") for c in pg], "o-", color=colour, label=f"PostgreSQL, {level} conv.")
        if sqlite:
            axes[0].axhline(of(sqlite, "throughput"), color=colour, ls="--", lw=1, label=f"SQLite 1 process, {level}")
            axes[1].axhline(of(sqlite, "p95_ms"), color=colour, ls="--", lw=1, label=f"SQLite 1 process, {level}")
    axes[2].plot(xs, [c["mail"]["throughput"] for c in pg], "o-", color="tab:purple", label="PostgreSQL")
    if sqlite:
        axes[2].axhline(sqlite["mail"]["throughput"], color="tab:purple", ls="--", lw=1, label="SQLite 1 process")
    for ax, title, unit in zip(axes, ("REST throughput", "REST p95 latency", "mail throughput"),
                               ("messages/s", "ms", "mails/s")):
        ax.set_title(title)
        ax.set_xlabel("processes per role")
        ax.set_ylabel(unit)
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"KS1 bot scale-out on {data['machine']['cores']} cores ({data['machine']['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def report(data: Dict[str, Any]) -> str:
    header = ["configuration", "conv.", "msg/s", "p50 ms", "p95 ms", "errors", "CPU ms/msg (per role)",
              "machine busy"]
    rows = []
    for c in data["configs"]:
        for r in c["rest"]:
            cpu = ", ".join(f"{k[15:]} {v}" for k, v in r.items() if k.startswith("cpu_ms_per_msg_"))
            rows.append([c["label"], r["concurrency"], f"{r['throughput']:.1f}", f"{r['p50_ms']:.0f}",
                         f"{r['p95_ms']:.0f}", r["errors"], cpu, f"{100 * r.get('machine_busy', 0):.0f} %"])
    mail = [[c["label"], c["mail"]["mails"], c["mail"]["handled"], f"{c['mail']['throughput']:.1f}",
             c["mail"]["seconds"]] for c in data["configs"]]
    return (common.markdown_table(header, rows) + "\n\n"
            + common.markdown_table(["configuration", "mails", "handled", "mails/s", "seconds"], mail) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--levels", default="10,50")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--mails", type=int, default=200)
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite single-process baseline")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "scale.json"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.support.databases import PostgresServer, RedisServer

    levels = [int(x) for x in args.levels.split(",")]
    configs = []
    with tempfile.TemporaryDirectory(prefix="ks1scale-") as tmp:
        root = Path(tmp)
        pg = PostgresServer().start()
        redis = RedisServer(root / "redis").start()
        try:
            plan = ([("SQLite, 1 process (make run)", None)] if not args.no_sqlite else []) + \
                [(f"PostgreSQL + Redis, {n} per role", n) for n in (int(x) for x in args.processes.split(","))]
            for label, n in plan:
                workdir = root / (f"p{n}" if n else "sqlite")
                workdir.mkdir()
                settings_file(workdir)
                log(f"{label} …")
                configs.append(run_config(label, n, levels, args.duration, args.mails, pg, redis, workdir))
                Path(args.output).parent.mkdir(parents=True, exist_ok=True)
                Path(args.output).with_suffix(".partial.json").write_text(json.dumps(configs, indent=2))
        finally:
            redis.stop()
            pg.destroy()
    data = {"benchmark": "scale", "machine": common.machine(), "options": vars(args) | {"levels": levels},
            "configs": configs}
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2))
    output.with_suffix(".md").write_text(report(data))
    plot(data, output.with_suffix(".png"))
    print(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
