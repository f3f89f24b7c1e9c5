"""The console's tables: one-time login links and sessions (both kept only as hashes of their secrets), and the
traces of what events did."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ConsoleLink(SQLModel, table=True):
    """A one-time login link (/后台, `qunguan console --login`): valid 10 minutes, used once. Times are Unix
    seconds from the bot's Clock, so they compare alike on every backend."""

    __tablename__ = "console_links"
    token_hash: str = Field(primary_key=True)
    member_id: str
    created: float
    expires: float
    used: float | None = None


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the WeChat id and the role it had at login, and its CSRF token."""

    __tablename__ = "console_sessions"
    session_hash: str = Field(primary_key=True)
    member_id: str
    role: str
    csrf: str
    expires: float


class Trace(SQLModel, table=True):
    """What one event did at one stage, written in the event's own transaction (so a trace exists exactly when
    what it tells happened): which playbook, command, moderation rule or window it reached, and why it ran or
    did not. Events that reached no stage are only counted (`trace_counts`).

    `stage`: playbook / command / moderation / window; `name`: the playbook id, command name, rule or window;
    `outcome`: ran (its actions ran), skipped (a condition, `once`, `cooldown` or a role stopped it), failed
    (an error; `steps` has file:line); `steps`: JSON list of {kind: condition|action|error, what, value,
    result, at (file:line)}. `text` is the member's message text: blanked after `privacy.keep_texts`."""

    __tablename__ = "traces"
    __table_args__ = (
        Index("ix_traces_name_at", "stage", "name", "at"),
        Index("ix_traces_member_at", "member_id", "at"),
        Index("ix_traces_room_at", "room_id", "at"),
        Index("ix_traces_at", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    event_key: str  # the event's idempotency key: the traces of one event share it
    kind: str  # the event's kind: message, join, leave, schedule, ...
    room_id: str | None = None
    member_id: str | None = None
    stage: str
    name: str
    outcome: str
    summary: str = ""  # one Chinese line: what happened or why not
    text: str = ""
    steps: str = "[]"


class TraceCount(SQLModel, table=True):
    """Events per day and room that reached no stage (other chatter): counted, not traced."""

    __tablename__ = "trace_counts"
    day: date = Field(primary_key=True)
    room_id: str = Field(primary_key=True)  # "" for private chats
    events: int = 0
