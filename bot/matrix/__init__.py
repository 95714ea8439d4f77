"""The Matrix layer: the only package that imports matrix-nio (client, crypto, session, sender)."""
