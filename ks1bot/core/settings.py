"""The one settings file (settings.yml) with its documented defaults."""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

#: The repository root: settings.yml, config.yml, bot/ and data/ live here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FEDERAL_STATES = (
    "BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH",
)
SELF_SERVICE_MODES = ("support_hours", "always")


class SettingsError(Exception):
    """The settings file cannot be used; the message says what to change."""


@dataclass(frozen=True)
class SupportHoursSettings:
    timezone: str = "Europe/Berlin"
    days: Tuple[int, ...] = (0, 1, 2, 3, 4)
    opens: dt.time = dt.time(8, 30)
    closes: dt.time = dt.time(16, 30)
    federal_state: Optional[str] = None
    extra_closed_days: Tuple[str, ...] = ("12-24", "12-31")


@dataclass(frozen=True)
class Thresholds:
    classify: float = 0.45
    exclude: float = 0.4
    knowledge: float = 0.56
    #: An exclusion also needs the in-scope topics together to stay below this probability
    #: (1.0: no such condition).
    in_scope_doubt: float = 1.0


SECURE_COOKIE_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    sla_hours_normal: float = 4.0
    sla_hours_high: float = 1.0
    #: auto: Secure cookies when the request came over HTTPS (directly or, from a trusted
    #: proxy, X-Forwarded-Proto: https); always; never.
    secure_cookies: str = "auto"
    #: Failed logins from one client address (any names) within the window.
    login_max_failures: int = 5
    #: Failed logins for one staff name (from any addresses) within the window.
    login_account_max_failures: int = 20
    login_window_minutes: int = 15


@dataclass(frozen=True)
class SecuritySettings:
    """The public surface (docs/security.md). Secrets come from the environment only."""

    #: Interfaces the Rasa server and the action server of `ks1bot serve` listen on.
    rasa_host: str = "127.0.0.1"
    actions_host: str = "127.0.0.1"
    #: Origins of the pages that embed the widget (KS1 web); empty: the console's own.
    cors_origins: Tuple[str, ...] = ()
    #: Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: Tuple[str, ...] = ()
    #: Largest body of a message on the public endpoints (REST, phone, widget).
    max_message_bytes: int = 65536
    #: Messages per conversation: a burst, then per minute.
    conversation_burst: int = 10
    conversation_per_minute: float = 30.0
    #: Messages per client (widget: its address; REST: its API key; phone: its address).
    client_burst: int = 300
    client_per_minute: float = 3000.0
    #: New widget sessions per client address.
    session_burst: int = 30
    session_per_minute: float = 30.0
    #: Signed phone requests: how far the timestamp may be from the bot's clock.
    call_replay_window_seconds: int = 300


@dataclass(frozen=True)
class ServeSettings:
    """`ks1bot serve`: which role this machine runs and how many processes of it."""

    #: rasa | actions | console | mail; None: all roles, one process each (`make run`).
    role: Optional[str] = None
    workers: int = 1


@dataclass(frozen=True)
class MailSettings:
    """The email channel (mail_gateway, SPEC §5). Passwords come from the environment."""

    #: Inbound SMTP listener HOST:PORT, None: off (`make run` passes 127.0.0.1:2525).
    smtp_listen: Optional[str] = None
    #: Largest inbound SMTP message in bytes; larger ones are refused with 552.
    max_message_bytes: int = 64 * 1024 * 1024
    #: IMAP mailbox URL imap://user@host:port/INBOX (imaps:// for TLS), None: off.
    imap: Optional[str] = None
    processed_folder: str = "KS1-Bot/Processed"
    failed_folder: str = "KS1-Bot/Failed"
    poll_seconds: float = 30.0
    idle_seconds: float = 300.0
    #: CA file for the IMAP server's and relay's certificates (None: the system's).
    ca_file: Optional[str] = None
    #: Outgoing relay HOST:PORT, None: replies go to data_dir/mail/outbox as .eml files.
    relay: Optional[str] = None
    relay_starttls: bool = True
    relay_username: Optional[str] = None
    #: Sender of replies; None: the first of our_addresses.
    from_address: Optional[str] = None
    from_name: str = "KS1 Support"
    #: Per-sender cap on automatic replies (Zammad's default: 10 in 10 minutes).
    sender_limit: int = 10
    sender_window_minutes: float = 10.0
    #: Automatic replies per thread within 24 hours.
    thread_replies_per_day: int = 1
    send_attempts: int = 8
    retry_seconds: float = 5.0
    #: Connections to the relay the gateway delivers over side by side (one sender thread each).
    relay_connections: int = 2
    #: Route a few sample mails at start so the first real mail is not slow.
    warm_up: bool = True
    #: Files of one inbound mail stored for staff (and files of one staff reply), bytes.
    max_attachment_bytes: int = 25 * 1024 * 1024
    #: Raw mails, sent replies and conversation files older than this are deleted
    #: (`ks1bot mail cleanup`, and once a day by the running gateway).
    retention_days: float = 365.0
    #: Seconds a worker's claim on a mail (and the IMAP poller's election) lasts without
    #: renewal: how soon another worker takes over from one that died elsewhere.
    lease_seconds: float = 60.0


@dataclass(frozen=True)
class Settings:
    support_hours: SupportHoursSettings = field(default_factory=SupportHoursSettings)
    self_service: str = "support_hours"
    thresholds: Thresholds = field(default_factory=Thresholds)
    customers: Optional[Path] = None
    our_addresses: Tuple[str, ...] = ()
    message_id_domain: str = "ks1bot.invalid"
    models_dir: Path = PROJECT_ROOT / "models"
    knowledge_dir: Path = PROJECT_ROOT / "data" / "knowledge"
    data_dir: Path = PROJECT_ROOT / "var"
    default_language: str = "de"
    #: Rasa tracker store, handoff store, mail queue: SQLAlchemy URL; None means SQLite
    #: files in data_dir (ks1bot.db, rasa_tracker.db, mail/queue.sqlite3).
    database_url: Optional[str] = None
    #: Rasa's lock store (several Rasa processes): redis://host:port/db; None: in memory.
    redis_url: Optional[str] = None
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    mail: MailSettings = field(default_factory=MailSettings)
    serve: "ServeSettings" = field(default_factory=lambda: ServeSettings())
    #: Where the settings came from (for messages), None for built-in defaults.
    source: Optional[Path] = None

    def with_overrides(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def default_settings_path() -> Path:
    """KS1BOT_SETTINGS, else ./settings.yml, else the repository's settings.yml."""
    env = os.environ.get("KS1BOT_SETTINGS")
    if env:
        return Path(env)
    local = Path.cwd() / "settings.yml"
    if local.is_file():
        return local
    return PROJECT_ROOT / "settings.yml"


def load_settings(path: Optional[Path] = None) -> Settings:
    """Read the settings file; a missing default file means built-in defaults."""
    explicit = path is not None or "KS1BOT_SETTINGS" in os.environ
    path = Path(path) if path is not None else default_settings_path()
    if not path.is_file():
        if explicit:
            raise SettingsError(f"The settings file {path} does not exist; check the path.")
        return Settings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"The settings file {path} cannot be read ({exc}); fix its YAML.") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"The settings file {path} must be a YAML mapping of keys to values.")
    return parse_settings(raw, base_dir=path.resolve().parent, source=path)


def parse_settings(raw: Mapping[str, Any], base_dir: Path, source: Optional[Path] = None) -> Settings:
    """Validate a settings mapping; paths are taken relative to base_dir."""
    known = {
        "support_hours", "self_service", "thresholds", "customers", "our_addresses",
        "message_id_domain", "models_dir", "knowledge_dir", "data_dir", "default_language",
        "database_url", "redis_url", "console", "security", "mail", "serve",
    }
    unknown = sorted(set(raw) - known)
    where = f" in {source}" if source else ""
    if unknown:
        raise SettingsError(
            f"Unknown setting {', '.join(unknown)}{where}; the known ones are {', '.join(sorted(known))}."
        )

    def path_of(key: str, default: Optional[Path]) -> Optional[Path]:
        value = raw.get(key)
        if value is None:
            return default
        return (base_dir / str(value)).resolve()

    self_service = str(raw.get("self_service", "support_hours"))
    if self_service not in SELF_SERVICE_MODES:
        raise SettingsError(
            f"self_service is {self_service!r}{where}; use one of {', '.join(SELF_SERVICE_MODES)}."
        )
    language = str(raw.get("default_language", "de"))
    if language not in ("de", "en"):
        raise SettingsError(f"default_language is {language!r}{where}; use de or en.")
    addresses = raw.get("our_addresses") or []
    if isinstance(addresses, str):
        addresses = [addresses]
    defaults = Settings()
    return Settings(
        support_hours=_parse_support_hours(raw.get("support_hours") or {}, where),
        self_service=self_service,
        thresholds=_parse_thresholds(raw.get("thresholds") or {}, where),
        customers=path_of("customers", None),
        our_addresses=tuple(str(a).strip().lower() for a in addresses if str(a).strip()),
        message_id_domain=str(raw.get("message_id_domain", defaults.message_id_domain)).lower(),
        models_dir=path_of("models_dir", defaults.models_dir),
        knowledge_dir=path_of("knowledge_dir", defaults.knowledge_dir),
        data_dir=path_of("data_dir", defaults.data_dir),
        default_language=language,
        database_url=str(raw["database_url"]) if raw.get("database_url") else None,
        redis_url=str(raw["redis_url"]) if raw.get("redis_url") else None,
        serve=_parse_serve(raw.get("serve") or {}, where),
        console=_parse_console(raw.get("console") or {}, where),
        security=_parse_security(raw.get("security") or {}, where),
        mail=_parse_mail(raw.get("mail") or {}, where),
        source=source,
    )


_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_CLOSED_DAY = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")


def _parse_time(value: Any, key: str, where: str) -> dt.time:
    match = _TIME.match(str(value).strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise SettingsError(f"support_hours.{key} is {value!r}{where}; write it as HH:MM, e.g. \"08:30\".")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _parse_support_hours(raw: Dict[str, Any], where: str) -> SupportHoursSettings:
    defaults = SupportHoursSettings()
    timezone = str(raw.get("timezone", defaults.timezone))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError
        raise SettingsError(f"support_hours.timezone {timezone!r}{where} is not a known time zone ({exc}).") from exc
    days_raw = raw.get("days", [WEEKDAYS[d] for d in defaults.days])
    days = []
    for day in days_raw:
        name = str(day).strip().lower()[:3]
        if name not in WEEKDAYS:
            raise SettingsError(f"support_hours.days contains {day!r}{where}; use mon, tue, wed, thu, fri, sat, sun.")
        days.append(WEEKDAYS.index(name))
    opens = _parse_time(raw.get("opens", "08:30"), "opens", where)
    closes = _parse_time(raw.get("closes", "16:30"), "closes", where)
    if closes <= opens:
        raise SettingsError(f"support_hours.closes must be later than opens{where}.")
    state = raw.get("federal_state")
    if state is not None:
        state = str(state).strip().upper()
        if state not in FEDERAL_STATES:
            raise SettingsError(
                f"support_hours.federal_state is {state!r}{where}; use one of {', '.join(FEDERAL_STATES)} or null."
            )
    closed = raw.get("extra_closed_days", list(defaults.extra_closed_days)) or []
    for day in closed:
        if not _CLOSED_DAY.match(str(day)):
            raise SettingsError(
                f"support_hours.extra_closed_days contains {day!r}{where}; write MM-DD (every year) or YYYY-MM-DD."
            )
    return SupportHoursSettings(
        timezone=timezone,
        days=tuple(sorted(set(days))),
        opens=opens,
        closes=closes,
        federal_state=state,
        extra_closed_days=tuple(str(d) for d in closed),
    )


def _parse_console(raw: Dict[str, Any], where: str) -> ConsoleSettings:
    defaults = ConsoleSettings()
    values: Dict[str, Any] = {}
    for key, kind in (("host", str), ("port", int), ("sla_hours_normal", float), ("sla_hours_high", float),
                      ("login_max_failures", int), ("login_account_max_failures", int),
                      ("login_window_minutes", int)):
        value = raw.get(key, getattr(defaults, key))
        try:
            values[key] = kind(value)
        except (TypeError, ValueError):
            raise SettingsError(f"console.{key} is {value!r}{where}; it must be a {kind.__name__}.") from None
    cookies = raw.get("secure_cookies", defaults.secure_cookies)
    # true/false of earlier versions: always/never
    cookies = {True: "always", False: "never"}.get(cookies, cookies) if isinstance(cookies, bool) else str(cookies)
    if cookies not in SECURE_COOKIE_MODES:
        raise SettingsError(f"console.secure_cookies is {cookies!r}{where}; use auto, always or never.")
    values["secure_cookies"] = cookies
    unknown = sorted(set(raw) - set(values))
    if unknown:
        raise SettingsError(f"Unknown setting console.{', console.'.join(unknown)}{where}.")
    return ConsoleSettings(**values)


def _parse_security(raw: Dict[str, Any], where: str) -> SecuritySettings:
    if not isinstance(raw, dict):
        raise SettingsError(f"security{where} must be a mapping of keys to values.")
    fields = SecuritySettings.__dataclass_fields__
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise SettingsError(f"Unknown setting security.{', security.'.join(unknown)}{where}.")
    defaults = SecuritySettings()
    values: Dict[str, Any] = {}
    for key in fields:
        value = raw.get(key)
        if value is None:
            continue
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                raise SettingsError(f"security.{key}{where} must be a list.")
            values[key] = tuple(str(v).strip().rstrip("/") for v in items if str(v).strip())
            continue
        try:
            values[key] = type(default)(value)
        except (TypeError, ValueError):
            raise SettingsError(f"security.{key} is {value!r}{where}; it must be a {type(default).__name__}.") from None
        if isinstance(values[key], (int, float)) and values[key] <= 0:
            raise SettingsError(f"security.{key} is {value!r}{where}; it must be positive.")
    for origin in values.get("cors_origins", ()):
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise SettingsError(f"security.cors_origins contains {origin!r}{where}; write scheme://host[:port], "
                                "e.g. https://ks1web.example.")
    try:
        from ks1bot.core.limits import parse_networks

        parse_networks(values.get("trusted_proxies", ()))
    except ValueError as exc:
        raise SettingsError(f"security.trusted_proxies{where}: {exc}; write addresses or networks "
                            "such as 127.0.0.1 or 10.0.0.0/8.") from None
    return SecuritySettings(**values)


def _parse_serve(raw: Dict[str, Any], where: str) -> ServeSettings:
    if not isinstance(raw, dict) or set(raw) - {"role", "workers"}:
        raise SettingsError(f"serve{where} takes role (rasa, actions, console, mail or null) and workers.")
    role = raw.get("role")
    if role is not None and role not in ("rasa", "actions", "console", "mail"):
        raise SettingsError(f"serve.role is {role!r}{where}; use rasa, actions, console, mail or null.")
    workers = raw.get("workers", 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SettingsError(f"serve.workers is {workers!r}{where}; it must be a whole number of at least 1.")
    return ServeSettings(role, workers)


def _parse_mail(raw: Dict[str, Any], where: str) -> MailSettings:
    if not isinstance(raw, dict):
        raise SettingsError(f"mail{where} must be a mapping of keys to values.")
    unknown = sorted(set(raw) - set(MailSettings.__dataclass_fields__))
    if unknown:
        raise SettingsError(f"Unknown setting mail.{', mail.'.join(unknown)}{where}.")
    values: Dict[str, Any] = {}
    for key, spec in MailSettings.__dataclass_fields__.items():
        if key not in raw or raw[key] is None:
            continue
        value, kind = raw[key], type(spec.default) if spec.default is not None else str
        if kind is bool and not isinstance(value, bool):
            raise SettingsError(f"mail.{key} is {value!r}{where}; write true or false.")
        try:
            values[key] = kind(value)
        except (TypeError, ValueError):
            raise SettingsError(f"mail.{key} is {value!r}{where}; it must be a {kind.__name__}.") from None
        if kind in (int, float) and values[key] < 0:
            raise SettingsError(f"mail.{key} is {value!r}{where}; it must not be negative.")
    return MailSettings(**values)


def _parse_thresholds(raw: Dict[str, Any], where: str) -> Thresholds:
    defaults = Thresholds()
    values = {}
    for key in ("classify", "exclude", "knowledge", "in_scope_doubt"):
        value = raw.get(key, getattr(defaults, key))
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if not 0.0 <= number <= 1.0:
            raise SettingsError(f"thresholds.{key} is {value!r}{where}; use a number between 0 and 1.")
        values[key] = number
    return Thresholds(**values)
