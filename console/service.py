"""Building the console's parts from the settings (the one place that wires them)."""
from __future__ import annotations

import datetime as dt
import os
from typing import Optional

from console.auth import Auth, LoginPolicy
from console.channels import ReplyChannels
from console.db import default_url, engine_for
from console.sla import SlaPolicy
from console.store import HandoffStore
from ks1bot.settings import Settings
from ks1bot.support_hours import SupportHours


def database_url(settings: Settings) -> str:
    """KS1BOT_DATABASE_URL (keeps passwords out of files), else settings, else SQLite in data_dir."""
    return os.environ.get("KS1BOT_DATABASE_URL") or settings.database_url or default_url(settings.data_dir)


def handoff_store(settings: Settings, url: Optional[str] = None) -> HandoffStore:
    engine = engine_for(url or database_url(settings))
    sla = SlaPolicy(normal=dt.timedelta(hours=settings.console.sla_hours_normal),
                    high=dt.timedelta(hours=settings.console.sla_hours_high))
    return HandoffStore(engine, SupportHours(settings.support_hours), sla)


def auth_for(settings: Settings, url: Optional[str] = None) -> Auth:
    policy = LoginPolicy(max_failures=settings.console.login_max_failures,
                         window=dt.timedelta(minutes=settings.console.login_window_minutes))
    return Auth(engine_for(url or database_url(settings)), policy)


def console_app(settings: Settings, channels: Optional[ReplyChannels] = None):
    from console.app import create_app

    return create_app(handoff_store(settings), auth_for(settings), channels or ReplyChannels(),
                      secure_cookies=settings.console.secure_cookies)
