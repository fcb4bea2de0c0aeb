"""`ks1bot learn`: staff corrections become reviewed training data, and a retrained model
is kept only when it is not worse.

    ks1bot learn [export [--out FILE]]
        The corrections since the last run → a review file (YAML): per example the text
        as the NLU saw it, the topic (and route) staff chose, the source conversation and
        `review: accept | drop | pending` (from the lead's review in the console; edit the
        file to decide the rest).
    ks1bot learn apply FILE [--eval-limit N]
        Merges the accepted examples into data/nlu/learned/<topic>.yml (one file per
        topic, apart from the hand-written data), trains into a temporary models folder,
        prints the routing figures on the realistic evaluation set and the dev set BEFORE
        and AFTER, and keeps the new model (copied into the models folder) only when
        neither set got worse: route accuracy not lower and no more wrong exclusions.
        Otherwise the merged examples are taken out again and the model is thrown away.

Knowledge-base gaps ("the KB should have answered this") are written as article drafts
for the vendor (data_dir/kb_drafts/<correction>.md) by `export`.

The steps are functions with the training and the measuring injected, so the decision
(keep or refuse) is tested without training; `tests/learning` runs the real command on a
small subset of the training data."""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from ks1bot.core.settings import PROJECT_ROOT, Settings

REALISTIC = PROJECT_ROOT / "bench" / "data" / "realistic" / "test.jsonl"
DEV = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"
DEV_CUSTOMERS = PROJECT_ROOT.parent / "shared" / "eval" / "customers.csv"
NLU_DIR = PROJECT_ROOT / "data" / "nlu"
RULES_DIR = PROJECT_ROOT / "data" / "rules"
REVIEWS = {"accepted": "accept", "dropped": "drop", "pending": "pending"}


class LearnError(Exception):
    """Something the person running `ks1bot learn` can fix; the message says how."""


# -- the review file ---------------------------------------------------------------------------
def review_entries(corrections) -> List[Dict[str, Any]]:
    return [{
        "correction": c.id,
        "review": REVIEWS.get(c.review, "pending"),
        "text": c.text,
        "topic": c.topic,
        "route": c.route,
        "was": f"{c.old_topic}/{c.old_route}",
        "source": f"{c.channel}:{c.conversation_id}" + (f" (handoff {c.handoff_id})" if c.handoff_id else ""),
        "by": f"{c.staff}, {c.at.isoformat(timespec='minutes')}",
    } for c in corrections]


HEADER = """# ks1bot learn: review file. For each example set `review:` to accept or drop
# (the lead's choices from the console are filled in already; pending counts as not accepted).
# Then run: ks1bot learn apply {path}
"""


def write_review(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"examples": list(entries)}, allow_unicode=True, sort_keys=False, width=120)
    path.write_text(HEADER.format(path=path) + body, encoding="utf-8")


def read_review(path: Path) -> List[Dict[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LearnError(f"{path} cannot be read as a review file ({exc}); export one with `ks1bot learn export`.")
    entries = data.get("examples") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise LearnError(f"{path} has no `examples:` list; export one with `ks1bot learn export`.")
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping) or not entry.get("text") or not entry.get("topic"):
            raise LearnError(f"{path}: example {n} needs a text and a topic.")
        if entry.get("review") not in ("accept", "drop", "pending"):
            raise LearnError(f"{path}: example {n} has review {entry.get('review')!r}; write accept, drop or pending.")
    return entries


# -- merging into data/nlu/learned -------------------------------------------------------------------
def one_line(text: str) -> str:
    return " ".join(str(text).split())


def merge(nlu_dir: Path, accepted: Sequence[Mapping[str, Any]]) -> Dict[Path, Optional[str]]:
    """Append the accepted examples to nlu_dir/learned/<topic>.yml (Rasa NLU YAML, intent =
    topic); returns each touched file's previous content (None: it was new) for `unmerge`."""
    from ks1bot.core.topics import TOPICS

    learned = Path(nlu_dir) / "learned"
    learned.mkdir(parents=True, exist_ok=True)
    previous: Dict[Path, Optional[str]] = {}
    by_topic: Dict[str, List[str]] = {}
    for entry in accepted:
        if entry["topic"] not in TOPICS:
            raise LearnError(f"Topic {entry['topic']!r} is not one of SPEC §3's topics; fix it in the review file.")
        by_topic.setdefault(entry["topic"], []).append(one_line(entry["text"]))
    for topic, texts in sorted(by_topic.items()):
        path = learned / f"{topic}.yml"
        old = path.read_text(encoding="utf-8") if path.exists() else None
        previous[path] = old
        examples: List[str] = []
        if old:
            data = yaml.safe_load(old) or {}
            for block in data.get("nlu") or []:
                examples += [line[2:] for line in str(block.get("examples", "")).splitlines() if line.startswith("- ")]
        for text in texts:
            if text not in examples:
                examples.append(text)
        document = {"version": "3.1", "nlu": [{"intent": topic, "examples": "".join(f"- {e}\n" for e in examples)}]}
        path.write_text("# Learned from staff corrections (ks1bot learn); reviewed, then merged.\n"
                        + yaml.dump(document, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=10000),
                        encoding="utf-8")
    return previous


def unmerge(previous: Mapping[Path, Optional[str]]) -> None:
    for path, old in previous.items():
        if old is None:
            Path(path).unlink(missing_ok=True)
        else:
            Path(path).write_text(old, encoding="utf-8")


class _LiteralDumper(yaml.SafeDumper):
    pass


def _literal(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _literal)


# -- before / after ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetFigures:
    name: str
    n: int
    route_accuracy: float
    wrong_exclusions: int


@dataclass
class Outcome:
    kept: bool
    before: List[SetFigures]
    after: List[SetFigures]
    reasons: List[str] = field(default_factory=list)
    model: Optional[Path] = None


def verdict(before: Sequence[SetFigures], after: Sequence[SetFigures]) -> List[str]:
    """Why the new model is worse (empty: keep it). Worse on a set = lower route accuracy
    or more wrong exclusions."""
    reasons = []
    for b, a in zip(before, after):
        if a.route_accuracy < b.route_accuracy - 1e-9:
            reasons.append(f"{b.name}: route accuracy {b.route_accuracy:.3f} → {a.route_accuracy:.3f}")
        if a.wrong_exclusions > b.wrong_exclusions:
            reasons.append(f"{b.name}: wrong exclusions {b.wrong_exclusions} → {a.wrong_exclusions}")
    return reasons


def report(outcome: Outcome) -> str:
    lines = ["", "Routing figures        before → after", "-" * 60]
    for b, a in zip(outcome.before, outcome.after):
        lines.append(f"{b.name} ({b.n} messages)")
        lines.append(f"  route accuracy      {b.route_accuracy:6.1%} → {a.route_accuracy:6.1%}")
        lines.append(f"  wrong exclusions    {b.wrong_exclusions:6d} → {a.wrong_exclusions:6d}")
    lines.append("-" * 60)
    if outcome.kept:
        lines.append(f"KEPT: the new model is not worse on either set ({outcome.model.name if outcome.model else ''}).")
    else:
        lines.append("REFUSED: the new model is worse, so it and the merged examples were not kept:")
        lines += [f"  - {r}" for r in outcome.reasons]
    return "\n".join(lines)


Evaluate = Callable[[Path], List[SetFigures]]
Train = Callable[[Path], Path]


def apply_review(accepted: Sequence[Mapping[str, Any]], *, nlu_dir: Path, models_dir: Path, current_model: Path,
                 train: Train, evaluate: Evaluate, progress: Callable[[str], None]) -> Outcome:
    """Merge, retrain into a temporary folder, measure before and after, keep or refuse."""
    progress(f"Measuring the current model {current_model.name} …")
    before = evaluate(current_model)
    previous = merge(nlu_dir, accepted)
    progress(f"Merged {len(accepted)} examples into {', '.join(sorted(p.name for p in previous))} "
             f"under {Path(nlu_dir) / 'learned'}.")
    with tempfile.TemporaryDirectory(prefix="ks1-learn-") as tmp:
        try:
            candidate = train(Path(tmp))
            progress(f"Measuring the new model {candidate.name} …")
            after = evaluate(candidate)
        except BaseException:
            unmerge(previous)
            raise
        reasons = verdict(before, after)
        if reasons:
            unmerge(previous)
            return Outcome(False, before, after, reasons)
        Path(models_dir).mkdir(parents=True, exist_ok=True)
        kept = Path(models_dir) / candidate.name
        shutil.copy2(candidate, kept)
        return Outcome(True, before, after, [], kept)


# -- the real training and measuring -------------------------------------------------------------
def measure_sets(settings: Settings, sets: Sequence[Tuple[str, Path, Optional[Path]]], limit: Optional[int],
                 progress: Callable[[str], None]) -> Evaluate:
    from ks1bot.app import wiring
    from ks1bot.core.evaluation import figures, load_cases

    loaded = []
    for name, path, customers in sets:
        if not Path(path).exists():
            raise LearnError(f"The evaluation set {path} is missing; it is needed to compare before and after.")
        cases = load_cases(Path(path))
        loaded.append((name, cases[:limit] if limit else cases, customers))
    screen = wiring.screening(settings)

    def evaluate(model: Path) -> List[SetFigures]:
        results = []
        for name, cases, customers in loaded:
            router = wiring.build_router(settings, customers, model=model, progress=progress)
            outputs = [router.route(screen(c.message)).to_output() for c in cases]
            found = figures(cases, outputs)
            progress(f"  {name}: route accuracy {found.route_accuracy:.3f}, wrong exclusions {found.wrong_exclusions}")
            results.append(SetFigures(name, found.n, found.route_accuracy, found.wrong_exclusions))
        return results

    return evaluate


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _feedback(settings: Settings):
    from ks1bot.app import wiring
    from ks1bot.conversations.feedback import Feedback

    return Feedback(wiring._engine(settings))


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    feedback = _feedback(settings)
    corrections = feedback.corrections(unexported=True)
    if not corrections:
        print("No corrections since the last run; nothing to review.")
        return 0
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(args.out) if args.out else settings.data_dir / "learn" / f"review-{stamp}.yml"
    write_review(path, review_entries(corrections))
    feedback.start_run(str(path), [c.id for c in corrections])
    drafts = [c for c in corrections if c.kb_gap]
    if drafts:
        folder = settings.data_dir / "kb_drafts"
        folder.mkdir(parents=True, exist_ok=True)
        for c in drafts:
            (folder / f"correction-{c.id}.md").write_text(
                f"---\ntopic: {c.topic}\nlanguage: {c.language}\nsource: {c.channel}:{c.conversation_id}\n"
                f"marked_by: {c.staff}\n---\n# (title)\n\nQuestion as the customer asked it:\n\n> {one_line(c.text)}\n\n"
                "(answer to be written by the vendor)\n", encoding="utf-8")
        print(f"{len(drafts)} knowledge-base gaps written as article drafts to {folder}.")
    counts = {r: sum(1 for e in review_entries(corrections) if e["review"] == r) for r in ("accept", "drop", "pending")}
    print(f"Review file: {path} ({len(corrections)} examples: {counts['accept']} accepted, {counts['drop']} dropped, "
          f"{counts['pending']} pending). Set review: accept or drop for each, then run "
          f"`ks1bot learn apply {path}`.")
    return 0


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    from ks1bot.nlu.model_store import current_model, train
    from ks1bot.nlu.rasa_logs import quiet_rasa

    quiet_rasa()
    path = Path(args.review_file)
    entries = read_review(path)
    accepted = [e for e in entries if e["review"] == "accept"]
    pending = sum(1 for e in entries if e["review"] == "pending")
    if pending:
        _progress(f"{pending} examples are still pending and are left out.")
    if not accepted:
        print("No accepted examples in the review file; nothing to learn.")
        return 0
    nlu_dir = Path(args.nlu_dir) if args.nlu_dir else NLU_DIR
    training_dirs = (nlu_dir, RULES_DIR)
    models_dir = settings.models_dir
    current = current_model(models_dir, training_dirs=training_dirs)
    if current is None:
        _progress("No model for the current training data yet; training it first (the 'before').")
        current = train(models_dir, progress=_progress, training_dirs=training_dirs)
    sets = [("realistic test set", Path(args.realistic or REALISTIC), DEV_CUSTOMERS),
            ("dev set", Path(args.dev or DEV), DEV_CUSTOMERS)]
    evaluate = measure_sets(settings, sets, args.eval_limit, _progress)
    outcome = apply_review(accepted, nlu_dir=nlu_dir, models_dir=models_dir, current_model=current,
                           train=lambda tmp: train(tmp, progress=_progress, training_dirs=training_dirs),
                           evaluate=evaluate, progress=_progress)
    text = report(outcome)
    print(text)
    try:
        _feedback(settings).finish_run(str(path), "kept" if outcome.kept else "refused", text,
                                       {int(e["correction"]): {"accept": "accepted", "drop": "dropped"}.get(
                                           e["review"], "pending") for e in entries if e.get("correction")})
    except Exception as exc:  # noqa: BLE001 - the model decision stands; the record is secondary
        _progress(f"The run could not be recorded in the database ({exc}).")
    return 0 if outcome.kept else 3


def register(sub, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    learn = sub.add_parser("learn", help="turn staff corrections into reviewed training data and retrain "
                                         "(alone: the same as `learn export`)")
    learn.set_defaults(func=lambda args: cmd_export(argparse.Namespace(**{**vars(args), "out": None}),
                                                    settings_of(args)))
    learn_sub = learn.add_subparsers(dest="learn_command")
    export = learn_sub.add_parser("export", help="write the corrections since the last run to a review file")
    export.add_argument("--out", help="review file (default: <data_dir>/learn/review-<time>.yml)")
    export.set_defaults(func=lambda args: cmd_export(args, settings_of(args)))
    apply = learn_sub.add_parser("apply", help="merge the accepted examples, retrain, keep the model only if not worse")
    apply.add_argument("review_file")
    apply.add_argument("--eval-limit", type=int, help="measure on the first N messages of each set (quick runs)")
    apply.add_argument("--nlu-dir", help="training data folder (default: data/nlu; tests use a small subset)")
    apply.add_argument("--realistic", help=f"realistic evaluation set (default: {REALISTIC.relative_to(PROJECT_ROOT)})")
    apply.add_argument("--dev", help="dev set (default: ../shared/eval/dev.jsonl)")
    apply.set_defaults(func=lambda args: cmd_apply(args, settings_of(args)))
