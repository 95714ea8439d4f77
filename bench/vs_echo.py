"""Benchmark: this bot beside a bare matrix-nio echo bot, on one local Synapse, in one run.

Both run as real processes (``helpdesk-bot run`` on SQLite with its defaults, and
``bench/echo_bot.py``). Prints numbers only, never judges them:

- cold start to ready (spawn to ``/readyz`` 200; spawn to the echo bot's first sync);
- ``!ping`` and "who owns dns?" round trips, p50/p99, interleaved (bot, echo, bot, ...),
  and the ratio bot/echo;
- a burst of N messages from 20 users over 5 rooms, per bot one after the other: time
  until every message is answered (drain), and how many never were (lost);
- RSS now and peak (VmHWM) of both processes.

    python bench/vs_echo.py [--rounds 200] [--burst 1000] [--profile DIR]

``--burst 0`` skips the burst. ``--profile DIR`` samples the bot with py-spy (if it is
installed) for the whole run into ``DIR/bot.txt`` (collapsed stacks).
Synapse's rate limits are lifted for every user (``LocalSynapse`` relaxes every ``rc_*``
limit), so neither bot is slowed by them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import BotWorld, make_world, wait_ready
from tests.support.mxclient import MatrixUser, make_user
from tests.support.replies import is_reply_from, wait_all_answered

ROOT = Path(__file__).resolve().parents[1]
USERS, ROOMS = 20, 5


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of ``pid`` in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def round_trip(user: MatrixUser, room: str, bot_id: str, text: str) -> float:
    started = time.perf_counter()
    question = await user.send(room, text)
    if await user.wait_for(is_reply_from(bot_id, question), 30) is None:
        return float("nan")
    return (time.perf_counter() - started) * 1000


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark setup timed out")
        await asyncio.sleep(0.05)


async def burst_rooms(owner: MatrixUser, bot_id: str, users: list[MatrixUser]) -> list[str]:
    rooms = []
    for i in range(ROOMS):
        room = await owner.create_room(public=True, invite=[bot_id], name=f"burst {i}")
        for user in users:
            await user.join(room)
        rooms.append(room)

    async def bot_in_all() -> bool:
        return all([bot_id in await owner.joined_members(r) for r in rooms])

    await wait_for(bot_in_all)
    return rooms


async def burst(
    observer: MatrixUser, users: list[MatrixUser], rooms: list[str], bot_id: str, n: int
) -> tuple[float, int]:
    """Send ``n`` messages (users concurrently, rooms round-robin); (drain s, lost)."""
    await observer.drain()
    per_user = n // len(users)
    started = time.perf_counter()

    async def send_all(k: int, user: MatrixUser) -> list[str]:
        return [
            await user.send(rooms[(k + j) % len(rooms)], f"!ping burst {k}.{j}")
            for j in range(per_user)
        ]

    sent = await asyncio.gather(*(send_all(k, u) for k, u in enumerate(users)))
    questions = [q for batch in sent for q in batch]
    counts = await wait_all_answered(observer, bot_id, questions, timeout=600, settle=0)
    drain = time.perf_counter() - started
    return drain, len(questions) - len(counts)


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` until it exits (None if py-spy is not installed)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not found; no profile")
        return None
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "50", "--nonblocking",
         "--format", "raw", "--output", str(out / "bot.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def round_trips(alice: MatrixUser, targets: dict[str, tuple[str, str]], rounds: int) -> None:
    """``!ping`` and who-owns, interleaved bot/echo; prints p50/p99 and ratios."""
    for label, text in (("!ping", "!ping {i}"), ("who-owns", "who owns dns? {i}")):
        times: dict[str, list[float]] = {"bot": [], "echo": []}
        for i in range(rounds):
            order = ("bot", "echo") if i % 2 == 0 else ("echo", "bot")
            for name in order:
                room, bot_id = targets[name]
                times[name].append(await round_trip(alice, room, bot_id, text.format(i=i)))
        b, e = times["bot"], times["echo"]
        p50b, p50e = statistics.median(b), statistics.median(e)
        p99b, p99e = pct(b, 0.99), pct(e, 0.99)
        print(
            f"{label} round trip over {rounds}: bot p50 {p50b:.1f} ms p99 {p99b:.1f} ms; "
            f"echo p50 {p50e:.1f} ms p99 {p99e:.1f} ms; ratio p50 {p50b / p50e:.2f}x "
            f"p99 {p99b / p99e:.2f}x",
            flush=True,
        )


async def bursts(hs: LocalSynapse, bot_id: str, echo_id: str, burst_size: int) -> list[MatrixUser]:
    """The burst, echo bot first, then the bot, each in 5 fresh rooms; prints the drain."""
    users = [await make_user(hs, f"bench-u{i}") for i in range(USERS)]
    observer = await make_user(hs, "bench-observer")
    results = {}
    for name, target in (("echo", echo_id), ("bot", bot_id)):
        rooms = await burst_rooms(observer, target, users)
        results[name] = await burst(observer, users, rooms, target, burst_size)
        print(f"burst {name}: {results[name][0]:.1f} s, lost {results[name][1]}", flush=True)
    (bd, bl), (ed, el) = results["bot"], results["echo"]
    print(
        f"burst of {burst_size} from {USERS} users over {ROOMS} rooms: bot drained in "
        f"{bd:.1f} s, lost {bl}; echo drained in {ed:.1f} s, lost {el}; ratio {bd / ed:.2f}x",
        flush=True,
    )
    return [observer, *users]


async def main(rounds: int, burst_size: int, profile: Path | None = None) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-vs-echo-"))
    hs = LocalSynapse(base / "synapse")
    hs.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        world: BotWorld = await make_world(hs, base / "world")
        config = world.write_config(logging={"level": "WARNING"})
        env = {**os.environ, "HELPDESK_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
        owners = ROOT / "config" / "responsibilities.yaml"
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "owners", "import", str(owners)],
            env=env, cwd=world.dir, check=True, capture_output=True,
        )  # fmt: skip
        await asyncio.to_thread(hs.register, "echo", "echo-password")
        echo_id = f"@echo:{hs.server_name}"
        ready_file = base / "echo.ready"

        started = time.perf_counter()
        log = (world.dir / "bot.log").open("ab")
        bot = subprocess.Popen(  # noqa: ASYNC220 (spawning is what is timed)
            [sys.executable, "-m", "bot", "run"], env=env, cwd=world.dir, stdout=log, stderr=log
        )
        procs.append(bot)
        print(f"bot pid {bot.pid}", flush=True)
        if profile is not None and (spy := start_profiler(bot.pid, profile)) is not None:
            procs.append(spy)
        await wait_ready(world.web_port, timeout=120)
        bot_cold = time.perf_counter() - started
        started = time.perf_counter()
        echo = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, str(ROOT / "bench" / "echo_bot.py"), hs.url, echo_id,
             "echo-password", "--ready", str(ready_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(echo)

        async def echo_ready() -> bool:
            return ready_file.exists()

        await wait_for(echo_ready)
        echo_cold = time.perf_counter() - started
        print(f"cold start to ready: bot {bot_cold:.2f} s, echo {echo_cold:.2f} s", flush=True)

        alice = await make_user(hs, "bench-alice")
        await alice.join(world.helpdesk)
        echo_room = await alice.create_room(invite=[echo_id], name="echo")

        async def echo_joined() -> bool:
            return echo_id in await alice.joined_members(echo_room)

        await wait_for(echo_joined)
        await alice.drain()
        targets = {"bot": (world.helpdesk, world.bot_user_id), "echo": (echo_room, echo_id)}
        await round_trips(alice, targets, rounds)
        for name, proc in (("bot", bot), ("echo", echo)):
            now, peak = rss_mb(proc.pid)
            print(f"RSS after round trips: {name} {now:.0f} MB (peak {peak:.0f} MB)")

        others: list[MatrixUser] = []
        if burst_size > 0:
            others = await bursts(hs, world.bot_user_id, echo_id, burst_size)
            for name, proc in (("bot", bot), ("echo", echo)):
                now, peak = rss_mb(proc.pid)
                print(f"RSS after the burst: {name} {now:.0f} MB (peak {peak:.0f} MB)")
        for user in [alice, *others]:
            await user.close()
        await world.close()
    finally:
        for proc in procs:
            if proc.args[0] != sys.executable:  # py-spy: writes its file once the bot exits
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(30)
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        hs.stop()
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 200: the p99 of 50 round trips is their slowest one; of 200, the second slowest.
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000, help="0: no burst")
    parser.add_argument("--profile", type=Path, help="record the bot with py-spy into DIR")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.burst, args.profile))
