"""The pure scheduling decision: local time, DST, catch-up window, day boundaries."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.features.tips.loader import parse_campaigns
from bot.features.tips.schedule import local_instant, next_slot_date, plan_posts
from tests.tips.helpers import HELPDESK, TRIAGE, campaign_doc, utc

CATCH_UP = timedelta(hours=3)


def campaigns(*docs):
    import yaml

    return parse_campaigns(yaml.safe_dump({"campaigns": list(docs)}))


def resolve(ref: str) -> str | None:
    return {"helpdesk": HELPDESK, "triage": TRIAGE, "#helpdesk:localhost": HELPDESK}.get(
        ref, ref if ref.startswith("!") else None
    )


def plan(cs, now, claimed=(), catch_up=CATCH_UP):
    return plan_posts(cs, now, claimed, catch_up, resolve)


def test_tips_nothing_due_before_local_time() -> None:
    cs = campaigns(campaign_doc())
    # 09:00 in Berlin in December is 08:00 UTC.
    assert plan(cs, utc(2026, 12, 2, 7, 59, 59)).due == []


def test_tips_due_at_local_time_with_right_tip() -> None:
    cs = campaigns(campaign_doc())
    result = plan(cs, utc(2026, 12, 2, 8, 0, 0))
    assert [(s.campaign.name, s.local_date, s.room_id, s.day) for s in result.due] == [
        ("month", date(2026, 12, 2), HELPDESK, 2)
    ]
    assert result.due[0].tip.title == "Tip 2 of month"
    assert result.due[0].txn_key == f"tip:month:2026-12-02:{HELPDESK}"


def test_tips_claimed_slot_is_not_due_again() -> None:
    cs = campaigns(campaign_doc())
    claimed = {("month", date(2026, 12, 2), HELPDESK)}
    result = plan(cs, utc(2026, 12, 2, 8, 0, 30), claimed)
    assert result.due == [] and result.missed == []


def test_tips_catch_up_inside_window_posts() -> None:
    cs = campaigns(campaign_doc())
    result = plan(cs, utc(2026, 12, 2, 10, 59, 0))  # 11:59 local, within 3 h
    assert len(result.due) == 1 and result.missed == []


def test_tips_catch_up_edge_is_inclusive_then_missed() -> None:
    cs = campaigns(campaign_doc())
    assert len(plan(cs, utc(2026, 12, 2, 11, 0, 0)).due) == 1
    late = plan(cs, utc(2026, 12, 2, 11, 0, 1))
    assert late.due == []
    assert [s.local_date for s in late.missed] == [date(2026, 12, 2)]


def test_tips_no_burst_after_days_down() -> None:
    """Down from 1 to 4 December: on start only the 4th is considered."""
    cs = campaigns(campaign_doc())
    result = plan(cs, utc(2026, 12, 4, 8, 30))
    assert [s.local_date for s in result.due] == [date(2026, 12, 4)]
    assert result.missed == []


def test_tips_next_local_day_never_posts_yesterdays_tip() -> None:
    # 23:30 UTC on 2 Dec is 00:30 on 3 Dec in Berlin: a new local day, before 09:00.
    cs = campaigns(campaign_doc(at="23:00"))
    result = plan(cs, utc(2026, 12, 2, 23, 30))
    assert result.due == [] and result.missed == []


def test_tips_local_date_not_utc_date() -> None:
    # Auckland is UTC+13 in December: 21:00 UTC on 1 Dec is 10:00 on 2 Dec there.
    cs = campaigns(campaign_doc(tz="Pacific/Auckland"))
    result = plan(cs, utc(2026, 12, 1, 20, 0, 0))
    assert [(s.local_date, s.day) for s in result.due] == [(date(2026, 12, 2), 2)]


def test_tips_outside_campaign_nothing() -> None:
    cs = campaigns(campaign_doc())
    assert plan(cs, utc(2026, 11, 30, 8, 30)).due == []
    assert plan(cs, utc(2026, 12, 6, 8, 30)).due == []


def test_tips_yearly_campaign_repeats_next_year() -> None:
    cs = campaigns(campaign_doc())
    result = plan(cs, utc(2027, 12, 1, 8, 0))
    assert [(s.local_date, s.day) for s in result.due] == [(date(2027, 12, 1), 1)]


def test_tips_one_off_campaign_only_that_year() -> None:
    cs = campaigns(campaign_doc(start="2026-12-01", end="2026-12-03"))
    assert len(plan(cs, utc(2026, 12, 3, 8, 0)).due) == 1
    assert plan(cs, utc(2027, 12, 3, 8, 0)).due == []


def test_tips_rooms_deduplicated_and_unresolvable_dropped() -> None:
    cs = campaigns(campaign_doc(rooms=["helpdesk", "#helpdesk:localhost", "triage", "#x:y"]))
    result = plan(cs, utc(2026, 12, 1, 8, 0))
    assert sorted(s.room_id for s in result.due) == sorted([HELPDESK, TRIAGE])


def test_tips_two_campaigns_same_day_each_post() -> None:
    cs = campaigns(campaign_doc("a"), campaign_doc("b", at="10:00"))
    assert [s.campaign.name for s in plan(cs, utc(2026, 12, 1, 8, 0)).due] == ["a"]
    claimed = {("a", date(2026, 12, 1), HELPDESK)}
    assert [s.campaign.name for s in plan(cs, utc(2026, 12, 1, 9, 0), claimed).due] == ["b"]


@pytest.mark.parametrize(
    ("day", "expected_utc_hour"),
    [
        (date(2026, 10, 31), 13),  # New York still on EDT (UTC-4)
        (date(2026, 11, 1), 14),  # fall back: 09:00 EST is 14:00 UTC
        (date(2027, 3, 13), 14),  # still EST
        (date(2027, 3, 14), 13),  # spring forward: 09:00 EDT is 13:00 UTC
    ],
)
def test_tips_dst_change_days_post_at_local_hour(day: date, expected_utc_hour: int) -> None:
    cs = campaigns(campaign_doc(start="2026-10-01", end="2027-03-31", tz="America/New_York"))
    before = utc(day.year, day.month, day.day, expected_utc_hour - 1, 59, 59)
    at = utc(day.year, day.month, day.day, expected_utc_hour, 0, 0)
    assert plan(cs, before).due == []
    due = plan(cs, at).due
    assert [s.local_date for s in due] == [day]
    assert due[0].scheduled.astimezone(ZoneInfo("America/New_York")).hour == 9


def test_tips_time_inside_spring_gap_moves_forward() -> None:
    tz = ZoneInfo("Europe/Berlin")
    # 02:30 does not exist on 28 March 2027 in Berlin: posted at 03:30 CEST = 01:30 UTC.
    assert local_instant(date(2027, 3, 28), time(2, 30), tz) == utc(2027, 3, 28, 1, 30)
    # 02:30 happens twice on 31 October 2027: the first one (CEST) = 00:30 UTC.
    assert local_instant(date(2027, 10, 31), time(2, 30), tz) == utc(2027, 10, 31, 0, 30)


def test_tips_catch_up_across_dst_counts_real_time() -> None:
    cs = campaigns(campaign_doc(start="2026-10-01", end="2026-11-30", tz="America/New_York"))
    # 09:00 EST on 1 Nov = 14:00 UTC; 3 h later is 17:00 UTC.
    assert len(plan(cs, utc(2026, 11, 1, 17, 0)).due) == 1
    assert len(plan(cs, utc(2026, 11, 1, 17, 1)).missed) == 1


def test_tips_plan_needs_aware_time() -> None:
    from datetime import datetime

    with pytest.raises(ValueError):
        plan(campaigns(campaign_doc()), datetime(2026, 12, 1, 9))


def test_tips_next_slot_date() -> None:
    (c,) = campaigns(campaign_doc())
    assert next_slot_date(c, utc(2026, 11, 20, 12)) == date(2026, 12, 1)
    assert next_slot_date(c, utc(2026, 12, 2, 7)) == date(2026, 12, 2)  # 08:00 local
    assert next_slot_date(c, utc(2026, 12, 2, 9)) == date(2026, 12, 3)
    assert next_slot_date(c, utc(2026, 12, 5, 9)) == date(2027, 12, 1)
    (once,) = campaigns(campaign_doc(start="2026-12-01", end="2026-12-02"))
    assert next_slot_date(once, utc(2026, 12, 2, 9)) is None
