"""The wechaty connector remembers names, topics and friend flags for a while: never without bound, and
"a while" is measured by the connector's clock (the virtual clock here: nothing sleeps, no wall clock).

The puppet service is faked at the edge (its payload lookups, counted); everything above it is the connector.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.clock import VirtualClock
from bot.connectors.wechaty import WechatyConnector
from bot.connectors.wechaty.lookups import CACHE_SECONDS, MAX_CONTACTS, MAX_ROOMS
from bot.events import Event, MemberLeft

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class Puppet:
    """The puppet service: answers payload lookups and counts them."""

    _puppet_stub = object()  # connected

    def __init__(self) -> None:
        self.lookups: Counter[str] = Counter()

    async def contact_payload(self, contact_id: str) -> Any:
        self.lookups[contact_id] += 1
        return SimpleNamespace(id=contact_id, name=f"name-{contact_id}", friend=True)

    async def room_payload(self, room_id: str) -> Any:
        self.lookups[room_id] += 1
        return SimpleNamespace(id=room_id, topic=f"topic-{room_id}")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(AT)


@pytest.fixture
def puppet() -> Puppet:
    return Puppet()


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def connector(clock: VirtualClock, puppet: Puppet, events: list[Event], tmp_path: Path) -> WechatyConnector:
    """Linked to the fake puppet service, handing what it hears to `events`."""
    connector = WechatyConnector(endpoint="127.0.0.1:1", token="insecure_unit", cache_dir=tmp_path, clock=clock)
    connector._link._puppet = puppet

    async def emit(event: Event) -> None:
        events.append(event)

    connector._emit = emit
    return connector


async def leave(connector: WechatyConnector, room_id: str, member_id: str) -> None:
    """The puppet service reports that a member left a room (the connector looks up both)."""
    payload = SimpleNamespace(room_id=room_id, removed_ids=[member_id], remover_id=member_id, timestamp=0)
    await connector._handle("room-leave", payload)


async def test_a_friend_flag_is_looked_up_again_once_the_clock_says_it_is_old(
    connector: WechatyConnector, puppet: Puppet, clock: VirtualClock
) -> None:
    assert await connector.is_friend("u1") and await connector.is_friend("u1")
    assert puppet.lookups["u1"] == 1
    clock.set(AT + timedelta(seconds=CACHE_SECONDS - 1))
    assert await connector.is_friend("u1")
    assert puppet.lookups["u1"] == 1
    clock.set(AT + timedelta(seconds=CACHE_SECONDS + 1))
    assert await connector.is_friend("u1")
    assert puppet.lookups["u1"] == 2


async def test_a_room_topic_is_looked_up_again_once_the_clock_says_it_is_old(
    connector: WechatyConnector, puppet: Puppet, clock: VirtualClock, events: list[Event]
) -> None:
    await leave(connector, "r1@chatroom", "u1")
    await leave(connector, "r1@chatroom", "u2")
    assert puppet.lookups["r1@chatroom"] == 1
    clock.set(AT + timedelta(seconds=CACHE_SECONDS + 1))
    await leave(connector, "r1@chatroom", "u3")
    assert puppet.lookups["r1@chatroom"] == 2
    assert [e.room.topic for e in events if isinstance(e, MemberLeft)] == ["topic-r1@chatroom"] * 3


async def test_many_members_do_not_grow_the_contact_cache_past_its_size(
    connector: WechatyConnector, puppet: Puppet
) -> None:
    for i in range(2 * MAX_CONTACTS):
        await connector.is_friend(f"u{i}")
    assert len(connector._lookups.contacts) <= MAX_CONTACTS
    await connector.is_friend(f"u{2 * MAX_CONTACTS - 1}")  # the latest is still known ...
    assert puppet.lookups[f"u{2 * MAX_CONTACTS - 1}"] == 1
    await connector.is_friend("u0")  # ... the first made room for the others
    assert puppet.lookups["u0"] == 2


async def test_many_groups_do_not_grow_the_room_cache_past_its_size(
    connector: WechatyConnector, events: list[Event]
) -> None:
    for i in range(2 * MAX_ROOMS):
        await leave(connector, f"r{i}@chatroom", "u1")
    assert len(connector._lookups.rooms) <= MAX_ROOMS
    assert len(events) == 2 * MAX_ROOMS  # every event still delivered, with its group's topic
    assert events[-1].room.topic == f"topic-r{2 * MAX_ROOMS - 1}@chatroom"


async def test_old_entries_leave_the_caches_as_time_passes(connector: WechatyConnector, clock: VirtualClock) -> None:
    """A bot runs for months: members and groups seen once must not stay in memory forever."""
    for i in range(300):
        await leave(connector, f"r{i}@chatroom", f"u{i}")
    clock.set(AT + timedelta(seconds=CACHE_SECONDS + 1))
    await leave(connector, "r-new@chatroom", "u-new")
    assert (len(connector._lookups.contacts), len(connector._lookups.rooms)) == (1, 1)
