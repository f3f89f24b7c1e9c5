"""Which account of a fleet sends each outbox row (`outbox.account`), chosen when the row is queued.

A row to a group goes from the group's speaker (bot/fleet/leases.py); with none, from this account if it is in
the group, else from another account in it (bot/fleet/account_rooms.py), else from this one. A private row goes
from an account the member is a friend of, the speaker of the event's group first, then this account; with
none, from this one (the run chose a private message because some account was a friend when it decided). A
friend acceptance goes from this account, which the request came to (its friends stage has just recorded the
member as its friend). Outside a fleet every row is 'default' and nothing is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config
from bot.fleet import friendships
from bot.fleet.account_rooms import accounts_in
from bot.fleet.leases import speaker_of

ORIGIN = "origin_room"  # a row's hint (not a column): the group of the event that queued it


def hint(rows: list[dict[str, Any]], config: Config, room_id: str | None) -> list[dict[str, Any]]:
    """Mark rows with the event's group, for a fleet's routing of private rows (no-op outside a fleet)."""
    if config.accounts and room_id is not None:
        for row in rows:
            row[ORIGIN] = room_id
    return rows


async def assign(
    conn: AsyncConnection,
    config: Config,
    rows: Sequence[dict[str, Any]],
    now: datetime,
    *,
    speaker: tuple[str, str] | None = None,
) -> None:
    """Set each row's `account` (in place) and drop the hints; outside a fleet, nothing to do. `speaker`: (group,
    account) the caller's transaction found speaking for that group, whose lease it holds until it commits: not
    read again."""
    if not config.accounts:
        return
    me = config.account
    speakers: dict[str, str | None] = dict([speaker]) if speaker is not None else {}

    async def speaker(room_id: str) -> str | None:
        if room_id not in speakers:
            speakers[room_id] = await speaker_of(conn, room_id, now)
        return speakers[room_id]

    for row in rows:
        origin = row.pop(ORIGIN, None)
        if row["room_id"] is not None:
            row["account"] = await _group_sender(conn, me, row["room_id"], await speaker(row["room_id"]))
        elif row["member_id"] is not None and not row["accept"]:
            preferred = await speaker(origin) if origin is not None else None
            row["account"] = _private_sender(me, preferred, await friendships.accounts_of(conn, row["member_id"]))
        else:
            row["account"] = me


async def _group_sender(conn: AsyncConnection, me: str, room_id: str, speaker: str | None) -> str:
    if speaker is not None:
        return speaker
    present = await accounts_in(conn, room_id)
    if me in present or not present:
        return me
    return present[0]


def _private_sender(me: str, preferred: str | None, friends: list[str]) -> str:
    for account in (preferred, me, *friends):
        if account is not None and account in friends:
            return account
    return me
