"""Abuse limits and number parsing, without a database."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.ids import is_number, parse_number
from bot.limits import Bucket, BucketSettings, Limits, LimitsSettings, Verdict
from tests.support.desk import START


def test_security_bucket_burst_then_rate() -> None:
    bucket = Bucket(BucketSettings(burst=3, per_minute=6))
    assert [bucket.take("u", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("u", 0.0) == 10.0  # one token every 10 s
    assert bucket.take("u", 10.0) == 0.0
    assert bucket.take("other", 10.0) == 0.0  # keys are separate


def test_security_limits_notify_once_per_excess() -> None:
    clock = ManualClock(START)
    settings = LimitsSettings(
        incidents=BucketSettings(burst=2, per_minute=1),
        commands=BucketSettings(burst=10, per_minute=10),
    )
    limits = Limits(settings, clock)
    seen = [limits.check(limits.incidents, "@a:x") for _ in range(6)]
    assert seen == [Verdict.OK, Verdict.OK, Verdict.NOTIFY] + [Verdict.SILENT] * 3
    # The command bucket of the same person shares the one notice.
    assert all(limits.check(limits.commands, "@a:x") is Verdict.OK for _ in range(10))
    assert limits.check(limits.commands, "@a:x") is Verdict.SILENT
    clock.advance(timedelta(minutes=1))
    assert limits.check(limits.incidents, "@a:x") is Verdict.OK
    # Once the pause is over, a new excess earns a new notice.
    clock.advance(timedelta(minutes=5))
    assert [limits.check(limits.incidents, "@a:x") for _ in range(3)][-1] is Verdict.NOTIFY


def test_security_limits_disabled() -> None:
    limits = Limits(LimitsSettings(enabled=False), ManualClock(START))
    assert all(limits.check(limits.incidents, "@a:x") is Verdict.OK for _ in range(100))


def test_security_numbers_are_ascii_digits() -> None:
    assert parse_number("12") == 12
    for text in ("²", "١٢", "12a", "", "-1", "1234567890", " 1"):
        assert not is_number(text) and parse_number(text) is None
