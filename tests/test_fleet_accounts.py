"""A fleet's accounts in config.yaml: which one a process runs, its own sending limits, and that it says it is
alive in the shared database."""

from __future__ import annotations

from pathlib import Path

import pytest
from backends import Backend
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, load_config
from bot.fleet.accounts import AccountError, run_as
from bot.fleet.tables import AccountPresence
from bot.playbook.errors import ProblemsError
from bot.store import Store
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

FLEET = """
sending: {daily_limit: 400}
accounts:
  shop-a: {endpoint: "127.0.0.1:9001", daily_limit: 150}
  shop-b: {}
"""


def _config(tmp_path: Path, text: str = FLEET) -> Config:
    (tmp_path / "config.yaml").write_text(text, "utf-8")
    return load_config(str(tmp_path / "config.yaml"))[0]


def test_each_account_gets_its_own_endpoint_and_limits_over_the_shop_s(tmp_path: Path) -> None:
    a = run_as(_config(tmp_path), "shop-a")
    b = run_as(_config(tmp_path), "shop-b")
    assert (a.account, a.wechaty.endpoint, a.sending.daily_limit) == ("shop-a", "127.0.0.1:9001", 150)
    assert (b.account, b.wechaty.endpoint, b.sending.daily_limit) == ("shop-b", "", 400)


def test_a_fleet_of_several_accounts_needs_a_known_account_named(tmp_path: Path) -> None:
    with pytest.raises(AccountError, match="--account"):
        run_as(_config(tmp_path), None)
    with pytest.raises(AccountError, match="shop-a, shop-b"):
        run_as(_config(tmp_path), "shop-c")


def test_outside_a_fleet_the_process_is_the_default_account_and_a_name_is_refused(tmp_path: Path) -> None:
    assert run_as(Config(), None).account == "default"
    with pytest.raises(AccountError, match="accounts"):
        run_as(Config(), "shop-a")


def test_a_bad_account_name_is_reported_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        _config(tmp_path, "accounts:\n  Shop A: {}\n")
    assert "config.yaml:2" in str(caught.value.problems[0])


def test_run_names_the_accounts_when_none_is_chosen(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "config.yaml")])
    assert result.exit_code == 2
    assert "shop-a, shop-b" in result.output


async def _presence(database: str) -> list[tuple[str, str]]:
    store = await Store.open(database)
    try:
        async with store.unit() as conn:
            rows = (await conn.execute(select(AccountPresence.__table__))).all()
    finally:
        await store.close()
    return [(row.account, row.status) for row in rows]


async def test_a_fleet_process_says_it_is_alive_and_that_it_stopped(tmp_path: Path, backend: Backend) -> None:
    config = run_as(_config(tmp_path), "shop-a")
    bot = await TestBot.create({}, config=config, database=backend.database)
    assert bot.bot.fleet is not None
    await bot.bot.fleet.beat()
    assert await _presence(backend.database) == [("shop-a", "online")]
    await bot.close()
    assert await _presence(backend.database) == [("shop-a", "offline")]


async def test_a_process_outside_a_fleet_has_no_fleet_duties(backend: Backend) -> None:
    async with TestBot.running({}, database=backend.database) as bot:
        assert bot.bot.fleet is None
    assert await _presence(backend.database) == []


def test_an_account_s_view_keeps_the_shop_s_config_for_reading_the_other_accounts(tmp_path: Path) -> None:
    shop = _config(tmp_path)
    a = run_as(shop, "shop-a")
    assert a.shop.sending.daily_limit == 400  # what shop-b gets, read from shop-a's process (console, fleet)
    assert run_as(a.shop, "shop-b").sending.daily_limit == 400
    assert run_as(a.shop, "shop-a").sending.daily_limit == 150
