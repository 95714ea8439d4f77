"""YAML import/export on SQLite and PostgreSQL: all or nothing, dry run, prune, audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import func, select

from bot.features.ownership import repository
from bot.features.ownership.importer import export_map, import_map
from bot.features.ownership.models import Area, AuditEntry, Team
from bot.features.ownership.yamlmap import MapFileError
from bot.storage import Database
from tests.ownership.helpers import EXAMPLE_MAP

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SMALL = """\
areas:
  - name: Release signing
    description: Keys and procedure used to sign releases
    aliases: [code signing]
    owners: ["@release-lead:example.org"]
    backups: ["@security-lead:example.org"]
    team: release
    contact: "DM the owner"
    security: true
  - name: Phishing
    owners: ["@security-oncall:example.org"]
    team: release
teams:
  - name: release
    security_champion: "@release-champion:example.org"
"""


async def _load(db: Database, text: str, **kwargs) -> object:
    async with db.sessions.begin() as session:
        return await import_map(session, text, actor="tester", now=NOW, **kwargs)


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_ownership_import_example_map(db: Database) -> None:
    plan = await _load(db, EXAMPLE_MAP.read_text())
    assert plan.applied
    assert await _count(db, Area) == 23
    assert await _count(db, Team) == 8
    async with db.sessions() as session:
        area = await repository.area_by_name(session=session, name="release SIGNING")
        assert area is not None
        assert area.owners == ["@release-lead:example.org"]
        assert area.last_verified == datetime(2026, 11, 10, tzinfo=UTC)
        assert await repository.map_version(session=session) is not None


async def test_ownership_import_error_names_entry_line_field_and_changes_nothing(
    db: Database,
) -> None:
    await _load(db, SMALL)
    before = await export_map_text(db)
    broken = SMALL.replace('owners: ["@security-oncall:example.org"]', 'owners: ["bob"]')
    broken = broken.replace("DM the owner", "DM the release lead")  # a valid change too
    with pytest.raises(MapFileError) as info:
        await _load(db, broken)
    message = str(info.value)
    assert 'areas entry 2 "Phishing" (line 10)' in message
    assert "field 'owners' (line 11)" in message
    assert "'bob' is not a Matrix user id" in message
    assert await export_map_text(db) == before  # the valid change was not applied either


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("security: true", "security: maybe"), "field 'security' (line 9)"),
        (("team: release\n    contact", "team: nowhere\n    contact"), "unknown team 'nowhere'"),
        (("aliases: [code signing]", "aliases: [phishing]"), "'phishing' already names"),
        (("contact:", "contatc:"), "field 'contatc' (line 8): unknown field"),
        (("  - name: Phishing", "  - name: release signing"), "duplicate of entry 1"),
    ],
)
async def test_ownership_import_rejects_bad_entries(
    db: Database, edit: tuple[str, str], expected: str
) -> None:
    with pytest.raises(MapFileError) as info:
        await _load(db, SMALL.replace(*edit))
    assert expected in str(info.value)
    assert await _count(db, Area) == 0


async def test_ownership_import_invalid_yaml_names_the_line(db: Database) -> None:
    with pytest.raises(MapFileError, match="not valid YAML at line 4"):
        await _load(db, "areas:\n  - name: x\n    owners: [a\n  - name: y\n")


async def test_ownership_dry_run_reports_and_writes_nothing(db: Database) -> None:
    await _load(db, SMALL)
    changed = SMALL.replace("DM the owner", "Ask in #release")
    plan = await _load(db, changed, dry_run=True)
    assert not plan.applied
    assert "update area 'Release signing': contact: 'DM the owner' -> 'Ask in #release'" in (
        plan.summary()
    )
    async with db.sessions() as session:
        area = await repository.area_by_name(session=session, name="Release signing")
        assert area is not None and area.contact == "DM the owner"


async def test_ownership_prune_removes_areas_absent_from_file(db: Database) -> None:
    await _load(db, SMALL)
    only_first = SMALL.split("  - name: Phishing")[0] + SMALL.split("team: release\n", 2)[2]
    kept = await _load(db, only_first)
    assert await _count(db, Area) == 2 and kept.changes == []
    plan = await _load(db, only_first, prune=True)
    assert [c.describe() for c in plan.changes] == ["remove area 'Phishing'"]
    async with db.sessions() as session:
        assert await repository.area_by_name(session=session, name="Phishing") is None


async def export_map_text(db: Database) -> str:
    async with db.sessions() as session:
        return await export_map(session)


async def test_ownership_export_round_trip_is_stable(db: Database) -> None:
    await _load(db, EXAMPLE_MAP.read_text())
    first = await export_map_text(db)
    plan = await _load(db, first)
    assert plan.changes == [] and plan.unchanged == 31  # 23 areas + 8 teams
    assert await export_map_text(db) == first
    # same content as the source file (the export is sorted by name)
    source = yaml.safe_load(EXAMPLE_MAP.read_text())
    exported = yaml.safe_load(first)
    by_name = {a["name"]: a for a in exported["areas"]}
    for area in source["areas"]:
        for key, value in area.items():
            assert by_name[area["name"]][key] == value, (area["name"], key)


async def test_ownership_import_writes_audit_rows(db: Database) -> None:
    await _load(db, SMALL)
    await _load(db, SMALL.replace('"@security-oncall:example.org"', '"@new-oncall:example.org"'))
    async with db.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    creates = [r for r in rows if r.action == "create"]
    assert {r.subject for r in creates} == {"Release signing", "Phishing", "release"}
    update = rows[-1]
    assert (update.actor, update.source, update.action, update.field) == (
        "tester", "import", "update", "owners",
    )  # fmt: skip
    assert update.old_value == ["@security-oncall:example.org"]
    assert update.new_value == ["@new-oncall:example.org"]
    assert update.at == NOW
