"""Prometheus metrics of one process, in the text exposition format (version 0.0.4),
written here: prometheus_client is not among Rasa 3.6's dependencies, and the few
series below need no more than this.

    ks1bot_messages_total{channel,route,topic}     messages routed by this process
    ks1bot_routing_seconds{channel}                 routing latency (histogram)
    ks1bot_mail_queue_depth                         mails queued or being processed
    ks1bot_mail_queue_oldest_age_seconds            age of the oldest of them
    ks1bot_handoffs_open{channel}                   handoffs open or claimed
    ks1bot_up{role}                                 1 (the process answers)

Gauges are read when scraped (`gauge(name, help, read)`): a read that fails (the
database is away) leaves its series out and counts ks1bot_metric_errors_total.
"""
from __future__ import annotations

import threading
from typing import Callable, Dict, Iterable, List, Mapping, Tuple

#: Routing latency buckets, seconds (a message takes 20–200 ms; docs/benchmarks.md).
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Tuple[Tuple[str, str], ...]
#: A gauge's reader: {labels: value}.
GaugeRead = Callable[[], Mapping[Labels, float]]


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    escaped = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
               for k, v in labels)
    return "{" + ",".join(escaped) + "}"


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: Dict[Labels, int] = {}
        self._latency: Dict[Labels, List[float]] = {}  # bucket counts…, sum, count
        self._gauges: List[Tuple[str, str, GaugeRead]] = []
        self._errors = 0
        self.role = "all"

    def record_message(self, channel: str, route: str, topic: str, seconds: float) -> None:
        key = (("channel", channel or "unknown"), ("route", route or "unknown"), ("topic", topic or "unknown"))
        lat = (("channel", channel or "unknown"),)
        with self._lock:
            self._messages[key] = self._messages.get(key, 0) + 1
            row = self._latency.setdefault(lat, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def gauge(self, name: str, help_text: str, read: GaugeRead) -> None:
        with self._lock:
            self._gauges = [g for g in self._gauges if g[0] != name] + [(name, help_text, read)]

    def messages(self) -> Dict[Labels, int]:
        with self._lock:
            return dict(self._messages)

    def render(self) -> str:
        with self._lock:
            messages = dict(self._messages)
            latency = {k: list(v) for k, v in self._latency.items()}
            gauges = list(self._gauges)
        lines = ["# HELP ks1bot_up The process answers.", "# TYPE ks1bot_up gauge",
                 f'ks1bot_up{_labels((("role", self.role),))} 1',
                 "# HELP ks1bot_messages_total Messages routed by this process.",
                 "# TYPE ks1bot_messages_total counter"]
        lines += [f"ks1bot_messages_total{_labels(k)} {v}" for k, v in sorted(messages.items())]
        lines += ["# HELP ks1bot_routing_seconds Time to route one message.",
                  "# TYPE ks1bot_routing_seconds histogram"]
        for key, row in sorted(latency.items()):
            for bound, count in zip(BUCKETS, row):
                lines.append(f"ks1bot_routing_seconds_bucket{_labels(key + (('le', repr(bound)),))} {int(count)}")
            lines.append(f"ks1bot_routing_seconds_bucket{_labels(key + (('le', '+Inf'),))} {int(row[-1])}")
            lines.append(f"ks1bot_routing_seconds_sum{_labels(key)} {row[-2]:.6f}")
            lines.append(f"ks1bot_routing_seconds_count{_labels(key)} {int(row[-1])}")
        for name, help_text, read in gauges:
            try:
                values = read()
            except Exception:
                with self._lock:
                    self._errors += 1
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(k)} {float(v):g}" for k, v in sorted(values.items())]
        lines += ["# HELP ks1bot_metric_errors_total Gauges that could not be read (database away).",
                  "# TYPE ks1bot_metric_errors_total counter", f"ks1bot_metric_errors_total {self._errors}"]
        return "\n".join(lines) + "\n"


#: This process's registry.
REGISTRY = Registry()


def record_message(channel: str, route: str, topic: str, seconds: float) -> None:
    REGISTRY.record_message(channel, route, topic, seconds)


def parse(text: str) -> Dict[str, float]:
    """A scrape as {'name{labels}': value} (tests, the benchmark)."""
    found: Dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def single(value: float) -> Mapping[Labels, float]:
    return {(): value}


def by(label: str, counts: Iterable[Tuple[str, float]]) -> Mapping[Labels, float]:
    return {((label, str(k)),): v for k, v in counts}
