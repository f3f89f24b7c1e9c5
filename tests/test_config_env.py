"""Secrets come from the environment: a database URL with a password need not sit in config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DATABASE_ENV, load_config

URL = "postgresql+asyncpg://qunguan:s3cret@db.internal:5432/shop"


def test_the_database_url_from_the_environment_wins_over_config_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.yaml").write_text("database: data/qunguan.db\n", "utf-8")
    config, _note = load_config(str(tmp_path / "config.yaml"))
    assert config.database_path == str(tmp_path / "data" / "qunguan.db")
    monkeypatch.setenv(DATABASE_ENV, URL)
    config, _note = load_config(str(tmp_path / "config.yaml"))
    assert config.database_path == URL


def test_the_environment_sets_the_database_without_any_config_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATABASE_ENV, URL)
    config, _note = load_config(None)
    assert config.database_path == URL
    monkeypatch.setenv(DATABASE_ENV, "  ")  # set but empty: as if unset
    config, _note = load_config(None)
    assert config.database_path == str(tmp_path / "data" / "qunguan.db")
