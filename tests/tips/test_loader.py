"""`tips validate`: every problem with its place; the shipped campaigns are valid."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.features.tips.loader import CampaignFileError, load_campaigns, parse_campaigns
from tests.tips.helpers import campaign_doc, write_campaigns

ROOT = Path(__file__).resolve().parents[2]


def problems_of(*docs, extra: dict | None = None) -> list[str]:
    text = yaml.safe_dump({"campaigns": list(docs), **(extra or {})}, sort_keys=False)
    with pytest.raises(CampaignFileError) as info:
        parse_campaigns(text)
    return info.value.problems


def test_tips_shipped_file_is_valid_with_31_december_tips() -> None:
    campaigns = {c.name: c for c in load_campaigns(ROOT / "config" / "tips.yaml")}
    month = campaigns["security-month"]
    assert month.yearly and month.length == 31 and len(month.tips) == 31
    assert (month.start.month, month.start.day, month.end.day) == (12, 1, 31)
    assert month.at.hour == 9 and month.timezone
    assert len({t.title for t in month.tips}) == 31
    week = next(c for c in campaigns.values() if c.name.startswith("security-week"))
    assert week.length == 7 and len(week.tips) == 7


def test_tips_validate_reports_every_problem_with_place() -> None:
    doc = campaign_doc(tz="Europe/Berln")
    del doc["tips"][2]  # day 3 missing
    doc["tips"][0]["body"] = "x" * 2001
    doc["tips"][1]["title"] = ""
    problems = problems_of(doc)
    text = "\n".join(problems)
    assert "campaigns[0] month: 'Europe/Berln' is not an IANA time zone" in text
    assert "day 3 (03 December) is missing" in text
    assert "campaigns[0] month day 1: body is 2001 characters (max 2000)" in text
    assert "campaigns[0] month day 2: title is missing" in text
    assert all("(line " in p for p in problems), problems
    assert len(problems) == 4


def test_tips_validate_line_numbers_point_at_the_key() -> None:
    text = """campaigns:
  - name: m
    start: "12-01"
    end: "12-01"
    time: "25:00"
    timezone: UTC
    tips:
      - day: 1
        title: t
        body: b
"""
    with pytest.raises(CampaignFileError) as info:
        parse_campaigns(text)
    assert info.value.problems == [
        'campaigns[0] m: time must be a local time like "09:00" (line 5)'
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"start": "12-40"}, "start must be MM-DD"),
        ({"start": "2026-12-01"}, "start and end must both be"),
        ({"end": "11-01"}, "end is before start"),
        ({"start": "02-01", "end": "03-05"}, "cannot include 29 February"),
        ({"name": "Bad Name"}, "name must be lower-case"),
        ({"rooms": ["lobby"]}, "room 'lobby' must be helpdesk"),
        ({"rooms": []}, "rooms must be a non-empty list"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"tips": []}, "tips must be a non-empty list"),
    ],
)
def test_tips_validate_campaign_fields(change: dict, expected: str) -> None:
    doc = {**campaign_doc(), **change}
    assert any(expected in p for p in problems_of(doc)), problems_of(doc)


def test_tips_validate_tip_fields() -> None:
    doc = campaign_doc()
    doc["tips"][0]["link"] = "javascript:alert(1)"
    doc["tips"][1]["day"] = 1
    doc["tips"].append({"day": 9, "title": "x", "body": "y", "extra": 1})
    text = "\n".join(problems_of(doc))
    assert "day 1: link must be an http(s) URL" in text
    assert "this day appears twice" in text
    assert "day 2 (02 December) is missing" in text
    assert "unknown key 'extra'" in text
    assert "day 9 is after the last day (5)" in text


def test_tips_validate_duplicate_names_and_bad_yaml() -> None:
    assert any("used twice" in p for p in problems_of(campaign_doc(), campaign_doc()))
    with pytest.raises(CampaignFileError) as info:
        parse_campaigns("campaigns:\n  - name: [unclosed\n")
    assert "not valid YAML at line" in info.value.problems[0]
    with pytest.raises(CampaignFileError):
        parse_campaigns("just: text\n")


def test_tips_validate_accepts_unquoted_time_and_dates() -> None:
    text = """campaigns:
  - name: week
    start: 2027-03-01
    end: 2027-03-01
    time: 09:30
    timezone: Europe/Berlin
    rooms: [helpdesk, "!abc:example.org", "#other:example.org"]
    tips:
      - {day: 1, title: t, body: b, link: "https://example.org/guide"}
"""
    (c,) = parse_campaigns(text)
    assert (c.start, c.yearly, c.at.hour, c.at.minute) == (date(2027, 3, 1), False, 9, 30)


def test_tips_cli_validate_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    doc = campaign_doc(tz="Mars/Olympus")
    del doc["tips"][4]
    path = write_campaigns(tmp_path / "tips.yaml", doc)
    assert main(["tips", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "'Mars/Olympus' is not an IANA time zone" in err
    assert "day 5 (05 December) is missing" in err


def test_tips_cli_validate_good_and_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["tips", "validate", str(ROOT / "config" / "tips.yaml")]) == 0
    assert "security-month: 31 tips" in capsys.readouterr().out
    assert main(["tips", "validate", str(tmp_path / "nope.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err
