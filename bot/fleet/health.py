"""Alerts about the accounts themselves, through the webhooks (bot/fleet/webhooks.py): an account logged out,
refused by WeChat, or silent (its process stopped heartbeating while it said it was online), and back again.

Every process of the fleet watches every account on each beat (a duty); a process hears its own logout from its
connector at once (`changed`). Whoever notices first claims the alert in a settings row per account (which problem
was last told, and when) by a compare-and-set on the row: the other processes see it told, so one alert goes
out, and the same problem is told again only after `alerts.repeat_after`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts import AlertsSection
from bot.fleet import presence
from bot.fleet.tables import AccountPresence
from bot.fleet.webhooks import Alert, Webhooks
from bot.store.dialect import aware, insert_ignore
from bot.store.tables import Setting
from bot.textnorm import printable

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("qunguan.fleet.health")
KEY = "fleet.alert."  # + the account: the problem last told about it ('' when well) and when
REASON_MAX = 200
_presence = AccountPresence.__table__
_settings = Setting.__table__


class Health:
    """One process's part: the `watch` duty, and the connector's word about its own account (`changed`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.account = engine.config.account
        self.section = engine.config.section(AlertsSection)
        self.webhooks = Webhooks(self.section.webhooks, engine.clock)
        self.sending: set[asyncio.Task[int]] = set()
        hooks = getattr(engine.connector, "status_hooks", None)  # the wechaty connector's: its account logs in or out
        if hooks is not None:
            hooks.append(self.changed)

    async def watch(self) -> None:
        """Every account as the database shows it: alert what this process is the first to notice."""
        async with self.engine.store.unit() as conn:
            alerts = await self._due(conn, None)
        for alert in alerts:
            self._send(alert)

    async def changed(self, status: str, reason: str) -> None:
        """This account logged in (online), logged out, or was refused by WeChat: record it, and alert at once.
        A refusal stops the process, so its alert is sent before this returns; the others go out meanwhile."""
        try:
            async with self.engine.store.unit() as conn:
                await presence.mark(conn, self.account, status, self.engine.clock.now(), reason=reason)
                alerts = await self._due(conn, self.account)
        except Exception as exc:  # the database away: the other processes notice on their beat
            log.warning("account %s is %s, but that could not be recorded: %s", self.account, status, exc)
            return
        tasks = [self._send(alert) for alert in alerts]
        if status == "refused":
            await asyncio.gather(*tasks)

    async def settle(self) -> None:
        """Wait for the alerts still being posted."""
        while self.sending:
            await asyncio.gather(*self.sending)

    def _send(self, alert: Alert) -> asyncio.Task[int]:
        """Post in the background: a slow robot never holds up the heartbeat (the process's leases)."""
        log.warning("alert: %s", alert.text)
        task = asyncio.create_task(self.webhooks.send(alert), name=f"alert-{alert.account}")
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)
        return task

    async def _due(self, conn: AsyncConnection, account: str | None) -> list[Alert]:
        now = self.engine.clock.now()
        query = select(_presence).order_by(_presence.c.account)
        told_query = select(_settings.c.key, _settings.c.value).where(_settings.c.key.startswith(KEY))
        if account is not None:
            query = query.where(_presence.c.account == account)
            told_query = told_query.where(_settings.c.key == KEY + account)
        told = {str(key): str(value) for key, value in (await conn.execute(told_query)).all()}
        alerts = []
        for row in (await conn.execute(query)).all():
            problem = problem_of(row, now, self.engine.config.fleet.lease)
            if problem is None or not due(told.get(KEY + row.account), problem, now, self.section.repeat_after):
                continue
            if await claim(conn, row.account, told.get(KEY + row.account), problem, now):
                alerts.append(alert_for(row, problem, now, self.engine.config.tz))
        return alerts


def problem_of(row: Any, now: datetime, lease: timedelta) -> str | None:
    """logged_out, refused, silent; '' for an account online and heartbeating; None for one stopped on purpose."""
    if row.status in ("logged_out", "refused"):
        return str(row.status)
    if row.status != "online":
        return None
    return "silent" if aware(row.heartbeat_at) <= now - lease else ""


def due(told: str | None, problem: str, now: datetime, repeat_after: timedelta) -> bool:
    """Whether `problem` ('': the account is well) is news after what was last told (the settings row's value):
    another problem, the same one `repeat_after` later, or well again after a problem."""
    last = json.loads(told) if told is not None else {"problem": "", "at": None}
    if last.get("problem", "") != problem:
        return True
    at = last.get("at")
    return bool(problem) and (at is None or aware(datetime.fromisoformat(at)) <= now - repeat_after)


async def claim(conn: AsyncConnection, account: str, told: str | None, problem: str, now: datetime) -> bool:
    """Tell `problem` now, unless another process did since `told` was read: the row changes only if it still
    holds what was read (or is still missing), so of several processes noticing at once exactly one wins."""
    value = json.dumps({"problem": problem, "at": now.isoformat()})
    if told is None:
        inserted = await conn.execute(insert_ignore(conn, _settings).values(key=KEY + account, value=value))
        return inserted.rowcount == 1
    changed = await conn.execute(
        update(_settings).where(_settings.c.key == KEY + account, _settings.c.value == told).values(value=value)
    )
    return changed.rowcount == 1


def alert_for(row: Any, problem: str, now: datetime, tz: tzinfo) -> Alert:
    """The alert as staff read it in their group robot (Chinese, one line, times in the shop's timezone)."""
    name = row.account
    reason = " ".join(printable(row.reason or "").split())[:REASON_MAX]
    why = f"（原因：{reason}）" if reason else ""
    if problem == "logged_out":
        text = f"【群管】微信号 {name} 已掉线{why}于 {_local(now, tz)}，请尽快重新登录"
    elif problem == "refused":
        text = f"【群管】微信号 {name} 无法登录{why}于 {_local(now, tz)}，请检查账号状态和 Wechaty 服务后重新登录"
    elif problem == "silent":
        beat = aware(row.heartbeat_at)
        host = f"，主机 {printable(row.host)}" if row.host else ""
        seconds = int((now - beat).total_seconds())
        text = (
            f"【群管】微信号 {name} 的进程已 {seconds} 秒没有心跳（最后一次 {_local(beat, tz)}{host}），"
            "它的群将由其他微信号接管，请检查进程和网络"
        )
        return Alert(name, "silent", reason, beat, text)
    else:
        return Alert(name, "recovered", "", now, f"【群管】微信号 {name} 已恢复在线（{_local(now, tz)}）")
    return Alert(name, problem, reason, now, text)


def _local(when: datetime, tz: tzinfo) -> str:
    return when.astimezone(tz).strftime("%m-%d %H:%M")
