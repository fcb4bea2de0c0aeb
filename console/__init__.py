"""Staff console: the handoff queue web app, staff accounts and their command line.
It reads and writes the conversation record (ks1bot.conversations); replies and
hand-backs are queued there for the channels to deliver."""
