"""Benchmark: the bot on a real local Synapse — reply latency, burst throughput, memory.

Starts a throwaway Synapse and the bot in-process, then prints:
- p50/p99 round trip of `!ping` (a user sends, waits for the bot's reply), sequentially;
- the time to answer a burst of N messages sent as fast as possible, and messages/s;
- the bot process's peak RSS (Synapse runs in its own process and is not counted).

    python bench/ping_roundtrip.py [--pings 50] [--burst 200]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import InProcessBot, make_world, wait_joined
from tests.support.replies import is_reply_from, wait_all_answered


async def main(pings: int, burst: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-ping-"))
    hs = LocalSynapse(base / "synapse")
    hs.start()
    try:
        world = await make_world(hs, base / "world")
        bot = InProcessBot(world.settings(logging={"level": "WARNING"}))
        await bot.start()
        try:
            await wait_joined(world, world.helpdesk)
            alice = await world.user("alice")
            await alice.drain()
            latencies = []
            for i in range(pings):
                started = time.perf_counter()
                question = await alice.send(world.helpdesk, f"!ping {i}")
                await alice.wait_for(is_reply_from(world.bot_user_id, question), 30)
                latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"ping round trip over {pings}: p50 {statistics.median(latencies):.1f} ms, "
                f"p99 {p99:.1f} ms (includes Synapse send and sync)"
            )
            started = time.perf_counter()
            questions = [await alice.send(world.helpdesk, f"!ping b{i}") for i in range(burst)]
            sent = time.perf_counter() - started
            counts = await wait_all_answered(alice, world.bot_user_id, questions, 300, settle=0)
            took = time.perf_counter() - started
            print(
                f"burst of {burst}: sent in {sent:.1f} s, all answered after {took:.1f} s "
                f"({burst / took:.1f} messages/s), answered {len(counts)}, "
                f"duplicates {sum(n - 1 for n in counts.values())}"
            )
            await alice.close()
        finally:
            await bot.stop()
            await world.close()
    finally:
        hs.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process (bot + test client): {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.pings, args.burst))
