"""Round trips to PostgreSQL per event: each costs the bot about as much as a statement's own Python, so the hot
path fuses statements that follow each other (docs/hot-statements.md). Counted at asyncpg's protocol, inside the
engine's handling of each event (its savepoint and stages, not the batch's BEGIN, deferred rows and COMMIT), as
the difference between a burst of 15 and one of 5, so that what happens once per batch and group cancels out."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
from fleet_pair import ECHO, fleet
from sqlalchemy import event, func, select

from bot.fleet.accounts import run_as
from bot.testing import TestBot
from handlers.checkin import Checkin

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # the `backend` runs once: these open PostgreSQL

_COUNTING: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("counting", default=None)

CHECK_IN = {"checkin": ECHO["playbooks/checkin.yaml"]}  # a check-in and its reply


class RoundTrips:
    """asyncpg's protocol under a connection, counting each call that waits for the server's answer, when the
    task making it is counting."""

    WAITS = frozenset({"query", "prepare", "bind", "bind_execute", "bind_execute_many", "execute", "close_statement"})

    def __init__(self, protocol: object) -> None:
        self._protocol = protocol

    def __getattr__(self, name: str) -> object:
        counts = _COUNTING.get()
        if counts is not None and name in self.WAITS:
            counts[0] += 1
        return getattr(self._protocol, name)


async def per_event(bot: TestBot) -> float:
    """Round trips per first check-in of a member who spoke before (what a process records once per member, like
    a fleet account's view of their friendship, is behind), in bursts into one group."""
    engine = bot.bot.engine
    handle = engine._handle
    counts = [0]

    async def counted(*args: Any) -> Any:
        token = _COUNTING.set(counts)
        try:
            return await handle(*args)
        finally:
            _COUNTING.reset(token)

    def counting(dbapi_connection: Any, _record: object, _proxy: object) -> None:
        driver = dbapi_connection._connection
        if not isinstance(driver._protocol, RoundTrips):
            driver._protocol = RoundTrips(driver._protocol)

    event.listen(bot.bot.store.engine.sync_engine, "checkout", counting)
    engine._handle = counted  # type: ignore[method-assign]
    members = [f"m{i}" for i in range(22)]
    for member in members:
        await bot.seed(member, rooms=["r1"], joined=bot.clock.now())
    await bot.burst([bot.message(m, "早", room="r1") for m in members])  # what each member's first event records once
    await bot.burst([bot.message(m, "签到", room="r1") for m in members[:2]])  # every statement prepared
    spent = []
    for burst in (members[2:7], members[7:22]):
        counts[0] = 0
        await bot.burst([bot.message(m, "签到", room="r1") for m in burst])
        spent.append(counts[0])
    assert (await bot.rows(select(func.count()).select_from(Checkin.__table__)))[0][0] == 22
    return (spent[1] - spent[0]) / 10


async def test_a_first_check_in_is_four_round_trips(pg_url: str) -> None:
    """The event's savepoint; its seen mark with the member's activity, the day's count and the membership; the
    playbook run's savepoint; the check-in with its points and ledger entry."""
    async with TestBot.running(CHECK_IN, database=pg_url) as bot:
        assert await per_event(bot) == 4


async def test_a_first_check_in_by_a_fleets_speaker_is_six_round_trips(pg_url: str) -> None:
    """As one bot's, but the seen mark goes with the membership only (every account keeps it), and the speaker
    adds one: its lease with the event's key marked done. The activity is counted with the same statement as the
    member's last activity; the reply's sender is the speaker this event found, not read again."""
    config = run_as(fleet(), "shop-a")
    async with TestBot.running(CHECK_IN, database=pg_url, config=config) as bot:
        assert await per_event(bot) == 6
