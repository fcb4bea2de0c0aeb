"""The channels that run inside the Rasa server: the chat widget and REST (socket.io
`ChatInput`, its delivery of staff replies and hand-backs from the outbox, the widget's
web side) and the phone webhook (`CallInput`). bot/credentials.yml names the classes.
The email channel is the top-level package `mail_gateway`."""
