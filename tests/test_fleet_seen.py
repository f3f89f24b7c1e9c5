"""In a fleet every event id an account acted on carries the account, so an operator can tell which account saw
what (seen_events.account); outside a fleet the column stays empty, as before."""

from __future__ import annotations

import pytest
from backends import Backend
from fleet_pair import pair
from sqlalchemy import select

from bot.store.tables import SeenEvent
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")
SEEN = SeenEvent.__table__


async def test_each_account_s_events_are_marked_with_the_account(backend: Backend) -> None:
    async with pair(backend.database, {}) as (a, b):
        await a.say("u1", "早", room="r1", event_id="wx-a-1")
        await b.say("u1", "早", room="r1", event_id="wx-b-7")
        rows = await a.rows(select(SEEN.c.id, SEEN.c.account).order_by(SEEN.c.id))
        assert [tuple(r) for r in rows] == [("wx-a-1", "shop-a"), ("wx-b-7", "shop-b")]


async def test_outside_a_fleet_no_account_is_written(backend: Backend) -> None:
    async with TestBot.running({}, database=backend.database) as bot:
        await bot.say("u1", "早", room="r1", event_id="wx-1")
        rows = await bot.rows(select(SEEN.c.id, SEEN.c.account))
        assert [tuple(r) for r in rows] == [("wx-1", None)]
