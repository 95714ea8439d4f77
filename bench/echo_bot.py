"""A bare matrix-nio echo bot: the baseline of ``bench/vs_echo.py``.

What a minimal nio bot does, and nothing more: log in, accept invites, and answer every
text message newer than its start with an ``m.notice`` reply (callbacks run inside
``sync_forever``, one after another; the sync token lives only in memory). It touches
no database. Writes ``READY`` to the file named by ``--ready`` after its first sync.

    python bench/echo_bot.py HOMESERVER USER_ID PASSWORD --ready FILE
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from nio import AsyncClient, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str, ready: Path) -> None:
    client = AsyncClient(homeserver, user_id)
    await client.login(password)
    started_ms = int(time.time() * 1000)

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == user_id or event.server_timestamp < started_ms:
            return
        content = {
            "msgtype": "m.notice",
            "body": f"echo: {event.body}",
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        }
        await client.room_send(room.room_id, "m.room.message", content)

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == user_id and event.membership == "invite":
            await client.join(room.room_id)

    client.add_event_callback(on_message, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)

    async def announce() -> None:
        await client.synced.wait()
        ready.write_text("READY")

    task = asyncio.create_task(announce())
    sync_filter = {"room": {"timeline": {"limit": 100}}}
    try:
        await client.sync_forever(timeout=30000, sync_filter=sync_filter, full_state=True)
    finally:
        task.cancel()
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("homeserver")
    parser.add_argument("user_id")
    parser.add_argument("password")
    parser.add_argument("--ready", type=Path, required=True)
    a = parser.parse_args()
    asyncio.run(main(a.homeserver, a.user_id, a.password, a.ready))
