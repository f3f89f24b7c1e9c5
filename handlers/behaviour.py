"""行为标签: counters of what members did, read from the other abilities' tables (`member.checkins`, `claims`,
`quiz_wins`, `invitees`, `messages_30d`, and the same names as segment keys), and `tag_each`, which tags a whole
segment in one statement: tags follow behaviour without a message or a nudge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema, model_validator
from sqlalchemy import ColumnElement, Index, ScalarSelect, func, literal, select

from bot.conditions import as_text
from bot.context import FieldContext, RunContext
from bot.playbook.types import WORD_SCHEMA, Params
from bot.registry import action, member_field, segment_filter
from bot.store import dialect
from bot.store.tables import Member, MessageDay, RoomMember
from bot.windows import Window, WindowEntry
from handlers.checkin import Checkin
from handlers.claim import KIND as CLAIM
from handlers.quiz import KIND as QUIZ
from handlers.segments import COMPARE, Segment, SegmentScope, run_segment
from handlers.tags import MemberTag

log = logging.getLogger("qunguan.behaviour")

_members = Member.__table__
_checkins = Checkin.__table__
_windows = Window.__table__
_entries = WindowEntry.__table__
_room_members = RoomMember.__table__
_message_days = MessageDay.__table__
_tags = MemberTag.__table__

# What the counters look a member up by, where the table's own key leads with another column (checkins and
# message_days lead with member_id already; room_members.inviter_id has its index in bot/store/tables.py).
Index("ix_window_entries_member", _entries.c.member_id, _entries.c.window_id)

MESSAGE_DAYS = 30  # member.messages_30d: today and the 29 local days before it

Counter = Callable[[ColumnElement[str], date], ScalarSelect[Any]]


def _checkins_of(member: ColumnElement[str], today: date) -> ScalarSelect[Any]:
    """Check-ins ever (one a local day at most)."""
    return select(func.count()).where(_checkins.c.member_id == member).scalar_subquery()


def _entries_of(kind: str, member: ColumnElement[str], *, won: bool = False) -> ScalarSelect[Any]:
    entries = _entries.join(_windows, _windows.c.id == _entries.c.window_id)
    where = [_entries.c.member_id == member, _windows.c.kind == kind, *([_entries.c.outcome == "won"] if won else [])]
    return select(func.count()).select_from(entries).where(*where).scalar_subquery()


def _claims_of(member: ColumnElement[str], today: date) -> ScalarSelect[Any]:
    """Coupon drops (抢券) taken part in: said the keyword while one was open, whether a coupon was left or not."""
    return _entries_of(CLAIM, member)


def _quiz_wins_of(member: ColumnElement[str], today: date) -> ScalarSelect[Any]:
    """Quizzes won (among the first correct answers)."""
    return _entries_of(QUIZ, member, won=True)


def _invitees_of(member: ColumnElement[str], today: date) -> ScalarSelect[Any]:
    """Members brought into a group, each counted once however often they left and came back or however many
    groups they were brought into; inviting yourself is nobody. Whoever brought a member back last has them."""
    c = _room_members.c
    invited = select(func.count(func.distinct(c.member_id))).where(c.inviter_id == member, c.member_id != member)
    return invited.scalar_subquery()


def _messages_30d_of(member: ColumnElement[str], today: date) -> ScalarSelect[Any]:
    """Messages in managed groups on the last 30 local days, today included (private chats with the bot are
    no group activity; a redelivered message counts once)."""
    c = _message_days.c
    since = today - timedelta(days=MESSAGE_DAYS - 1)
    return select(func.coalesce(func.sum(c.messages), 0)).where(c.member_id == member, c.day >= since).scalar_subquery()


COUNTERS: dict[str, Counter] = {
    "checkins": _checkins_of,
    "claims": _claims_of,
    "quiz_wins": _quiz_wins_of,
    "invitees": _invitees_of,
    "messages_30d": _messages_30d_of,
}


def _declare(name: str, counter: Counter) -> None:
    """`member.NAME` for templates, `expr:` and scenario `check:`, and the segment key NAME: one SQL for both."""

    @member_field(name)
    async def load(ctx: FieldContext, member_id: str) -> int:
        query = select(counter(literal(member_id), ctx.local_now().date()))
        return int((await ctx.conn.execute(query)).scalar_one())

    @segment_filter(name)
    def clause(value: tuple[str, int], scope: SegmentScope) -> ColumnElement[bool]:
        op, number = value
        return COMPARE[op](counter(_members.c.id, scope.local_today), number)


for _name, _counter in COUNTERS.items():
    _declare(_name, _counter)


class TagEachParams(Params):
    segment: Segment
    tag: Annotated[str, BeforeValidator(as_text), WithJsonSchema(WORD_SCHEMA)]

    @model_validator(mode="after")
    def _some_filter(self) -> TagEachParams:
        if not self.segment.model_fields_set:
            raise ValueError("'segment' needs at least one filter, like {lifecycle: dormant}")
        return self


@action("tag_each", schema=TagEachParams, primary="tag")
async def tag_each(ctx: RunContext, p: TagEachParams) -> None:
    """Give the tag to every member of the segment who lacks it, in one statement. Nothing is sent and no nudge
    recorded, so tagging never uses up a member's `for_each` reach or `not_nudged_days`. The segment is
    reached as `for_each` reaches it (a scheduled run: that group's members unless it names `rooms`)."""
    members = (await run_segment(ctx, p.segment)).order_by(None)
    rows = members.with_only_columns(_members.c.id, literal(p.tag), literal(ctx.now(), _tags.c.at.type))
    insert = dialect.insert_ignore(ctx.conn, _tags).from_select(["member_id", "tag", "at"], rows)
    tagged = (await ctx.conn.execute(insert)).rowcount
    log.info("playbook %s: tag_each gave %s to %d member(s)", ctx.playbook.id, p.tag, tagged)
