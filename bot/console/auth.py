"""Who gets into the console: one-time login links, server-side sessions, CSRF tokens, and the audit row
every console write leaves (the same `audit` table as the chat commands).

No passwords: a staff member asks the bot for a link (/后台 in a private chat) or the operator prints one
(`qunguan console --login WXID`). Only hashes of the link tokens and session ids are stored, so a copy of the
database lets nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Config
from bot.console.tables import ConsoleLink, ConsoleSession
from bot.store.tables import AuditEntry

LINK_VALID = timedelta(minutes=10)
SESSION_VALID = timedelta(hours=12)
LOGIN_PATH = "/login/"
_links = ConsoleLink.__table__
_sessions = ConsoleSession.__table__
_audit = AuditEntry.__table__


@dataclass(frozen=True)
class Session:
    member_id: str
    role: str
    csrf: str


class LoginRefused(Exception):
    """The link cannot log anyone in; the message is the Chinese page the browser shows."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_link(conn: AsyncConnection, config: Config, member_id: str, now: datetime) -> str | None:
    """A one-time login link for a staff member; None for anyone config.yaml's `staff:` does not list."""
    if config.role_of(member_id) is None:
        return None
    token = secrets.token_urlsafe(32)
    at = now.timestamp()
    await conn.execute(
        insert(_links).values(
            token_hash=_hash(token), member_id=member_id, created=at, expires=at + LINK_VALID.total_seconds()
        )
    )
    return f"{config.web.public_url.rstrip('/')}{LOGIN_PATH}{token}"


async def redeem(conn: AsyncConnection, config: Config, token: str, now: datetime) -> tuple[str, Session]:
    """Use a link once: a new session (its id for the cookie, and what it carries) for the link's staff member.
    Raises LoginRefused for an unknown, used or expired link, or one for somebody no longer on the staff."""
    row = (await conn.execute(select(_links).where(_links.c.token_hash == _hash(token)))).first()
    if row is None:
        raise LoginRefused("这个登录链接无效。请私聊机器人发送 /后台 获取新的链接。")
    if row.used is not None:
        raise LoginRefused("这个登录链接已经用过了，每个链接只能用一次。请私聊机器人发送 /后台 获取新的链接。")
    at = now.timestamp()
    if at >= row.expires:
        raise LoginRefused("这个登录链接已过期（10 分钟内有效）。请私聊机器人发送 /后台 获取新的链接。")
    role = config.role_of(row.member_id)
    if role is None:
        raise LoginRefused("你不在本店的工作人员名单里，不能登录后台。")
    taken = await conn.execute(
        update(_links).where(_links.c.token_hash == row.token_hash, _links.c.used.is_(None)).values(used=at)
    )
    if taken.rowcount != 1:  # another request used it first
        raise LoginRefused("这个登录链接已经用过了，每个链接只能用一次。请私聊机器人发送 /后台 获取新的链接。")
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute(
        insert(_sessions).values(
            session_hash=_hash(session_id),
            member_id=row.member_id,
            role=role,
            csrf=csrf,
            expires=at + SESSION_VALID.total_seconds(),
        )
    )
    await audit(conn, Session(row.member_id, role, csrf), "console.login", now)
    return session_id, Session(row.member_id, role, csrf)


async def session_of(conn: AsyncConnection, config: Config, session_id: str | None, now: datetime) -> Session | None:
    """The live session behind a cookie; None when there is none, it expired, or its member's role in
    config.yaml changed since (taken off the staff list: out at once)."""
    if not session_id:
        return None
    row = (await conn.execute(select(_sessions).where(_sessions.c.session_hash == _hash(session_id)))).first()
    if row is None or now.timestamp() >= row.expires or config.role_of(row.member_id) != row.role:
        return None
    return Session(row.member_id, row.role, row.csrf)


async def end_session(conn: AsyncConnection, session_id: str) -> None:
    await conn.execute(delete(_sessions).where(_sessions.c.session_hash == _hash(session_id)))


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and secrets.compare_digest(session.csrf, sent)


async def audit(
    conn: AsyncConnection,
    session: Session,
    action: str,
    now: datetime,
    *,
    result: str = "ok",
    args: str = "",
    target_id: str | None = None,
    room_id: str | None = None,
    answer: str = "",
) -> None:
    """A console write in the audit log, beside the chat commands (`qunguan audit` lists both). `action` is
    `console.<what>` (console.login, console.save, console.redeem, ...)."""
    await conn.execute(
        insert(_audit).values(
            at=now,
            member_id=session.member_id,
            role=session.role,
            command=action,
            result=result,
            args=args,
            target_id=target_id,
            room_id=room_id,
            answer=answer,
        )
    )
