"""Friendship is per account in a fleet (WeChat delivers a private message only from an account the member
added): each account's view in `friendships`, and members.friend kept as "a friend of some account of the shop",
which is what deciding between a private message and the group's @-mention needs; the outbox then picks the
account (bot/outbox/routing.py). Outside a fleet members.friend alone is the store, as before."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.fleet.tables import Friendship
from bot.store import dialect
from bot.store.tables import Member

_friends = Friendship.__table__
_members = Member.__table__


async def record(
    conn: AsyncConnection, account: str, member_id: str, friend: bool, at: datetime, *, unless_known: bool = False
) -> None:
    """The account says whether the member is its friend (`unless_known`: only where it said nothing yet); the
    member's shop-wide flag follows."""
    values = {"account": account, "member_id": member_id, "friend": friend, "at": at}
    if unless_known:
        await conn.execute(dialect.insert_ignore(conn, _friends), values)
    else:
        keys = ["account", "member_id"]
        await conn.execute(dialect.upsert(conn, _friends, values, keys, {"friend": friend, "at": at}))
    mine = _friends.c.member_id == _members.c.id
    await conn.execute(
        update(_members)
        .where(_members.c.id == member_id, exists().where(mine))
        .values(friend=exists().where(and_(mine, _friends.c.friend.is_(True))))
    )


async def accounts_of(conn: AsyncConnection, member_id: str) -> list[str]:
    """The accounts the member is a friend of, most recently confirmed first."""
    query = (
        select(_friends.c.account)
        .where(_friends.c.member_id == member_id, _friends.c.friend.is_(True))
        .order_by(_friends.c.at.desc(), _friends.c.account)
    )
    return [str(name) for name in (await conn.execute(query)).scalars()]
