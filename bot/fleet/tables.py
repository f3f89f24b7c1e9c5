"""What a fleet keeps in the shared database. Loaded with the machinery's tables (bot/store/migrations.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class AccountPresence(SQLModel, table=True):
    """Each account's process: alive while its heartbeat is recent (`qunguan fleet`, the console, alerts)."""

    __tablename__ = "fleet_accounts"
    account: str = Field(primary_key=True)
    status: str  # online | offline (stopped) | logged_out | refused (WeChat refused the account)
    reason: str = ""  # WeChat's words when logged out or refused
    self_id: str = ""  # the account's own WeChat id, once logged in
    host: str = ""
    pid: int = 0
    started_at: datetime
    heartbeat_at: datetime


class SpeakerLease(SQLModel, table=True):
    """The one account that speaks for a group (acts on its events and sends to it) until `expires_at`; renewed on
    each heartbeat, taken over by another account in the group once it has expired (bot/fleet/leases.py)."""

    __tablename__ = "speaker_leases"
    __table_args__ = (Index("ix_speaker_leases_account", "account"),)
    room_id: str = Field(primary_key=True)
    account: str
    since: datetime
    expires_at: datetime


class HeldEvent(SQLModel, table=True):
    """A group event as every account in the group saw it, under a key that does not depend on the account (group,
    sender, text, time): the speaker marks it `done` in the transaction that acted on it; the others keep the
    event itself, so that a new speaker acts on what the old one never committed."""

    __tablename__ = "held_events"
    __table_args__ = (Index("ix_held_events_room_at", "room_id", "at"),)
    key: str = Field(primary_key=True)
    room_id: str
    at: datetime
    account: str  # the first account that held it
    event: str = ""  # the event as JSON (bot/events.py), kept by accounts that are not the speaker
    done: bool = False


class ScheduleFire(SQLModel, table=True):
    """A scheduled playbook fired for a group at a time: the key lets only one process of the fleet fire it."""

    __tablename__ = "schedule_fires"
    playbook_id: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True)
    due_at: datetime = Field(primary_key=True)
    account: str


class Friendship(SQLModel, table=True):
    """Whether a member is one account's WeChat friend: friendship is per account, and a `dm` goes from an account
    the member is a friend of."""

    __tablename__ = "friendships"
    account: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True, index=True)
    friend: bool
    at: datetime


class AccountRoom(SQLModel, table=True):
    """A group an account is in, as its own events and room list show: who may take over the group, and who sends
    to a group no speaker holds (a /群发 to a quiet group)."""

    __tablename__ = "account_rooms"
    account: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True, index=True)
    seen_at: datetime
