"""Tools for trying the bot out and testing it, not used by a running bot.

``devserver``: a local Synapse (SQLite, 127.0.0.1 only) for ``helpdesk-bot demo`` and the
test suite; ``demo``: the ``helpdesk-bot demo`` command (homeserver, users, rooms, bot).
"""
