"""The one composition module: builds the Router, the stores and the channels of every
process from the settings.

    process             what it gets from here
    ks1bot route/shell  build_router (in-process model), screening (email loop protection)
    mail gateway        mail_gateway: Router, conversation record, outbox, warm-up
    action server       action_server_router (parses over the Rasa server), handoff_store
    Rasa server         rasa_server_channels: the outbox the chat channel delivers from
    staff console       console_app (with the widget's routes), staff_accounts
    calibrate, bench    build_router, screening

Everything else receives its parts from here; nothing but entry points imports this.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable, Optional

from ks1bot.core import logs
from ks1bot.core.customers import CustomerDirectory
from ks1bot.core.messages import InboundMessage
from ks1bot.core.settings import Settings

log = logging.getLogger("ks1bot.app.wiring")

#: The Rasa server (`ks1bot serve` sets KS1BOT_RASA_URL to the one it starts).
DEFAULT_RASA_URL = "http://127.0.0.1:5005"


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- routing -----------------------------------------------------------------------
def customer_directory(path: Optional[Path]) -> CustomerDirectory:
    """The customer directory (SPEC §7); raises CustomerFileError with the fix."""
    return CustomerDirectory.load(path) if path is not None else CustomerDirectory.empty()


def build_router(settings: Settings, customers: Optional[Path], *, model: Optional[Path] = None,
                 progress: Callable[[str], None] = _progress):
    """The Router with the trained model in this process (trained first when missing or
    stale; `model`: a given model instead), the knowledge base and the directory."""
    from ks1bot.nlu.knowledge import LiveKnowledgeBase
    from ks1bot.nlu.model_store import ensure_model
    from ks1bot.nlu.parse import RasaClassifier
    from ks1bot.nlu.rasa_config import load_configured_embedder
    from ks1bot.nlu.rasa_logs import quiet_rasa
    from ks1bot.nlu.router import Router

    quiet_rasa()
    directory = customer_directory(customers)
    classifier = RasaClassifier(model or ensure_model(settings.models_dir, progress=progress))
    knowledge = LiveKnowledgeBase.load(settings.knowledge_dir, load_configured_embedder())
    return Router(settings, directory, knowledge, parser=classifier)


def action_server_router(settings: Settings):
    """The action server's Router: Rasa parsed the message already; the requests of a
    message with several are parsed by the Rasa server that called (KS1BOT_RASA_URL)."""
    from ks1bot.nlu.knowledge import LiveKnowledgeBase
    from ks1bot.nlu.rasa_config import load_configured_embedder
    from ks1bot.nlu.rasa_parse import RasaHttpParser
    from ks1bot.nlu.router import Router

    directory = customer_directory(settings.customers)
    knowledge = LiveKnowledgeBase.load(settings.knowledge_dir, load_configured_embedder())
    return Router(settings, directory, knowledge, parser=RasaHttpParser.from_environment())


def screening(settings: Settings) -> Callable[[InboundMessage], InboundMessage]:
    """The email channel's loop protection for messages that did not come through it
    (JSON lines of `ks1bot route`, labelled sets): email gets `auto_generated` set."""
    from mail_gateway.loop_protection import own_mail, screen

    own = own_mail(settings)
    return lambda message: screen(message, own)


# -- the conversation record ---------------------------------------------------------
def _engine(settings: Settings, url: Optional[str] = None):
    from ks1bot.conversations.db import database_url, engine_for

    return engine_for(url or database_url(settings))


def handoff_store(settings: Settings, url: Optional[str] = None):
    """The handoff store (who holds each conversation), migrated to the newest schema,
    with the conversations' files under data_dir/attachments."""
    import datetime as dt

    from ks1bot.conversations.sla import SlaPolicy
    from ks1bot.conversations.store import HandoffStore
    from ks1bot.core.support_hours import SupportHours

    sla = SlaPolicy(normal=dt.timedelta(hours=settings.console.sla_hours_normal),
                    high=dt.timedelta(hours=settings.console.sla_hours_high))
    return HandoffStore(_engine(settings, url), SupportHours(settings.support_hours), sla,
                        files=attachments(settings, url))


def attachments(settings: Settings, url: Optional[str] = None):
    """The conversations' files: rows in the conversation record, bytes in data_dir/attachments."""
    from ks1bot.conversations.attachments import Attachments

    return Attachments(_engine(settings, url), settings.data_dir / "attachments")


def attachments_in(settings: Settings, data_dir: Path):
    """The conversations' files of the process whose data is in `data_dir`."""
    return attachments(with_data_dir(settings, data_dir))


def with_data_dir(settings: Settings, data_dir: Optional[Path]) -> Settings:
    """The settings with all of a process's data in `data_dir` (a `--data-dir` option):
    the mail queue, the conversation record's SQLite file (unless a database URL is
    configured) and the attachments."""
    if data_dir is None or Path(data_dir).resolve() == Path(settings.data_dir).resolve():
        return settings
    return settings.with_overrides(data_dir=Path(data_dir).resolve())


def outbox(settings: Settings, url: Optional[str] = None):
    """The outbox the channels deliver staff replies and hand-backs from."""
    from ks1bot.conversations.outbox import Outbox

    return Outbox(_engine(settings, url))


# -- processes -------------------------------------------------------------------------
def staff_accounts(settings: Settings, url: Optional[str] = None):
    import datetime as dt

    from console.auth import Auth, LoginPolicy

    policy = LoginPolicy(max_failures=settings.console.login_max_failures,
                         account_max_failures=settings.console.login_account_max_failures,
                         window=dt.timedelta(minutes=settings.console.login_window_minutes))
    return Auth(_engine(settings, url), policy)


def rasa_url() -> str:
    return os.environ.get("KS1BOT_RASA_URL", DEFAULT_RASA_URL).rstrip("/")


def console_app(settings: Settings, url: Optional[str] = None, poll_seconds: float = 1.0, secrets=None):
    """The staff console with the chat widget's web side (demo page, assets, missed answers).
    `secrets`: default from the environment (ks1bot serve passes the console its own)."""
    from console.app import create_app
    from ks1bot.channels.widget import WidgetAccess, widget_routes
    from ks1bot.core.limits import parse_networks
    from ks1bot.core.secrets import Secrets

    secrets = secrets if secrets is not None else Secrets.from_environment(os.environ)
    proxies = parse_networks(settings.security.trusted_proxies)
    access = WidgetAccess(rasa_url=rasa_url(), rasa_token=secrets.rasa_token, session_keys=secrets.session_keys,
                          rest_api_keys=secrets.rest_api_keys, origins=settings.security.cors_origins,
                          trusted_proxies=proxies)
    from ks1bot.app.health import register_handoffs_gauge, standard_checks, starlette_routes
    from ks1bot.conversations.db import database_url

    register_handoffs_gauge(url or database_url(settings))
    health = starlette_routes("console", standard_checks(settings))
    return create_app(handoff_store(settings, url), staff_accounts(settings, url),
                      secure_cookies=settings.console.secure_cookies, poll_seconds=poll_seconds,
                      trusted_proxies=proxies, extra_routes=widget_routes(access) + health,
                      max_upload_bytes=settings.mail.max_attachment_bytes, knowledge_dir=settings.knowledge_dir,
                      customers=_customers_or_none(settings))


def _customers_or_none(settings: Settings):
    """The customer directory for the console's customer page (None when not configured)."""
    if settings.customers is None:
        return None
    try:
        return customer_directory(settings.customers)
    except Exception:  # noqa: BLE001 - the console works without it; the channels report a bad file
        return None


def mail_gateway(settings: Settings, config, *, router=None, crash: Optional[Callable[..., None]] = None):
    """The email channel's process: the Router (in-process model, warmed up), the
    conversation record and its outbox. Tests pass their own router and crash points."""
    from mail_gateway.gateway import MailGateway, warm_up

    customer_directory(config.customers)  # a bad customer file fails before the slow model load
    settings = with_data_dir(settings, config.data_dir)  # --data-dir places the handoff store too
    if router is None:
        router = build_router(settings, config.customers)
        if config.options.warm_up:
            logs.event(logging.getLogger("mail_gateway"), "router_warm", seconds=round(warm_up(router), 1))
    from ks1bot.app.health import HealthServer, register_handoffs_gauge
    from ks1bot.conversations.db import database_url

    extra = {"crash": crash} if crash is not None else {}
    if config.http_listen:
        register_handoffs_gauge(database_url(settings))
    return MailGateway(config, router, handoff_store(settings), outbox(settings), health=HealthServer, **extra)


def rasa_server_channels(settings: Settings, secrets=None) -> None:
    """Before Rasa starts in this process: the chat channel delivers from the outbox, and
    the public channels (REST, phone, widget) get their secrets and limits."""
    from ks1bot.channels import chat_delivery, public
    from ks1bot.core.secrets import Secrets

    chat_delivery.deliver_from(lambda: outbox(settings))
    public.configure(public.PublicSurface.from_settings(
        settings.security, secrets if secrets is not None else Secrets.from_environment(os.environ)))
