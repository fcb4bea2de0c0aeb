"""The mail gateway's exceptions. Library errors (imaplib, smtplib, socket) are wrapped
at the boundary into these, so callers handle one small tree."""
from __future__ import annotations


class MailGatewayError(Exception):
    """Base of every error the mail gateway raises on purpose."""


class ConfigError(MailGatewayError):
    """The mail configuration cannot be used; the message says what to change."""


class MalformedMail(MailGatewayError):
    """The bytes are not an Internet message (RFC 5322) at all."""


class ImapError(MailGatewayError):
    """The IMAP server refused something or the connection broke."""


class RelayError(MailGatewayError):
    """Sending through the relay failed."""

    #: Whether trying again later may work (4xx, connection refused, timeout).
    temporary: bool = True


class RelayTemporaryError(RelayError):
    temporary = True


class RelayPermanentError(RelayError):
    """The relay rejected the mail for good (5xx)."""

    temporary = False


class RelayUnconfirmed(RelayError):
    """The whole mail went to the relay but it never confirmed it. Sending again could
    deliver it twice, so it is not retried: a person checks."""

    temporary = False
