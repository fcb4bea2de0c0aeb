"""The layering of docs/architecture.md, checked on the source: every import of every
product module (at module level, inside functions, and module names given to importlib
as strings) points down the layers, there is no cycle between top-level packages (entry
points aside), and no test scaffolding ships in a product package."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("ks1bot", "mail_gateway", "console", "actions")
#: Each layer may import its own package and the layers below it, nothing above.
LAYERS: Dict[str, int] = {
    "ks1bot": 0,  # the package's own __init__
    "ks1bot.core": 0,
    "ks1bot.nlu": 1,
    "ks1bot.conversations": 2,
    "ks1bot.channels": 3,
    "mail_gateway": 3,
    "console": 4,
}
#: May import anything (but tests); nothing in the product imports them.
ENTRY_POINTS = ("ks1bot.app", "ks1bot.cli", "actions")
#: Outside the product: never imported by it (bench only by the entry points).
FOREIGN = ("tests", "bench")
IMPORT_FUNCTIONS = {"import_module", "__import__"}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def entry_point(name: str) -> bool:
    return any(_within(name, e) for e in ENTRY_POINTS)


def layer_of(name: str) -> Optional[str]:
    """The layer (a key of LAYERS) a product module belongs to; None for entry points
    and for modules outside the product."""
    if entry_point(name):
        return None
    found = [prefix for prefix in LAYERS if _within(name, prefix)]
    return max(found, key=len) if found else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_files() -> List[Path]:
    return sorted(p for package in PRODUCT_PACKAGES for p in (ROOT / package).rglob("*.py"))


def _string_of(node: ast.AST) -> Optional[str]:
    """A constant string, or the constant start of an f-string ("bench." of f"bench.{x}")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value).rstrip(".") or None
    return None


def imported_names(source: str, module: str, is_package: bool) -> Iterator[Tuple[int, str]]:
    """(line, module name) of every import in a module: statements anywhere, and string
    arguments of importlib.import_module / __import__ (also through a loop over a list of
    strings, as an EXTENSION_COMMANDS list would be)."""
    tree = ast.parse(source)
    sequences: Dict[str, List[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            strings = [s for s in (_string_of(e) for e in node.value.elts) if s]
            for target in node.targets:
                if isinstance(target, ast.Name) and strings:
                    sequences[target.id] = strings
    loops: Dict[str, List[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Name):
            loops[node.target.id] = sequences.get(node.iter.id, [])
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                # `from ks1bot.core import logs` imports the module ks1bot.core.logs
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in IMPORT_FUNCTIONS and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Name) and arg.id in loops:
                    for target in loops[arg.id]:
                        yield node.lineno, target
                elif _string_of(arg):
                    yield node.lineno, _string_of(arg)


def _ours(name: str) -> bool:
    return name.split(".")[0] in PRODUCT_PACKAGES + FOREIGN


def violations(importer: str, imported: str) -> Optional[str]:
    """Why `importer` must not import `imported`, or None."""
    top = imported.split(".")[0]
    if top == "tests":
        return "the product imports test scaffolding"
    if entry_point(importer):
        return None
    if top == "bench":
        return "only entry points may import the benchmarks"
    if entry_point(imported):
        return "only entry points may import entry points"
    mine, theirs = layer_of(importer), layer_of(imported)
    if mine is None or theirs is None:
        return None
    if LAYERS[theirs] > LAYERS[mine]:
        return f"{mine} (layer {LAYERS[mine]}) imports {theirs} (layer {LAYERS[theirs]}) above it"
    if LAYERS[theirs] == LAYERS[mine] and theirs != mine and theirs != "ks1bot" and mine != "ks1bot":
        return f"{mine} and {theirs} are side by side (each channel in one place); neither imports the other"
    return None


def all_imports() -> List[Tuple[str, int, str]]:
    found = []
    for path in product_files():
        name = module_name(path)
        for line, imported in imported_names(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"):
            if _ours(imported):
                found.append((name, line, imported))
    return found


def test_the_checker_sees_imports_in_functions_and_importlib_strings():
    source = ("import importlib\nCOMMANDS = ['console.cli', 'mail_gateway.cli']\n"
              "def f():\n    from console.app import create_app\n"
              "def g(module):\n    return importlib.import_module(f'bench.{module}')\n"
              "def h():\n    for name in COMMANDS:\n        importlib.import_module(name)\n"
              "from ..channels import chat\n")
    names = sorted(n for _, n in imported_names(source, "ks1bot.core.example", False))
    assert names == ["bench", "console.app.create_app", "console.cli", "importlib", "ks1bot.channels.chat",
                     "mail_gateway.cli"]
    assert violations("ks1bot.core.example", "console.app") is not None
    assert violations("ks1bot.core.example", "ks1bot.channels.chat") is not None
    assert violations("mail_gateway.worker", "ks1bot.channels.chat") is not None
    assert violations("ks1bot.channels.chat", "mail_gateway.cli") is not None
    assert violations("ks1bot.nlu.router", "ks1bot.app.wiring") is not None
    assert violations("ks1bot.app.wiring", "console.app") is None
    assert violations("actions.actions", "tests.support.ports") is not None


def test_imports_point_down_the_layers():
    bad = [f"{importer}:{line} imports {imported}: {why}" for importer, line, imported in all_imports()
           if (why := violations(importer, imported))]
    assert bad == [], "\n".join(bad)


def test_no_cycle_between_top_level_packages():
    edges: Dict[str, Set[str]] = {}
    for importer, _line, imported in all_imports():
        if entry_point(importer):
            continue
        source, target = importer.split(".")[0], imported.split(".")[0]
        if source != target:
            edges.setdefault(source, set()).add(target)
    # ks1bot's layers count as packages of their own here (core, nlu, …), entry points aside
    for importer, _line, imported in all_imports():
        if entry_point(importer) or entry_point(imported):
            continue
        source, target = layer_of(importer), layer_of(imported)
        if source and target and source != target and "ks1bot" not in (source, target):
            edges.setdefault(source, set()).add(target)

    def cycle_from(start: str, node: str, seen: Tuple[str, ...]) -> Optional[Tuple[str, ...]]:
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return seen + (nxt,)
            if nxt not in seen:
                found = cycle_from(start, nxt, seen + (nxt,))
                if found:
                    return found
        return None

    cycles = [" → ".join(c) for c in (cycle_from(n, n, (n,)) for n in sorted(edges)) if c]
    assert cycles == [], "\n".join(cycles)


SCAFFOLDING_FILES = ("testing.py", "stub_router.py", "crash.py", "crash_points.py", "conftest.py")
SCAFFOLDING_DEFS = {"free_port", "wait_for_port", "CrashPoints", "KeywordParser", "SmtpSink", "Dovecot"}
SCAFFOLDING_STRINGS = ("KS1BOT_MAIL_CRASH_AT", "ROUTER_FACTORY")


def test_no_test_scaffolding_in_the_product():
    found = []
    for path in product_files():
        where = path.relative_to(ROOT)
        if path.name in SCAFFOLDING_FILES:
            found.append(f"{where}: a test module")
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in SCAFFOLDING_DEFS:
                found.append(f"{where}:{node.lineno}: {node.name} is test scaffolding (tests/support/)")
        found += [f"{where}: names {s}" for s in SCAFFOLDING_STRINGS if s in source]
    assert found == [], "\n".join(found)


def _class_paths(path: Path) -> List[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = [c.get("name", "") for c in data.get("pipeline") or []] if "pipeline" in data else list(data)
    return [n for n in names if str(n).startswith("ks1bot.")]


@pytest.mark.parametrize("config, layer", [
    *[(p.relative_to(ROOT), "ks1bot.nlu") for p in [ROOT / "config.yml", *sorted((ROOT / "bench" / "configs").glob("*.yml"))]],
    (Path("bot/credentials.yml"), "ks1bot.channels"),
])
def test_class_paths_in_rasa_files_exist_in_their_layer(config, layer):
    import importlib

    paths = _class_paths(ROOT / config)
    assert paths, f"{config} names none of our classes"
    for dotted in paths:
        module, _, cls = dotted.rpartition(".")
        assert layer_of(module) == layer, f"{config}: {dotted} is not in {layer}"
        assert hasattr(importlib.import_module(module), cls), f"{config}: {dotted} does not exist"


def test_the_model_fingerprint_follows_the_components():
    from ks1bot.nlu.model_store import COMPONENT_FILES

    assert all(path.is_file() for path in COMPONENT_FILES), COMPONENT_FILES
    for dotted in _class_paths(ROOT / "config.yml"):
        source = ROOT / (dotted.rpartition(".")[0].replace(".", "/") + ".py")
        assert source in COMPONENT_FILES, f"{source} (config.yml) is missing from the model fingerprint"


def test_the_console_s_process_does_not_load_the_mail_gateway(tmp_path):
    """The console enqueues; it neither sends mail nor loads the code that does."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from ks1bot.app import console_server, wiring\n"
        "from ks1bot.core.settings import load_settings\n"
        f"app = wiring.console_app(load_settings(), url='sqlite:///{tmp_path / 'ks1bot.db'}')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'mail_gateway' or m == 'ks1bot.channels.chat')\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_serve_gives_the_mail_credentials_to_the_mail_gateway_only():
    from ks1bot.app.serve import environment_for

    env = {"PATH": "/usr/bin", "KS1BOT_MAIL_RELAY_PASSWORD": "s3cret", "KS1BOT_MAIL_IMAP_PASSWORD": "x"}
    assert environment_for("mail", env) == env
    for service in ("actions", "rasa", "console"):
        assert environment_for(service, env) == {"PATH": "/usr/bin"}


def test_serve_gives_each_process_only_the_bot_secrets_it_needs():
    from ks1bot.app.serve import BOT_SECRETS, environment_for

    env = {"PATH": "/usr/bin", **{name: f"value-of-{name}" for name in BOT_SECRETS}}
    given = {service: sorted(k for k in environment_for(service, env) if k != "PATH")
             for service in ("rasa", "actions", "console", "mail")}
    assert given["mail"] == []
    assert given["actions"] == ["KS1BOT_ACTIONS_TOKEN", "KS1BOT_RASA_TOKEN"]
    assert given["console"] == ["KS1BOT_RASA_TOKEN", "KS1BOT_REST_API_KEY", "KS1BOT_REST_API_KEY_PREVIOUS",
                                "KS1BOT_SESSION_SECRET", "KS1BOT_SESSION_SECRET_PREVIOUS"]
    assert given["rasa"] == sorted(BOT_SECRETS)  # the public channels check every kind of credential
