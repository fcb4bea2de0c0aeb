"""Staff console: the handoff queue (store, web app, staff accounts)."""
