"""Shared fixtures. The Rasa model is trained once per test session (and reused across
sessions while its inputs are unchanged: models are named by a fingerprint)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.ports import free_port

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EVAL_DIR = SHARED / "eval"
#: The test that checks the project's var/ (tests/support/var_guard.py) runs last.
VAR_CHECK = "test_var_untouched.py::test_the_suite_left_the_projects_var_untouched"


def pytest_sessionstart(session):
    from tests.support.var_guard import SNAPSHOT, var_snapshot

    session.config.stash[SNAPSHOT] = var_snapshot()


def pytest_collection_modifyitems(session, config, items):
    """The var/ check runs last, after everything else of the session."""
    last = [item for item in items if item.nodeid.endswith(VAR_CHECK)]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """The repository's settings with a data directory of the session's own: a test that
    forgets to give its stores a directory still never writes into the project's var/."""
    from ks1bot.core.settings import load_settings

    return load_settings(ROOT / "settings.yml").with_overrides(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def trained_model(settings):
    from ks1bot.nlu.model_store import ensure_model
    from ks1bot.nlu.rasa_logs import quiet_rasa

    quiet_rasa()
    return ensure_model(settings.models_dir)


@pytest.fixture(scope="session")
def embedder():
    from ks1bot.nlu.rasa_config import load_configured_embedder

    return load_configured_embedder()


@pytest.fixture(scope="session")
def classifier(trained_model):
    from ks1bot.nlu.parse import RasaClassifier

    return RasaClassifier(trained_model)


@pytest.fixture(scope="session")
def knowledge(settings, embedder):
    from ks1bot.nlu.knowledge import KnowledgeBase

    return KnowledgeBase.load(settings.knowledge_dir, embedder)


@pytest.fixture(scope="session")
def eval_customers():
    from ks1bot.core.customers import CustomerDirectory

    return CustomerDirectory.load(EVAL_DIR / "customers.csv")


@pytest.fixture(scope="session")
def router(settings, eval_customers, knowledge, classifier):
    from ks1bot.nlu.router import Router

    return Router(settings, eval_customers, knowledge, parser=classifier)


# -- the whole bot as `make run` starts it, once per session ---------------------------------
#: The secrets the live bot runs with (the tests sign and authenticate like real clients).
LIVE_SECRETS = {
    "KS1BOT_RASA_TOKEN": "rasa-api-token-" + "r" * 32,
    "KS1BOT_ACTIONS_TOKEN": "actions-token-" + "a" * 32,
    "KS1BOT_WIDGET_TOKEN_SECRET": "ks1web-widget-secret-" + "w" * 32,
    "KS1BOT_CALL_SECRET": "phone-system-secret-" + "p" * 32,
    "KS1BOT_REST_API_KEY": "rest-api-key-" + "k" * 32,
}


class LiveBot:
    """`ks1bot serve` on free loopback ports with its own settings and data directory."""

    secrets = LIVE_SECRETS

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "var"
        self.settings_file = root / "settings.yml"
        self.rasa_port, self.actions_port, self.console_port = free_port(), free_port(), free_port()
        self.smtp_port = free_port()
        #: KS1 web's stand-in (tests/support/ks1web.py): another origin that embeds the widget.
        self.ks1web_port = free_port()
        self.ks1web_origin = f"http://localhost:{self.ks1web_port}"
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.console_url = f"http://127.0.0.1:{self.console_port}"
        self.log_path = root / "serve.log"
        self.process = None
        #: The relay replies go to: an aiosmtpd sink on loopback.
        self.sink = None

    def start(self) -> None:
        import subprocess
        import sys
        import time

        from tests.support.mail_servers import SmtpSink

        self.sink = SmtpSink().start()
        self.settings_file.write_text(
            f"customers: {EVAL_DIR / 'customers.csv'}\nmodels_dir: {ROOT / 'models'}\n"
            f"knowledge_dir: {ROOT / 'data' / 'knowledge'}\ndata_dir: {self.data_dir}\n"
            "our_addresses: [support@ks1-support.example]\n"
            f"mail:\n  relay: 127.0.0.1:{self.sink.port}\n  relay_starttls: false\n"
            # the suite opens hundreds of widget sessions from 127.0.0.1; the limits' own tests
            # use the per-conversation ones (tests/security)
            "security:\n"
            f"  cors_origins: [{self.console_url}, {self.ks1web_origin}]\n"
            "  trusted_proxies: [127.0.0.1]\n"
            "  session_burst: 1000\n  session_per_minute: 1000\n"
            "  client_burst: 1000\n  client_per_minute: 6000\n"
        )
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("ks1bot")), "--settings", str(self.settings_file), "serve",
             "--rasa-port", str(self.rasa_port), "--actions-port", str(self.actions_port),
             "--console-port", str(self.console_port), "--smtp-listen", f"127.0.0.1:{self.smtp_port}"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.secrets},
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("ks1bot serve stopped:\n" + self.log_path.read_text()[-4000:])
            if "KS1 bot is up" in self.log_path.read_text():
                return
            time.sleep(1)
        self.stop()
        raise AssertionError("ks1bot serve did not start in time:\n" + self.log_path.read_text()[-4000:])

    def handoffs(self):
        """The conversation record of the running bot (its handoff store)."""
        from ks1bot.app import wiring
        from ks1bot.core.settings import load_settings

        return wiring.handoff_store(load_settings(self.settings_file))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=90)
        if self.sink is not None:
            self.sink.stop()


@pytest.fixture(scope="session")
def live_bot(tmp_path_factory, trained_model):
    bot = LiveBot(tmp_path_factory.mktemp("live"))
    bot.start()
    yield bot
    bot.stop()


@pytest.fixture(scope="session")
def ks1web(live_bot):
    """KS1 web's stand-in, on the origin the live bot allows (security.cors_origins)."""
    from tests.support.ks1web import Ks1Web

    site = Ks1Web(live_bot.ks1web_port).start()
    yield site
    site.stop()
