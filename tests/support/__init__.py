"""Test scaffolding, kept out of the product: real mail servers on loopback (Dovecot,
an SMTP sink), free ports, a stub router, crash points and the launcher that injects them
into a real mail gateway process. Imported as `tests.support.…` (the project root is on
the path under pytest and in the editable install); bench/mail_bench.py uses the mail
servers too."""
