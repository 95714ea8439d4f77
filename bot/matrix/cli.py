"""Command-line tools of the Matrix layer (``helpdesk-bot crypto ...``)."""

from bot.matrix.e2ee.cli import add_cli as add_crypto_cli

__all__ = ["add_crypto_cli"]
