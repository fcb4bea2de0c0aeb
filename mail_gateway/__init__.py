"""The email channel (SPEC §5), all of it: IMAP and SMTP intake into one durable queue, a
worker that checks each mail once against loop protection and routes it with the
in-process Router, replies through an SMTP relay (or an outbox folder), handoffs into
the conversation record, and the delivery of staff replies and hand-backs from the
conversation outbox.

Modules:
    config          — the resolved settings of `ks1bot mail serve` (CLI > env > file)
    errors          — the exception tree
    parsing         — MIME → ParsedMail (pure; never raises)
    mime_text       — charsets and HTML of MIME parts to text (pure)
    threads         — thread roots / conversation ids (pure)
    loop_protection — RFC 3834: mail that must never get an automatic reply (pure; the
                      one list of our own addresses)
    policy          — the gateway's decision chain: loop protection, handoff follow-ups,
                      rate limits (pure)
    compose         — reply composition (pure)
    store           — the durable queue (SQLite) and raw-mail files
    sender          — relay and outbox senders
    smtp_intake     — the aiosmtpd handler and its controller
    imap_intake     — the IMAP poller (IDLE with polling fallback)
    handoffs        — threads with staff: read from and written to the conversation record
    worker          — processing one mail; the send loop
    staff_replies   — staff replies and hand-backs from the conversation outbox
    headers         — the one tolerant layer every header is read through (pure)
    retention       — deleting raw mails, replies and files older than the retention period
    gateway         — everything wired together, start()/stop()
    cli             — `ks1bot mail serve|status`
"""
