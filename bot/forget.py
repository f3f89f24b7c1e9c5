"""`qunguan forget WXID`: erase a member. Their name and name history, tags, profile values, message counts
and the texts they typed go; rows others rely on (points ledger, orders, coupons, audit, moderation log) stay,
with the member's id replaced by a stable pseudonym, so sums and counts still add up. The opt-out and the
blacklist keep the real id: a member who asked for no messages is not messaged again, a spammer stays out.

Tables are found by their columns (abilities declare their own tables), so a new table with a `member_id` is
anonymised unless it is named in ERASED or KEPT below.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from bot.store.housekeeping import FINISHED, TEXTS
from bot.store.tables import AuditEntry, Member

ERASED = ("member_names", "member_tags", "profile_values", "message_days", "alert_throttle", "member_orders", "traces")
KEPT = ("opt_outs", "blacklist")  # the real id stays: no messages to who opted out, no way back for a spammer
WHO = ("member_id", "target_id", "staff_id", "by_member_id", "inviter_id", "redeemed_by", "by")
NAMES = {"member_name": "member_id", "staff_name": "staff_id"}  # a name column -> the id column it names
ACTOR = "cli"  # the audit's actor, as `qunguan rooms` writes it

_members = Member.__table__
_audit = AuditEntry.__table__


@dataclass(frozen=True)
class Who:
    """Who erases, as the audit row names them: the operator at the terminal, or a console session."""

    member_id: str
    role: str
    name: str = ""
    command: str = "遗忘"


CLI = Who(ACTOR, "owner", "qunguan forget")


def pseudonym(member_id: str) -> str:
    """The same for the same id, so a second `forget` (or the member's return and a new one) finds the first."""
    return "forgotten-" + hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:12]


@dataclass
class Erasure:
    member_id: str
    pseudonym: str
    erased: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    anonymised: dict[str, int] = field(default_factory=dict)  # table -> rows changed
    already: bool = False  # nothing left to erase, and the pseudonym is known: forgotten before

    @property
    def found(self) -> bool:
        return bool(self.erased or self.anonymised)


def _count(into: dict[str, int], table: Table, n: int) -> None:
    if n:
        into[table.name] = into.get(table.name, 0) + n


async def forget(conn: AsyncConnection, member_id: str, *, at: datetime, by: Who = CLI) -> Erasure:
    """Erase `member_id` in one transaction; audited (as done by `by`) when anything was erased."""
    done = Erasure(member_id, pseudonym(member_id))
    for kept in TEXTS:
        t = kept.table
        if t.name in ERASED:
            continue
        owned = t.c.member_id == member_id
        blank = await conn.execute(update(t).where(owned).values(kept.blank()))
        _count(done.anonymised, t, blank.rowcount)
    for table in SQLModel.metadata.sorted_tables:
        if table.name in ERASED and "member_id" in table.c:
            gone = await conn.execute(delete(table).where(table.c.member_id == member_id))
            _count(done.erased, table, gone.rowcount)
        elif table.name == "outbox":
            await _outbox(conn, table, done)
        elif table.name not in KEPT and table is not _members:
            await _anonymise(conn, table, done)
        elif table.name in KEPT and "member_name" in table.c:
            named = await conn.execute(
                update(table).where(table.c.member_id == member_id, table.c.member_name != "").values(member_name="")
            )
            _count(done.anonymised, table, named.rowcount)
    words = func.replace(_audit.c.args, member_id, done.pseudonym)  # `/加分 WXID 10` named them in the arguments
    named = await conn.execute(update(_audit).where(words != _audit.c.args).values(args=words))
    _count(done.anonymised, _audit, named.rowcount)
    await _merge_member(conn, done)
    if done.found:
        await _audited(conn, done, at, by)
    else:
        known = await conn.execute(select(_members.c.id).where(_members.c.id == done.pseudonym))
        done.already = known.first() is not None
    return done


async def _outbox(conn: AsyncConnection, table: Table, done: Erasure) -> None:
    """Sent messages to the member lose their name and text (they may quote the member); pending ones are left
    to go out as they are."""
    finished = and_(table.c.member_id == done.member_id, table.c.state.in_(FINISHED))
    await conn.execute(update(table).where(finished).values(text=""))
    mine = await conn.execute(
        update(table).where(table.c.member_id == done.member_id).values(member_id=done.pseudonym, member_name="")
    )
    _count(done.anonymised, table, mine.rowcount)


async def _anonymise(conn: AsyncConnection, table: Table, done: Erasure) -> None:
    """Every column naming the member gets the pseudonym (their name columns go blank). A row whose key would
    clash with one forgotten before (the member came back and was forgotten again) is deleted instead."""
    for column in (c for c in WHO if c in table.c):
        col = table.c[column]
        names = {n: "" for n, ids in NAMES.items() if ids == column and n in table.c}
        if col.primary_key:
            await _anonymise_keyed(conn, table, column, done)
            continue
        changed = await conn.execute(
            update(table).where(col == done.member_id).values({column: done.pseudonym, **names})
        )
        _count(done.anonymised, table, changed.rowcount)


async def _anonymise_keyed(conn: AsyncConnection, table: Table, column: str, done: Erasure) -> None:
    others = [c for c in table.primary_key.columns if c.name != column]
    rows = (await conn.execute(select(*others).where(table.c[column] == done.member_id))).all()
    for row in rows:
        same = [c == row._mapping[c.name] for c in others]
        clash = (
            await conn.execute(select(func.count()).select_from(table).where(table.c[column] == done.pseudonym, *same))
        ).scalar_one()
        mine = and_(table.c[column] == done.member_id, *same)
        if clash:
            await conn.execute(delete(table).where(mine))
            _count(done.erased, table, 1)
        else:
            await conn.execute(update(table).where(mine).values({column: done.pseudonym}))
            _count(done.anonymised, table, 1)


async def _merge_member(conn: AsyncConnection, done: Erasure) -> None:
    """The member row becomes the pseudonym's, nameless; points add to an earlier one's, so balances still sum."""
    row = (await conn.execute(select(_members).where(_members.c.id == done.member_id))).first()
    if row is None:
        return
    earlier = (await conn.execute(select(_members.c.points).where(_members.c.id == done.pseudonym))).first()
    if earlier is None:
        await conn.execute(update(_members).where(_members.c.id == done.member_id).values(id=done.pseudonym, name=""))
    else:
        await conn.execute(
            update(_members).where(_members.c.id == done.pseudonym).values(points=_members.c.points + row.points)
        )
        await conn.execute(delete(_members).where(_members.c.id == done.member_id))
    _count(done.anonymised, _members, 1)


async def _audited(conn: AsyncConnection, done: Erasure, at: datetime, by: Who) -> None:
    """The audit names the pseudonym, never the erased id."""
    await conn.execute(
        insert(_audit).values(
            at=at,
            member_id=by.member_id,
            member_name=by.name,
            role=by.role,
            command=by.command,
            args=done.pseudonym,
            target_id=done.pseudonym,
            result="ok",
            answer=summary(done),
        )
    )


def summary(done: Erasure) -> str:
    """What was erased, per table, in the operator's words (Chinese)."""
    parts = [f"删除 {t} {n} 行" for t, n in sorted(done.erased.items())]
    parts += [f"匿名化 {t} {n} 行" for t, n in sorted(done.anonymised.items())]
    return f"已遗忘成员，化名 {done.pseudonym}：" + "；".join(parts)
