"""The send governor is per account (WeChat limits accounts, not shops): each account's daily limit counts its own
sends, and a pause after WeChat refused one account leaves the others sending; each account's breaker is stored
under its own key for the console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from backends import Backend
from fleet_pair import fleet, pair, present
from sqlalchemy import select

from bot.connectors.base import SendRefused
from bot.connectors.memory import MemoryConnector
from bot.events import Outgoing
from bot.fleet.accounts import run_as
from bot.outbox import views
from bot.outbox.rows import TABLE
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")
S = timedelta(seconds=1)

WELCOME = {
    "playbooks/welcome.yaml": """
id: welcome
when:
  - join: {}
do:
  - reply: 欢迎 {{ member.name }}
"""
}


class Refusing(MemoryConnector):
    """WeChat refuses every send of this account as too frequent."""

    async def send(self, message: Outgoing) -> str | None:
        raise SendRefused("操作过于频繁")


async def test_an_account_at_its_daily_limit_does_not_stop_another(backend: Backend) -> None:
    config = fleet(daily_limit=2, gap="1s", room_gap="1s", welcome_batch_max=1)
    async with pair(backend.database, WELCOME, config=config, names=("shop-a", "shop-a"), governor=True) as (a, _):
        await present(a, "r1", "shop-a")
        for member in ("u1", "u2", "u3"):
            await a.join(member, "r1")
            await a.advance(S * 5)
        assert [m.text for m in a.sent] == ["欢迎 u1", "欢迎 u2"]  # the third waits for tomorrow
        # shop-b starts now, on the same database and day: shop-a's two sends are not its own.
        b = await TestBot.create(
            WELCOME, config=run_as(config, "shop-b"), database=backend.database, clock=a.clock, governor=True
        )
        try:
            await present(b, "r2", "shop-b")
            await b.join("u4", "r2")
            await b.join("u5", "r2")
            await b.advance(S * 5)
            assert [m.text for m in b.sent] == ["欢迎 u4", "欢迎 u5"]
        finally:
            await b.close()


async def test_a_pause_of_one_account_leaves_the_other_sending_and_each_breaker_is_its_own(
    backend: Backend,
) -> None:
    config = fleet(refused_pause="10m", welcome_batch_max=1)
    async with pair(backend.database, WELCOME, config=config, first={"connector": Refusing()}, governor=True) as (a, b):
        await present(a, "r1", "shop-a")
        await present(a, "r2", "shop-b")
        await a.join("u1", "r1")
        await b.join("u2", "r2")
        await a.advance(S * 60)
        await b.join("u3", "r2")
        await b.advance(S * 60)
        assert [m.text for m in b.sent] == ["欢迎 u2", "欢迎 u3"]  # shop-a's pause is not shop-b's
        states = await a.rows(select(TABLE.c.account, TABLE.c.state).order_by(TABLE.c.id))
        assert [tuple(r) for r in states] == [("shop-a", "pending"), ("shop-b", "sent"), ("shop-b", "sent")]
        now = a.clock.now()
        seen = {}
        async with a.bot.store.unit() as conn:
            for name in ("shop-a", "shop-b"):
                account = run_as(config, name)
                seen[name] = await conn.run_sync(lambda sync, c=account: views.summary(sync, c, now))
        assert seen["shop-a"]["governor"]["paused"] is True
        assert seen["shop-b"]["governor"]["paused"] is False
        assert (seen["shop-a"]["today"]["sent"], seen["shop-b"]["today"]["sent"]) == (0, 2)
