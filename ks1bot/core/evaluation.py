"""Labelled message sets and their figures: route accuracy, wrong exclusions, exclusion
precision, per category; and the threshold sweep behind `ks1bot calibrate`.

A labelled set is JSONL in the `ks1bot route` input format with an `expect` object on
each line (`bench/data/realistic/*.jsonl`, `bench/data/holdout.jsonl`), or a plain input
file with a separate expectations file (`../shared/eval/dev.jsonl` + `dev_expect.jsonl`):
    "expect": {"routes": [...], "topics": [...], "language": "de", "priority"?: "high",
               "parts"?: [topics]}, "category"?: "forward"
Everything here is pure; the caller routes the messages.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ks1bot.core.messages import InboundMessage, InputError, message_from_mapping


class LabelledSetError(Exception):
    """A labelled set that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    message: InboundMessage
    expect: Mapping[str, Any]
    category: str = "uncategorised"
    source: str = ""


def load_cases(path: Path, expect_path: Optional[Path] = None) -> List[Case]:
    """The cases of a labelled set (see the module docstring). Without `expect_path`, a file
    `<name>_expect.jsonl` beside the set is used when there is one."""
    expectations: Dict[str, Mapping[str, Any]] = {}
    sibling = Path(path).with_name(f"{Path(path).stem}_expect.jsonl")
    if expect_path is None and sibling.is_file():
        expect_path = sibling
    if expect_path is not None:
        for line in Path(expect_path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                expectations[str(row["id"])] = row
    cases = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledSetError(f"{path}:{number} is not valid JSON ({exc.msg}).") from None
        message = message_from_mapping(row)
        if isinstance(message, InputError):
            raise LabelledSetError(f"{path}:{number}: {message.error}.")
        expect = row.get("expect") or expectations.get(message.id)
        if not isinstance(expect, Mapping) or not expect.get("routes"):
            raise LabelledSetError(f"{path}:{number} has no expectation with routes.")
        cases.append(Case(message, expect, str(row.get("category") or "uncategorised"), Path(path).name))
    return cases


@dataclass
class Figures:
    """Routing figures of a set of cases."""

    n: int = 0
    route_right: int = 0
    topic_right: int = 0
    language_right: int = 0
    exclusions: int = 0
    wrong_exclusions: int = 0
    #: messages that should be excluded, and how many of them were
    expected_exclusions: int = 0
    caught_exclusions: int = 0
    priority_checks: int = 0
    priority_right: int = 0
    #: (case id, expected routes, got route, got topic) of every wrong exclusion
    wrong: List[Tuple[str, Tuple[str, ...], str, str]] = field(default_factory=list)
    misses: List[Tuple[str, str, Tuple[str, ...], str, str]] = field(default_factory=list)

    def add(self, case: Case, out: Mapping[str, Any]) -> None:
        expect = case.expect
        routes = tuple(expect["routes"])
        self.n += 1
        route_ok = out.get("route") in routes
        self.route_right += route_ok
        self.topic_right += out.get("topic") in tuple(expect.get("topics") or ())
        self.language_right += out.get("language") == expect.get("language")
        if out.get("route") == "exclude":
            self.exclusions += 1
            if "exclude" not in routes:
                self.wrong_exclusions += 1
                self.wrong.append((case.message.id, routes, str(out.get("route")), str(out.get("topic"))))
        if routes == ("exclude",):
            self.expected_exclusions += 1
            self.caught_exclusions += out.get("route") == "exclude"
        if "priority" in expect:
            self.priority_checks += 1
            self.priority_right += out.get("priority") == expect["priority"]
        if not route_ok:
            self.misses.append((case.message.id, case.category, routes, str(out.get("route")), str(out.get("topic"))))

    @property
    def route_accuracy(self) -> float:
        return self.route_right / self.n if self.n else 0.0

    @property
    def topic_accuracy(self) -> float:
        return self.topic_right / self.n if self.n else 0.0

    @property
    def exclusion_precision(self) -> float:
        return (self.exclusions - self.wrong_exclusions) / self.exclusions if self.exclusions else 1.0

    @property
    def exclusion_recall(self) -> float:
        return self.caught_exclusions / self.expected_exclusions if self.expected_exclusions else 1.0

    def as_dict(self) -> Dict[str, Any]:
        return {
            "n": self.n, "route_accuracy": round(self.route_accuracy, 4), "topic_accuracy": round(self.topic_accuracy, 4),
            "language_accuracy": round(self.language_right / self.n, 4) if self.n else 0.0,
            "exclusions": self.exclusions, "wrong_exclusions": self.wrong_exclusions,
            "exclusion_precision": round(self.exclusion_precision, 4),
            "exclusion_recall": round(self.exclusion_recall, 4),
            "priority": f"{self.priority_right}/{self.priority_checks}",
        }


def figures(cases: Sequence[Case], outputs: Sequence[Mapping[str, Any]]) -> Figures:
    result = Figures()
    for case, out in zip(cases, outputs):
        result.add(case, out)
    return result


def by_category(cases: Sequence[Case], outputs: Sequence[Mapping[str, Any]]) -> Dict[str, Figures]:
    groups: Dict[str, Figures] = {}
    for case, out in zip(cases, outputs):
        groups.setdefault(case.category, Figures()).add(case, out)
    return dict(sorted(groups.items()))


# -- threshold sweep ---------------------------------------------------------------------
@dataclass(frozen=True)
class SweepRow:
    classify: float
    exclude: float
    in_scope_doubt: float
    figures: Figures


def sweep(route_all: Callable[[float, float, float], Sequence[Mapping[str, Any]]], cases: Sequence[Case],
          classify_values: Iterable[float], exclude_values: Iterable[float], doubt_values: Iterable[float],
          progress: Callable[[str], None] = lambda line: None) -> List[SweepRow]:
    """Route every case at every (classify, exclude, in_scope_doubt) combination;
    `route_all(classify, exclude, in_scope_doubt)` returns the outputs in case order."""
    rows = []
    exclude_values, doubt_values = list(exclude_values), list(doubt_values)
    for classify in classify_values:
        for exclude in exclude_values:
            for doubt in doubt_values:
                rows.append(SweepRow(classify, exclude, doubt, figures(cases, route_all(classify, exclude, doubt))))
        progress(f"classify {classify:.2f}: {len(exclude_values) * len(doubt_values)} combinations done")
    return rows


def choose(rows: Sequence[SweepRow], min_precision: float = 0.99) -> Optional[SweepRow]:
    """The combination with exclusion precision ≥ `min_precision` and the best route
    accuracy; ties go to fewer wrong exclusions, then to the safer thresholds."""
    allowed = [r for r in rows if r.figures.exclusion_precision >= min_precision]
    if not allowed:
        return None
    return max(allowed, key=lambda r: (round(r.figures.route_accuracy, 6), -r.figures.wrong_exclusions, r.exclude,
                                       -r.in_scope_doubt, r.classify))


def describe_sweep(rows: Sequence[SweepRow], chosen: Optional[SweepRow], min_precision: float) -> str:
    lines = [f"threshold sweep on {rows[0].figures.n if rows else 0} messages "
             f"(chosen: best route accuracy with exclusion precision >= {min_precision})",
             "classify  exclude  in_scope_doubt  route_acc  excl_precision  excl_recall  exclusions  wrong_excl"]
    for row in rows:
        f = row.figures
        mark = "  <- chosen" if chosen is not None and row is chosen else ""
        lines.append(f"{row.classify:8.2f}  {row.exclude:7.2f}  {row.in_scope_doubt:14.2f}  {f.route_accuracy:9.3f}"
                     f"  {f.exclusion_precision:14.3f}  {f.exclusion_recall:11.3f}  {f.exclusions:10d}"
                     f"  {f.wrong_exclusions:10d}{mark}")
    return "\n".join(lines)
