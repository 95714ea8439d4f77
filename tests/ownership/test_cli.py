"""``helpdesk-bot owners import|export`` and ``handbook`` end to end (SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.ownership.helpers import EXAMPLE_MAP


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "matrix": {
                    "homeserver": "http://localhost:8008",
                    "user_id": "@bot:example.org",
                    "password": "x",
                },
                "rooms": {"helpdesk": "#helpdesk:example.org", "triage": "#triage:example.org"},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"},
                "ownership": {"fallback_contact": "the security team in #triage"},
            }
        )
    )
    return path


def test_ownership_cli_import_dry_run_export_handbook(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config)]
    assert main(["owners", "import", str(EXAMPLE_MAP), "--dry-run", *cfg]) == 0
    assert "dry run, nothing written: 31 to create" in capsys.readouterr().out
    out = tmp_path / "export.yaml"
    assert main(["owners", "export", str(out), *cfg]) == 0
    assert yaml.safe_load(out.read_text())["areas"] == []

    assert main(["owners", "import", str(EXAMPLE_MAP), *cfg]) == 0
    assert "imported: 31 to create" in capsys.readouterr().out
    assert main(["owners", "export", str(out), *cfg]) == 0
    assert len(yaml.safe_load(out.read_text())["areas"]) == 23
    assert main(["owners", "import", str(out), *cfg]) == 0
    assert "0 to create, 0 to update, 0 to remove, 31 unchanged" in capsys.readouterr().out

    book = tmp_path / "handbook.md"
    assert main(["handbook", "--out", str(book), *cfg]) == 0
    text = book.read_text()
    assert text.startswith("# Who to contact: the responsibilities map")
    assert "| release | `@release-champion:example.org` |" in text
    release = text.index("## release")
    assert text.index("### Release signing 🔒", release) > release
    assert "- **Owners:** `@release-lead:example.org`" in text
    assert "- **How to contact:** Direct message the owner; signing requests need two" in text
    assert "ask the security team in #triage" in text


def test_ownership_cli_import_error_exits_1_naming_the_entry(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("areas:\n  - name: DNS\n    owners: [infra-lead]\n")
    assert main(["owners", "import", str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert "areas entry 1 \"DNS\" (line 2), field 'owners' (line 3)" in err
