"""Outbox rows as tests read them: the content as it will be sent (Markdown rendered).

A Markdown message's row stores its Markdown; ``bot.matrix.render.event_content`` renders
it when it is sent. Tests that look at ``row.content["body"]`` read rows through here.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.matrix.render import event_content
from bot.storage import Database
from bot.storage.models import OutboxMessage


async def rendered_rows(db: Database) -> list[OutboxMessage]:
    """Every outbox row, oldest first, as detached copies with their content rendered.

    Changing them changes nothing in the database.
    """
    async with db.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    for row in rows:
        row.content = event_content(row.content)
    return rows
