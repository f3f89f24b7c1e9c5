"""The Connector protocol over a Wechaty puppet service: puppet events in, sends out, friend requests.

The link (link.py) queues the puppet's raw payloads in arrival order; one pump task turns them into
Qunguan events with direct puppet calls, so events never overtake each other. The bot's own sends come
back as messages: they are dropped here. An event whose details cannot be fetched because the link just
dropped is handled again after the next login (the engine drops duplicates by event id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.connectors.base import AnnounceRefused, Emit, RemoveRefused, SendRefused
from bot.connectors.login_qr import login_qr
from bot.connectors.wechaty.account_env import puppet_of
from bot.connectors.wechaty.link import Link, finish
from bot.connectors.wechaty.lookups import Lookups
from bot.connectors.wechaty.messages import Pictures, carried, kind_of
from bot.connectors.wechaty.shims import first_line
from bot.events import (
    Event,
    FriendConfirmed,
    FriendRequest,
    MemberJoined,
    MemberLeft,
    MemberRef,
    MessageEvent,
    Outgoing,
    RoomRef,
    RoomRenamed,
)

log = logging.getLogger("qunguan.wechaty")

SEND_TIMEOUT = 30.0  # one send (WeChat can be slow to confirm)
MAX_PENDING_FRIENDSHIPS = 1000
MAX_STALLED = 100
RATE_LIMITED = ("操作过于频繁", "操作太频繁", "too frequent", "rate limit")
MENTION_SPACE = "\u2005"  # WeChat ends an @-mention with a four-per-em space


class SendFailed(RuntimeError):
    """The puppet service answered a send with an error (one line, without the Node.js stack)."""


class WechatyConnector:
    """Real WeChat: see the package docstring for what python-wechaty needs and how each part handles it."""

    paced = True  # a real account is behind it: the send governor paces what it sends
    hands_over = True  # its events are handed over (Bot.offer): the next is read while a batch commits

    def __init__(
        self,
        *,
        endpoint: str,
        token: str,
        cache_dir: Path,
        login_timeout: float = 60.0,
        reconnect_max: float = 60.0,
        clock: Clock | None = None,
        terminal: TextIO | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.clock: Clock = clock or SystemClock()
        self.terminal: TextIO = terminal or sys.stderr  # where the login QR code is drawn
        self.self_id = ""
        self.self_name = ""
        self._link = Link(
            endpoint=endpoint,
            token=token,
            cache_dir=cache_dir,
            login_timeout=login_timeout,
            reconnect_max=reconnect_max,
        )
        self._lookups = Lookups(self._link.rpc, self.clock)
        self._pictures = Pictures(self._link, self._deliver)
        self._emit: Emit | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._friendships: dict[str, str] = {}  # FriendRequest id -> friendship id
        self._stalled: list[tuple[str, Any]] = []  # events caught by a link drop, handled after the next login
        self.status_hooks = self._link.status_hooks  # told when the account logs in or out (bot/fleet/health.py)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        database: str | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> WechatyConnector:
        """Endpoint from env or config.yaml, token from env only, per account in a fleet (account_env.py);
        wechaty's cache beside the database."""
        puppet = puppet_of(config, os.environ if env is None else env, database)
        return cls(
            endpoint=puppet.endpoint,
            token=puppet.token,
            cache_dir=puppet.cache_dir,
            login_timeout=config.wechaty.login_timeout.total_seconds(),
            reconnect_max=config.wechaty.reconnect_max.total_seconds(),
            clock=clock,
        )

    # -- lifecycle

    async def start(self, emit: Emit) -> None:
        """Connect and wait for the WeChat login; raises ConnectorError when that cannot happen in time."""
        if self._pump_task is not None:
            raise RuntimeError("the wechaty connector is already started")
        self._emit = emit
        self._pump_task = asyncio.create_task(self._pump(), name="wechaty-events")
        try:
            await self._link.connect()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop reconnecting, tell the puppet service we are leaving, close the link; nothing is delivered after."""
        await self._link.close()
        if self._pump_task is not None:
            await finish(self._pump_task)
        await self._pictures.close()
        self._pump_task = None
        self._emit = None

    @property
    def logged_in(self) -> bool:
        return self._link.logged_in

    # -- incoming events

    async def _pump(self) -> None:
        """Turn queued puppet payloads into Qunguan events, one at a time, in arrival order."""
        while True:
            name, payload = await self._link.events.get()
            try:
                await self._handle(name, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._link.trouble(exc):
                    log.exception("wechaty %s event not handled: %s", name, payload)
                    continue
                # its details could not be fetched because the link went down: try again after the next login
                if len(self._stalled) < MAX_STALLED:
                    self._stalled.append((name, payload))
                    log.warning("wechaty %s event held until the link is back (%s)", name, first_line(exc))
                else:
                    log.warning("wechaty %s event lost, the link is down (%s): %s", name, first_line(exc), payload)

    async def _handle(self, name: str, payload: Any) -> None:
        if name == "login":
            await self._on_login(payload.contact_id)
        elif name == "logout":
            await self._link.down(str(payload.data or ""))
            log.warning("WeChat account %s logged out (%s); waiting for a new login", payload.contact_id, payload.data)
        elif name == "scan":
            await self._on_scan(payload)
        elif name == "error":
            log.warning("the Wechaty puppet service reported an error: %s", getattr(payload, "data", payload))
        elif name == "message":
            await self._on_message(payload.message_id)
        elif name == "room-join":
            await self._on_join(payload)
        elif name == "room-leave":
            await self._on_leave(payload)
        elif name == "room-topic":
            await self._on_topic(payload)
        elif name == "friendship":
            await self._on_friendship(payload.friendship_id)

    async def _deliver(self, event: Event) -> None:
        """Hand an event over (Bot.offer: waits only while the intake is full); its failures are the intake's
        (logged, dead-lettered), never taken for link trouble."""
        if self._emit is None:
            return
        try:
            await self._emit(event)
        except Exception:
            log.exception("event %s failed in the engine", event.id)

    async def _on_login(self, contact_id: str) -> None:
        self.self_id = contact_id
        self._lookups.clear()
        self.self_name = (await self._lookups.member(contact_id)).name
        await self._link.up()
        again = " again" if self._link.logins > 1 else ""
        log.info("logged in%s to WeChat as %s (%s) through %s", again, self.self_name or "?", contact_id, self.endpoint)
        stalled, self._stalled = self._stalled, []
        for name, payload in stalled:  # once more; the engine drops any that did get through (same id)
            try:
                await self._handle(name, payload)
            except Exception as exc:
                log.warning("wechaty %s event lost (%s): %s", name, first_line(exc), payload)

    async def _on_scan(self, payload: Any) -> None:
        """WeChat wants the bot's account logged in: the QR code goes to the terminal, whatever the log level."""
        lib = self._link.lib
        assert lib is not None
        if payload.status == lib.ScanStatus.Waiting and payload.qrcode:
            link = f"https://wechaty.js.org/qrcode/{quote(payload.qrcode, safe='')}"
            self.terminal.write(login_qr(payload.qrcode, link, drawn=self.terminal.isatty()))
            self.terminal.flush()
            log.info("WeChat login: waiting for the QR code to be scanned (%s)", link)
        else:
            log.info("WeChat login: scan status %s", getattr(payload.status, "name", payload.status))

    async def _on_message(self, message_id: str) -> None:
        p = await self._link.rpc("message_payload", message_id)
        if not p.from_id or p.from_id == self.self_id:
            return  # the bot's own send, echoed back (or a system notice nobody sent)
        kind = kind_of(p.type)
        room = await self._lookups.room(p.room_id) if p.room_id else None
        mentioned = tuple(p.mention_ids or ())
        text = (p.text or "") if kind == "text" else ""  # other kinds carry XML or a file name there
        mentions_bot = bool(self.self_id) and self.self_id in mentioned
        mentions = tuple(i for i in mentioned if i != self.self_id)  # "@群管小助手 加分 @小王": 小王 is the one
        if room is not None and self.self_name:
            # "@群管小助手 签到" should match a `签到` playbook: the bot's own mention is not part of the text
            stripped = re.sub(rf"@{re.escape(self.self_name)}(?:{MENTION_SPACE}|\s|$)", "", text)
            mentions_bot = mentions_bot or stripped != text
            text = stripped.strip() if mentions_bot else text
        details = await carried(self._link, self._lookups, message_id, kind, p)
        event = MessageEvent(
            id=p.id or message_id,
            at=self._when(p.timestamp),
            sender=await self._lookups.member(p.from_id),
            text=text,
            room=room,
            mentions=mentions,
            mentions_bot=mentions_bot,
            content=kind,
            url=details.url,
            title=details.title,
        )
        if kind == "image":
            await self._pictures.read(event, message_id)  # delivered once read for a QR code, off the pump
        else:
            await self._deliver(event)

    async def _on_join(self, p: Any) -> None:
        self._lookups.forget_room(p.room_id)
        room = await self._lookups.room(p.room_id)
        inviter = await self._lookups.member(p.inviter_id) if p.inviter_id else None
        for member_id in p.invited_ids or ():
            if member_id == self.self_id:
                log.info("the bot joined room %s (%s)", room.topic, room.id)
                continue
            await self._deliver(
                MemberJoined(
                    id=f"join:{p.room_id}:{member_id}:{p.timestamp}",
                    at=self._when(p.timestamp),
                    member=await self._lookups.member(member_id),
                    room=room,
                    inviter=inviter,
                )
            )

    async def _on_leave(self, p: Any) -> None:
        room = await self._lookups.room(p.room_id)
        for member_id in p.removed_ids or ():
            if member_id == self.self_id:
                log.warning("the bot left or was removed from room %s (%s) by %s", room.topic, room.id, p.remover_id)
                continue
            await self._deliver(
                MemberLeft(
                    id=f"leave:{p.room_id}:{member_id}:{p.timestamp}",
                    at=self._when(p.timestamp),
                    member=await self._lookups.member(member_id),
                    room=room,
                    removed=bool(p.remover_id) and p.remover_id != member_id,
                )
            )

    async def _on_topic(self, p: Any) -> None:
        self._lookups.renamed(p.room_id, p.new_topic or "")
        await self._deliver(
            RoomRenamed(
                id=f"topic:{p.room_id}:{p.timestamp}",
                at=self._when(p.timestamp),
                room=RoomRef(p.room_id, p.new_topic or ""),
                old_topic=p.old_topic or "",
                by=await self._lookups.member(p.changer_id) if p.changer_id else None,
            )
        )

    async def _on_friendship(self, friendship_id: str) -> None:
        lib = self._link.lib
        assert lib is not None
        p = await self._link.rpc("friendship_payload", friendship_id)
        kind = lib.FriendshipType
        if p.type == kind.FRIENDSHIP_TYPE_RECEIVE:
            event_id = f"friendship:{friendship_id}"
            self._friendships[event_id] = friendship_id
            while len(self._friendships) > MAX_PENDING_FRIENDSHIPS:  # requests the config did not accept
                del self._friendships[next(iter(self._friendships))]
            self._lookups.forget_contact(p.contact_id)
            member = await self._lookups.member(p.contact_id)
            await self._deliver(FriendRequest(id=event_id, at=self.clock.now(), member=member, hello=p.hello or ""))
        elif p.type == kind.FRIENDSHIP_TYPE_CONFIRM:
            self._lookups.forget_contact(p.contact_id)
            log.info("%s is now a friend of the bot", p.contact_id)
            named = await self._lookups.member(p.contact_id)
            member = MemberRef(named.id, named.name, friend=True)
            await self._deliver(FriendConfirmed(f"friendship-confirm:{friendship_id}", self.clock.now(), member))

    def _when(self, timestamp: float | int | None) -> datetime:
        """Puppets send seconds or milliseconds since the epoch (or nothing)."""
        if not timestamp:
            return self.clock.now()
        seconds = float(timestamp)
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)

    # -- the Connector protocol

    async def send(self, message: Outgoing) -> str | None:
        """One text (room messages with real @-mentions) or one invitation; the platform's message id."""
        await self._link.ready(message.target_id)
        lib = self._link.lib
        assert lib is not None
        try:
            if message.invite:
                if message.room is None or message.member is None:
                    raise ValueError("an invitation needs a room and a member")
                await self._link.rpc("room_add", message.room.id, message.member.id, timeout=SEND_TIMEOUT)
                return None
            text, mention_ids = message.text, None
            if message.room is not None and message.mentions:
                names = [m.name or (await self._lookups.member(m.id)).name or m.id for m in message.mentions]
                text = "".join(f"@{name}{MENTION_SPACE}" for name in names) + text
                mention_ids = [m.id for m in message.mentions]
            rpc = self._link.rpc
            sent = await rpc("message_send_text", message.target_id, text, mention_ids, timeout=SEND_TIMEOUT)
        except lib.GRPCError as exc:
            reason = first_line(exc).removeprefix("Error: ")
            if any(marker in reason for marker in RATE_LIMITED):
                raise SendRefused(reason) from None
            raise SendFailed(f"send to {message.target_id} failed: {reason}") from None
        return sent or None

    async def remove(self, room: RoomRef, member: MemberRef) -> None:
        """Room.del: WeChat refuses it unless the bot is the group's owner or admin (RemoveRefused, its reason)."""
        await self._link.ready(room.id)
        lib = self._link.lib
        assert lib is not None
        try:
            await self._link.rpc("room_delete", room.id, member.id, timeout=SEND_TIMEOUT)
        except lib.GRPCError as exc:
            raise RemoveRefused(first_line(exc).removeprefix("Error: ")) from None

    async def announce(self, room: RoomRef, text: str) -> None:
        """Room.announce: refused (AnnounceRefused) unless the bot is owner or admin; SendRefused: slow down."""
        await self._link.ready(room.id)
        lib = self._link.lib
        assert lib is not None
        try:
            from bot.connectors.wechaty import announce as wire  # betterproto: loaded with wechaty, lazily

            await self._link.unary(wire.ROUTE, wire.request(room.id, text), wire.Response, timeout=SEND_TIMEOUT)
        except lib.GRPCError as exc:
            reason = first_line(exc).removeprefix("Error: ")
            if any(marker in reason for marker in RATE_LIMITED):
                raise SendRefused(reason) from None
            raise AnnounceRefused(reason) from None

    async def accept_friend(self, request: FriendRequest) -> None:
        friendship_id = self._friendships.pop(request.id, None) or request.id.removeprefix("friendship:")
        await self._link.rpc("friendship_accept", friendship_id)
        self._lookups.forget_contact(request.member.id)

    async def is_friend(self, member_id: str) -> bool:
        """What WeChat says (the contact's `friend` flag); unknown counts as not a friend."""
        try:
            return bool((await self._lookups.contact(member_id)).friend)
        except Exception as exc:
            log.warning("cannot tell whether %s is a friend (%s): taken as not", member_id, first_line(exc))
            return False
