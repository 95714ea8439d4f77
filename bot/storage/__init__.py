"""Database access: engine and session factory, the declarative base, core tables."""

from bot.storage.base import Base
from bot.storage.engine import Database

__all__ = ["Base", "Database"]
