"""Delivering a mail to a running gateway's SMTP listener (tests)."""
from __future__ import annotations


def send(gw, raw: bytes, mail_from: str = "h.meier@musterhandel.example"):
    """Deliver one mail to the gateway's SMTP listener; returns (code, message)."""
    import smtplib

    host, port = gw.config.smtp_listen
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.ehlo()
        client.mail(mail_from)
        client.rcpt("support@ks1-support.example")
        return client.data(raw)
