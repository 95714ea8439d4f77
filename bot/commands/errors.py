"""Errors a handler raises to tell the user something; their text is shown as written."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the message is shown to them as written.

    ``markdown``: the message is Markdown (user parts through ``bot.messaging.md.escape``,
    commands written ``{prefix}name``); otherwise it is plain text.
    """

    def __init__(self, message: str, *, markdown: bool = False):
        super().__init__(message)
        self.message = message
        self.markdown = markdown


class UsageError(UserError):
    """The command was malformed; the router appends the command's usage line."""


class PermissionDenied(UserError):
    """The asker may not run this command."""


class RateLimited(UserError):
    """Over an abuse limit: told once (``silent`` False), then ignored quietly."""

    def __init__(self, message: str, *, silent: bool = False):
        super().__init__(message)
        self.silent = silent
