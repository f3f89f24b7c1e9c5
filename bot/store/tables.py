"""The machinery's tables: settings, members and rooms, bindings, seen events, `once:` and cooldown marks,
opt-outs, the outbox, the audit, playbook switches, reload requests and playbook versions. An ability declares
its own tables beside its code (handlers/checkin.py: `checkins`; handlers/coupons.py; ...; the windows' in
bot/windows.py); migrations load the abilities first, so every database gets every table
(bot/store/migrations.py).

Times are stored as UTC (SQLModel's UTCDateTime); local days are computed by the caller in config's timezone.
Invariants live in the schema where a database can hold them: one check-in per member per local day, one
`once:` use per period, one tag per name.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Index
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
    # No index: every message rewrites it, and an index would move its entry each time (a page written per
    # message) for an ordering only a console list uses, which scans the table in milliseconds instead.
    last_active: datetime | None = None
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
    # Joins per day, the funnel and cohorts (the console's dashboard) read joins in a span: covering, so the
    # members who joined are found in the index alone, never by a lookup of each row.
    __table_args__ = (Index("ix_room_members_joins", "joined_at", "room_id", "member_id"),)
    room_id: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True, index=True)
    joined_at: datetime
    left_at: datetime | None = Field(default=None, index=True)
    inviter_id: str | None = Field(default=None, index=True)  # referrals
    active: bool = True


class MessageDay(SQLModel, table=True):
    """Group messages a member sent on one local day (`member.messages_30d`): one row per member and day, counted
    up where activity is recorded, so the hot path writes one statement; pruned after 90 days."""

    __tablename__ = "message_days"
    __table_args__ = (Index("ix_message_days_day", "day"),)
    member_id: str = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    messages: int = 1


class SeenEvent(SQLModel, table=True):
    """Event ids already acted on: a redelivered event is dropped here."""

    __tablename__ = "seen_events"
    id: str = Field(primary_key=True)
    at: datetime = Field(index=True)
    account: str | None = None  # the fleet account that saw it (None outside a fleet)


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


class OptOut(SQLModel, table=True):
    """Members who said 退订: no `dm` or `for_each` messages until they say 订阅."""

    __tablename__ = "opt_outs"
    member_id: str = Field(primary_key=True)
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
    remove: bool | None = None  # not a message: remove the member from the room (`remove`, `blacklist`)
    announce: bool | None = None  # not a message: set the text as the room's group announcement (`announce`)
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
    account: str = Field(default="default", sa_column_kwargs={"server_default": "default"})  # who sends it


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
    account: str | None = None  # in a fleet, `qunguan reload` leaves a row per account, answered by its process


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
