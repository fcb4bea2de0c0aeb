"""The email channel (SPEC §5): IMAP and SMTP intake into one durable queue, a worker
that routes each mail with the in-process Router, replies through an SMTP relay (or
an outbox folder), and loop protection.

Modules:
    config        — the resolved settings of `ks1bot mail serve` (CLI > env > file)
    errors        — the exception tree
    parsing       — MIME → ParsedMail (pure)
    threads       — thread roots / conversation ids (pure)
    policy        — the gateway's decision chain: loop protection, handoff follow-ups,
                    rate limits (pure)
    compose       — reply composition (pure)
    store         — the durable queue (SQLite) and raw-mail files
    sender        — relay and outbox senders
    smtp_intake   — the aiosmtpd handler and its controller
    imap_intake   — the IMAP poller (IDLE with polling fallback)
    worker        — processing one mail; the send loop
    gateway       — everything wired together, start()/stop()
    api           — threads and staff replies for the staff console
    cli           — `ks1bot mail serve|status`
"""
