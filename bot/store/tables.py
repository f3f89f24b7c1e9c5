"""Every table Qunguan keeps. Times are stored as UTC (SQLModel's UTCDateTime);
local days are computed by the caller in config's timezone.

Invariants live in the schema where a database can hold them: one check-in per
member per local day, one `once:` use per period, one tag per name.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy.types import Date
from sqlmodel import Field, SQLModel


class Setting(SQLModel, table=True):
    """Small persisted key/values: schema version, simulator clock offset, ..."""

    __tablename__ = "settings"
    key: str = Field(primary_key=True)
    value: str


class Member(SQLModel, table=True):
    __tablename__ = "members"
    id: str = Field(primary_key=True)
    name: str = ""
    points: int = 0  # kept equal to the ledger sum in the same transaction
    first_seen: datetime
    last_active: datetime | None = Field(default=None, index=True)
    friend: bool | None = None  # the bot's WeChat friend, as the platform last said (None: it never said)


class Room(SQLModel, table=True):
    __tablename__ = "rooms"
    id: str = Field(primary_key=True)
    topic: str = Field(default="", index=True)
    first_seen: datetime
    last_active: datetime | None = None


class RoomBinding(SQLModel, table=True):
    """A group the bot manages, bound by its id (/绑定 in it, or `qunguan rooms bind ID`): a topic anyone can
    copy never makes a group managed (bot/rooms.py). config.yaml's `rooms:` entries with `id:` need no row."""

    __tablename__ = "room_bindings"
    room_id: str = Field(primary_key=True)
    entry_topic: str | None = None  # the config.yaml `rooms:` candidate (by topic) it was bound as: its tags
    by_member_id: str  # who bound it: a WeChat id, or "cli" for `qunguan rooms bind`
    at: datetime


class RoomMember(SQLModel, table=True):
    __tablename__ = "room_members"
    room_id: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True, index=True)
    joined_at: datetime
    left_at: datetime | None = None
    inviter_id: str | None = None
    active: bool = True


class SeenEvent(SQLModel, table=True):
    """Event ids already acted on: a redelivered event is dropped here."""

    __tablename__ = "seen_events"
    id: str = Field(primary_key=True)
    at: datetime = Field(index=True)


class PointsEntry(SQLModel, table=True):
    """The append-only points ledger; members.points is its running sum."""

    __tablename__ = "points_ledger"
    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(index=True)
    delta: int
    balance: int
    reason: str = ""
    playbook_id: str = ""
    at: datetime


class Checkin(SQLModel, table=True):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day", name="uq_checkin_member_day"),)
    id: int | None = Field(default=None, primary_key=True)
    member_id: str
    day: date = Field(sa_column=Column(Date, nullable=False))
    streak: int
    points: int
    at: datetime


class OnceMark(SQLModel, table=True):
    """One row per use of a `once:` condition; the key makes a second use fail."""

    __tablename__ = "once_marks"
    playbook_id: str = Field(primary_key=True)
    scope_key: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    at: datetime


class Cooldown(SQLModel, table=True):
    __tablename__ = "cooldowns"
    playbook_id: str = Field(primary_key=True)
    scope_key: str = Field(primary_key=True)
    last_at: datetime


class MemberTag(SQLModel, table=True):
    __tablename__ = "member_tags"
    __table_args__ = (Index("ix_member_tags_tag", "tag"),)
    member_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)
    at: datetime


class NameChange(SQLModel, table=True):
    """Display names a member went by: people rename themselves, the WeChat id stays."""

    __tablename__ = "member_names"
    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(index=True)
    name: str
    at: datetime


class TopicChange(SQLModel, table=True):
    """Topics a room had: `rooms:` and `say: {room:}` may name an old one while staff catch up."""

    __tablename__ = "room_topics"
    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    topic: str
    by_member_id: str | None = None
    at: datetime


class Coupon(SQLModel, table=True):
    """An issued coupon. `seq` numbers a member's coupons of one batch (1..per_member): the unique key
    holds the per-member limit in the database, also when two events issue at once."""

    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("batch_id", "member_id", "seq", name="uq_coupon_member_seq"),)
    code: str = Field(primary_key=True)
    batch_id: str
    title: str  # as declared when issued: the customer's coupon keeps its name if the batch is edited
    member_id: str = Field(index=True)
    seq: int
    issued_at: datetime
    expires_at: datetime | None = None
    playbook_id: str = ""
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None


class CouponStock(SQLModel, table=True):
    """How many codes of a batch are out; a conditional UPDATE never lets it pass the declared stock."""

    __tablename__ = "coupon_stock"
    batch_id: str = Field(primary_key=True)
    issued: int = 0


class Nudge(SQLModel, table=True):
    """A member reached by a `for_each` fan-out (or kept back as holdout, so the effect can be measured)."""

    __tablename__ = "nudges"
    __table_args__ = (Index("ix_nudges_member_at", "member_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    member_id: str
    playbook_id: str
    holdout: bool = False
    at: datetime


class OptOut(SQLModel, table=True):
    """Members who said 退订: no `dm` or `for_each` messages until they say 订阅."""

    __tablename__ = "opt_outs"
    member_id: str = Field(primary_key=True)
    at: datetime


class Window(SQLModel, table=True):
    """A time-boxed listening window in a group: a quiz waiting for answers, a coupon drop (抢券)."""

    __tablename__ = "windows"
    __table_args__ = (Index("ix_windows_open", "closed_at", "closes_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    room_id: str = Field(index=True)
    playbook_id: str
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None
    data: str = "{}"  # JSON: what the ability needs (question, answers, batch, keyword, ...)


class WindowEntry(SQLModel, table=True):
    """One member's turn in a window; the key makes a second answer or claim a no-op in the database."""

    __tablename__ = "window_entries"
    window_id: int = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    outcome: str  # won / late / sold_out ...
    rank: int
    at: datetime


class OutboxMessage(SQLModel, table=True):
    """One message the bot decided to send, written in the transaction that decided it (bot/outbox).

    state: pending -> sending (committed before the platform is called) -> sent | failed, or back to
    pending for a retry. Rows found `sending` at start become `unknown` and are never resent: WeChat
    cannot tell whether they went out, and a message sent twice is worse than one in doubt.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_queue", "state", "priority", "id"), Index("ix_outbox_sent_at", "sent_at"))
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True)  # event id / playbook / part / index: one row per decision, ever
    kind: str  # reply | welcome | notice | broadcast
    priority: int  # 0 replies, 1 welcomes and notices, 2 scheduled and broadcast
    event_id: str
    playbook_id: str = ""
    room_id: str | None = None
    room_topic: str = ""
    member_id: str | None = None
    member_name: str = ""
    mentions: str = "[]"  # JSON [[id, name], ...]
    invite: bool = False
    accept: bool | None = None  # accept the friend request of the event (sent before its other rows go)
    text: str = ""
    created_at: datetime
    not_before: datetime
    expires_at: datetime | None = None  # not sent after this (a playbook's `expires:`): state 'expired'
    state: str = "pending"
    attempts: int = 0  # tries that reached the platform and were not refused for pacing
    last_error: str | None = None
    platform_id: str | None = None
    sent_at: datetime | None = None
    merged_into: int | None = None  # a welcome sent as part of this row's message (one platform send)
    reply_to: str | None = None  # the member a reply answers (fair turns between members); None for other kinds


class AuditEntry(SQLModel, table=True):
    """Every staff command and every refusal: who (and as what role), what, where, and what came of it."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    member_id: str
    member_name: str = ""
    role: str
    command: str
    args: str = ""
    room_id: str | None = None
    target_id: str | None = None  # the member the command was about (/加分, /标签, /成员, /核销's customer)
    result: str  # ok / refused / usage / failed / error, or the command's own outcome (/核销: unknown, already, ...)
    answer: str = ""


class PlaybookSwitch(SQLModel, table=True):
    """A playbook switched on or off by staff (/启用, /停用): it wins over the file's `enabled:`, across restarts."""

    __tablename__ = "playbook_switches"
    playbook_id: str = Field(primary_key=True)
    enabled: bool
    by_member_id: str
    at: datetime


class ReloadRequest(SQLModel, table=True):
    """`qunguan reload` asks the running bot(s) sharing this database to re-read their playbooks."""

    __tablename__ = "reload_requests"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    answered_at: datetime | None = None
    result: str = ""


class Broadcast(SQLModel, table=True):
    """A staff /群发, previewed; it is queued only when the same staff member says /确认 in time."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_staff", "staff_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    staff_id: str
    staff_name: str = ""
    text: str
    selector: str = ""  # tag:NAME, or empty for every managed room
    rooms: int
    members: int
    created_at: datetime
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None  # replaced by a newer /群发 of the same staff member


class PlaybookVersion(SQLModel, table=True):
    """A playbook file's text, kept each time it loaded changed: a path's newest row is its last good version, which
    runs while the file has errors (bot/reload.py); its rows are the file's history, by path and time."""

    __tablename__ = "playbook_versions"
    __table_args__ = (Index("ix_playbook_versions_path_at", "path", "at"), Index("ix_playbook_versions_at", "at"))
    id: int | None = Field(default=None, primary_key=True)
    path: str  # inside the playbooks folder, with '/': playbooks/coupons/drop.yaml is 'coupons/drop.yaml'
    text: str
    hash: str  # SHA-256 of the text as UTF-8, hex
    at: datetime
    loaded_by: str  # "start-up", the WeChat id of the staff member who said /重载, "qunguan reload", "watch"
