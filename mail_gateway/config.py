"""The configuration of `ks1bot mail serve`: command line over environment over the
settings file (`mail:` section) over the documented defaults. Passwords come from the
environment only (or the IMAP URL)."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from ks1bot.core.settings import MailSettings, Settings, SupportHoursSettings
from mail_gateway.errors import ConfigError
from mail_gateway.loop_protection import OwnMail, own_mail

#: Environment variables: KS1BOT_MAIL_<KEY> for each command-line option / setting.
ENV_PREFIX = "KS1BOT_MAIL_"
ENV_IMAP_PASSWORD = "KS1BOT_MAIL_IMAP_PASSWORD"
ENV_RELAY_USERNAME = "KS1BOT_MAIL_RELAY_USERNAME"
ENV_RELAY_PASSWORD = "KS1BOT_MAIL_RELAY_PASSWORD"


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str
    mailbox: str = "INBOX"
    #: True: TLS from the first byte (imaps://); False: STARTTLS when the server offers it.
    tls: bool = False

    def describe(self) -> str:
        """The URL without the password (for logs and status)."""
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.mailbox}"


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    starttls: bool = True
    username: Optional[str] = None
    password: Optional[str] = None


@dataclass(frozen=True)
class MailConfig:
    """Everything the gateway needs to run, resolved and checked."""

    data_dir: Path
    from_address: str
    from_name: str
    message_id_domain: str
    our_addresses: Tuple[str, ...]
    smtp_listen: Optional[Tuple[str, int]] = None
    #: Health, readiness and metrics (ks1bot/app/health.py) on HOST:PORT; None: off.
    http_listen: Optional[Tuple[str, int]] = None
    imap: Optional[ImapAccount] = None
    relay: Optional[Relay] = None
    customers: Optional[Path] = None
    options: MailSettings = MailSettings()
    #: Our own addresses' domains (and the Message-ID domain): loop protection's own domain.
    our_domains: Tuple[str, ...] = ()
    #: For the acknowledgement of a mail handed to staff without routing (it failed).
    support_hours: SupportHoursSettings = SupportHoursSettings()
    default_language: str = "de"
    #: The conversation record's database when a URL is set (KS1BOT_DATABASE_URL,
    #: database_url): the queue lives there, shared by several workers; None: its own
    #: SQLite file in mail_dir.
    database_url: Optional[str] = None

    @property
    def own(self) -> OwnMail:
        """Loop protection's one list of our own addresses and domains, and our Message-ID domain."""
        return OwnMail(self.our_addresses, self.our_domains, self.message_id_domain)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def queue_path(self) -> Path:
        return self.mail_dir / "queue.sqlite3"

    @property
    def outbox_dir(self) -> Path:
        return self.mail_dir / "outbox"


def parse_host_port(value: str, what: str, default_port: Optional[int] = None) -> Tuple[str, int]:
    """'127.0.0.1:2525' → ('127.0.0.1', 2525); '[::1]:25' works too."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port or "")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what} {value!r} is not HOST:PORT; write it like 127.0.0.1:2525.")
    return host, int(port)


def parse_imap_url(url: str, password: Optional[str] = None) -> ImapAccount:
    """imap://user:password@host:port/INBOX or imaps://…; the password may come separately
    (KS1BOT_MAIL_IMAP_PASSWORD) and then wins over the one in the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError(f"The IMAP URL {url!r} must start with imap:// or imaps://.")
    tls = parts.scheme == "imaps"
    try:
        port = parts.port or (993 if tls else 143)
    except ValueError:
        raise ConfigError(f"The IMAP URL {url!r} has a bad port; write imap://user@host:143/INBOX.") from None
    if not parts.hostname or not parts.username:
        raise ConfigError(f"The IMAP URL {url!r} needs a user and a host: imap://user@host:143/INBOX.")
    secret = password if password is not None else unquote(parts.password or "")
    if not secret:
        raise ConfigError(
            f"No IMAP password for {parts.username}; set {ENV_IMAP_PASSWORD} (or put it in the URL)."
        )
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapAccount(parts.hostname, port, unquote(parts.username), secret, mailbox, tls)


def resolve(
    settings: Settings,
    *,
    smtp_listen: Optional[str] = None,
    http_listen: Optional[str] = None,
    imap: Optional[str] = None,
    relay: Optional[str] = None,
    from_address: Optional[str] = None,
    data_dir: Optional[str] = None,
    customers: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> MailConfig:
    """The configuration from the command line (arguments), the environment and the file."""
    env = os.environ if env is None else env
    mail = settings.mail

    def pick(cli: Optional[str], key: str, file_value: Optional[str]) -> Optional[str]:
        for value in (cli, env.get(ENV_PREFIX + key.upper()), file_value):
            if value is not None and str(value).strip() != "":
                return str(value).strip()
        return None

    listen = pick(smtp_listen, "smtp_listen", mail.smtp_listen)
    imap_url = pick(imap, "imap", mail.imap)
    relay_value = pick(relay, "relay", mail.relay)
    sender = pick(from_address, "from", mail.from_address) or (settings.our_addresses[0] if settings.our_addresses else None)
    if not sender or "@" not in sender:
        raise ConfigError("No sender address for replies; set mail.from_address or our_addresses in settings.yml, or pass --from.")
    directory = pick(data_dir, "data_dir", None)
    customer_file = pick(customers, "customers", None)
    relay_obj = None
    if relay_value:
        host, port = parse_host_port(relay_value, "The relay")
        relay_obj = Relay(
            host, port, starttls=mail.relay_starttls,
            username=env.get(ENV_RELAY_USERNAME) or mail.relay_username,
            password=env.get(ENV_RELAY_PASSWORD),
        )
        if relay_obj.username and not relay_obj.password:
            raise ConfigError(f"The relay user {relay_obj.username} needs a password; set {ENV_RELAY_PASSWORD}.")
    own = own_mail(settings, sender)
    return MailConfig(
        data_dir=Path(directory).resolve() if directory else settings.data_dir,
        from_address=sender,
        from_name=mail.from_name,
        message_id_domain=settings.message_id_domain,
        our_addresses=own.addresses,
        our_domains=own.domains,
        support_hours=settings.support_hours,
        default_language=settings.default_language,
        smtp_listen=parse_host_port(listen, "--smtp-listen") if listen else None,
        http_listen=parse_host_port(http_listen, "--http-listen") if http_listen else None,
        imap=parse_imap_url(imap_url, env.get(ENV_IMAP_PASSWORD)) if imap_url else None,
        relay=relay_obj,
        customers=Path(customer_file).resolve() if customer_file else settings.customers,
        options=mail,
        database_url=env.get("KS1BOT_DATABASE_URL") or settings.database_url or None,
    )


def with_options(config: MailConfig, **changes) -> MailConfig:
    """A copy with some `mail:` options changed (tests, benchmarks)."""
    return replace(config, options=replace(config.options, **changes))
