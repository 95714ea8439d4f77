"""Errors a handler raises to tell the user something, in Markdown."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix, told to them in Markdown (user parts through
    ``bot.messaging.md.escape``, commands written ``{prefix}name``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageError(UserError):
    """The command was malformed; the router appends the command's usage line."""


class PermissionDenied(UserError):
    """The asker may not run this command."""


class RateLimited(UserError):
    """Over an abuse limit: told once (``silent`` False), then ignored quietly."""

    def __init__(self, message: str, *, silent: bool = False):
        super().__init__(message)
        self.silent = silent
