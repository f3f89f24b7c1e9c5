"""Each account of a fleet reaches its own Wechaty puppet service: its own token and endpoint from the environment
(or its `accounts:` entry), its own wechaty cache; a missing one is named in the operator's error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.connectors.wechaty import ConnectorError, WechatyConnector
from bot.fleet.accounts import run_as

FLEET = """
wechaty: {endpoint: "shop.example:9000"}
accounts:
  shop-a: {endpoint: "a.example:9001"}
  shop-b: {}
"""


def _fleet(tmp_path: Path, account: str) -> Config:
    (tmp_path / "config.yaml").write_text(FLEET, "utf-8")
    return run_as(load_config(str(tmp_path / "config.yaml"))[0], account)


def test_each_account_takes_its_own_token_and_endpoint_from_the_environment(tmp_path: Path) -> None:
    env = {
        "WECHATY_PUPPET_SERVICE_TOKEN_SHOP_A": "tok-a-7f3q9z",
        "WECHATY_PUPPET_SERVICE_TOKEN": "tok-shop-2k8w1x",
        "WECHATY_PUPPET_SERVICE_ENDPOINT_SHOP_B": "b.example:9002",
        "WECHATY_PUPPET_SERVICE_ENDPOINT": "env.example:9003",
    }
    db = str(tmp_path / "qunguan.db")
    a = WechatyConnector.from_config(_fleet(tmp_path, "shop-a"), database=db, env=env)
    b = WechatyConnector.from_config(_fleet(tmp_path, "shop-b"), database=db, env=env)
    assert (a._link.token, a._link.endpoint) == ("tok-a-7f3q9z", "a.example:9001")  # its entry over the shop's env
    assert (b._link.token, b._link.endpoint) == ("tok-shop-2k8w1x", "b.example:9002")  # the shop's token by default
    assert a._link.cache_dir != b._link.cache_dir  # two accounts on one machine never share wechaty's files
    assert {a._link.cache_dir.parent, b._link.cache_dir.parent} == {tmp_path}


def test_an_account_without_an_endpoint_of_its_own_uses_the_shop_s(tmp_path: Path) -> None:
    env = {"WECHATY_PUPPET_SERVICE_TOKEN_SHOP_B": "tok-b-5m1n0v"}
    b = WechatyConnector.from_config(_fleet(tmp_path, "shop-b"), database=str(tmp_path / "q.db"), env=env)
    assert b._link.endpoint == "shop.example:9000"
    env["WECHATY_PUPPET_SERVICE_ENDPOINT"] = "env.example:9003"
    b = WechatyConnector.from_config(_fleet(tmp_path, "shop-b"), database=str(tmp_path / "q.db"), env=env)
    assert b._link.endpoint == "env.example:9003"


def test_a_missing_token_names_the_account_s_variable(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as caught:
        WechatyConnector.from_config(_fleet(tmp_path, "shop-a"), database=str(tmp_path / "q.db"), env={})
    assert "WECHATY_PUPPET_SERVICE_TOKEN_SHOP_A" in str(caught.value)
    assert "shop-a" in str(caught.value) and "没有设置环境变量" in str(caught.value)


def test_outside_a_fleet_the_shop_s_variables_and_cache_are_as_before(tmp_path: Path) -> None:
    env = {"WECHATY_PUPPET_SERVICE_TOKEN": "tok-one-4r6y2u", "WECHATY_PUPPET_SERVICE_ENDPOINT": "env.example:1"}
    one = WechatyConnector.from_config(Config(), database=str(tmp_path / "q.db"), env=env)
    assert (one._link.token, one._link.endpoint, one._link.cache_dir) == (
        "tok-one-4r6y2u",
        "env.example:1",
        tmp_path / ".wechaty",
    )
    with pytest.raises(ConnectorError, match="WECHATY_PUPPET_SERVICE_TOKEN is not set"):
        WechatyConnector.from_config(Config(), database=str(tmp_path / "q.db"), env={})
