"""The Matrix layer: the only package that imports matrix-nio (in client/events/sender)."""
