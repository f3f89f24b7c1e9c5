"""The console's tables: one-time login links and sessions, both kept only as hashes of their secrets."""

from __future__ import annotations

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
