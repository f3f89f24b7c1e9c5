"""Real WeChat through a Wechaty puppet service, with python-wechaty 0.10.7 as the gRPC client.

Every quirk of that package is handled here and nowhere else (nothing else imports it):

- it only imports on Python 3.11 after shims (urllib3 2 lost `get_host`; `PuppetOptions` must be
  hashable), creates `./.wechaty` unless CACHE_DIR is set first, and its loggers print tokens;
- `Wechaty.start()` swallows connection errors (a traceback, then a silent retry a minute later),
  so we drive the puppet ourselves: one connection is `init_puppet()` + `puppet.start()`, which
  blocks until the event stream ends;
- its high-level `bot.on(...)` handlers run as concurrent tasks and can reorder events, and its
  Contact/Room objects live in class-level pools with payloads that go stale. We listen on the
  puppet with synchronous handlers (arrival order kept), queue the raw payloads, and one pump
  task turns them into Qunguan events with direct puppet calls;
- the bot's own sends come back as messages: they are dropped here;
- an event whose details cannot be fetched because the link just dropped is handled again after
  the next login (the engine drops duplicates by event id).

Connection problems become clear behaviour: `start()` raises `ConnectorError` (one line, Chinese
then English) when the endpoint is unreachable, the token is refused or no login happens within
`login_timeout`; after a login, a lost link is retried with exponential backoff up to
`reconnect_max`, with a log line for each attempt; a `ding` every 30 s notices a link that went
silent without closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO
from urllib.parse import quote

from cachetools import TTLCache

from bot import logs
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.connectors.base import Emit, SendRefused
from bot.connectors.login_qr import login_qr
from bot.events import (
    Event,
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

TOKEN_ENV = "WECHATY_PUPPET_SERVICE_TOKEN"
ENDPOINT_ENV = "WECHATY_PUPPET_SERVICE_ENDPOINT"

PROBE_TIMEOUT = 5.0  # seconds to open a TCP connection to the endpoint
RPC_TIMEOUT = 15.0  # one payload lookup or accept
SEND_TIMEOUT = 30.0  # one send (WeChat can be slow to confirm)
LINK_WAIT = 15.0  # a send while reconnecting waits this long for the login before it fails
STOP_TIMEOUT = 5.0
FIRST_RETRY = 0.5  # seconds before the first reconnection attempt; doubles up to reconnect_max
WATCHDOG_EVERY = 30.0  # a `ding` this often notices a half-open link that never closes
MAX_PENDING_FRIENDSHIPS = 1000
MAX_STALLED = 100
CACHE_SECONDS = 120.0  # names, topics and friendship flags are looked up again after this
MAX_CONTACTS = 5000  # contacts remembered at most (least recently used go first): a bot meets many members
MAX_ROOMS = 1000  # groups remembered at most
RATE_LIMITED = ("操作过于频繁", "操作太频繁", "too frequent", "rate limit")
MENTION_SPACE = "\u2005"  # WeChat ends an @-mention with a four-per-em space
LISTENED = ("login", "logout", "scan", "error", "message", "room-join", "room-leave", "room-topic", "friendship")
_WECHATY_LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_WECHATY_LOG_LEVELS = ("silly", "verbose", "info", "warn", "error", "silent")
_WECHATY_PACKAGES = ("wechaty", "wechaty_puppet", "wechaty_puppet_service", "wechaty_grpc", "betterproto", "pyee")


class ConnectorError(Exception):
    """Cannot connect to or log in through the puppet service: one line for the operator."""


class LinkDown(ConnectionError):
    """A send or lookup while the link to the puppet service is down (the outbox may retry later)."""


class SendFailed(RuntimeError):
    """The puppet service answered a send with an error (one line, without the Node.js stack)."""


# ---------------------------------------------------------------- importing python-wechaty


_lib: SimpleNamespace | None = None


def _load_wechaty(cache_dir: Path) -> SimpleNamespace:
    """Import python-wechaty once per process, with the shims it needs, and return what we use."""
    global _lib
    if _lib is not None:
        return _lib
    # wechaty makes its cache folder (and a job.db) at import time: CACHE_DIR, else ./.wechaty
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CACHE_DIR"] = str(cache_dir)
    # its logger setup raises on any other value, e.g. WECHATY_LOG=debug
    if os.environ.get("WECHATY_LOG", "").lower() not in _WECHATY_LOG_LEVELS:
        os.environ["WECHATY_LOG"] = "warn"
    for package in _WECHATY_PACKAGES:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=rf"{package}(\.|$)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # telnetlib (3.13), pyee.AsyncIOEventEmitter
        import urllib3
        import urllib3.util

        if not hasattr(urllib3, "get_host"):  # removed in urllib3 2; wechaty/user/url_link.py imports it

            def get_host(url: str) -> tuple[str, str | None, int | None]:
                parts = urllib3.util.parse_url(url)
                return parts.scheme or "http", parts.hostname, parts.port

            urllib3.get_host = get_host  # type: ignore[attr-defined]
            urllib3.util.get_host = get_host  # type: ignore[attr-defined]

        # Python 3.11 dataclasses refuse the unhashable `PuppetOptions()` default of WechatyOptions
        from wechaty_puppet.schemas.puppet import PuppetOptions

        if PuppetOptions.__hash__ is None:
            PuppetOptions.__hash__ = object.__hash__  # type: ignore[method-assign]

        import wechaty_puppet_service  # noqa: F401  (Wechaty() imports it late; its logger must exist now)
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError, StreamTerminatedError
        from wechaty import Wechaty, WechatyOptions
        from wechaty_puppet import FriendshipType, MessageType, ScanStatus
    _adopt_loggers()
    _lib = SimpleNamespace(
        Wechaty=Wechaty,
        WechatyOptions=WechatyOptions,
        PuppetOptions=PuppetOptions,
        FriendshipType=FriendshipType,
        MessageType=MessageType,
        ScanStatus=ScanStatus,
        GRPCError=GRPCError,
        LinkLost=StreamTerminatedError,
        Status=Status,
    )
    return _lib


class _WechatyLogFilter(logging.Filter):
    """Keeps noise out of wechaty's own log lines (bot.logs masks the token in every logger's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # "there are endpoint<…> and token<…>": says nothing an operator needs
        return not (record.name == "PuppetService" and str(record.msg).startswith("there are "))


def _adopt_loggers() -> None:
    """wechaty's loggers print straight to stderr in their own format: send them through ours."""
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue
        own = [h for h in logger.handlers if h.formatter is not None and h.formatter._fmt == _WECHATY_LOG_FORMAT]
        if not own:
            continue
        for handler in own:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.addFilter(_WechatyLogFilter())


# ---------------------------------------------------------------- the connector


def _first_line(exc: BaseException) -> str:
    """gRPC errors from Node carry a stack trace in their message: keep the first line."""
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class WechatyConnector:
    """The Connector protocol over a Wechaty puppet service (see the module docstring)."""

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
        self.token = token
        logs.add_secret(token)  # python-wechaty and the HTTP/2 libraries under it log it at DEBUG
        self.cache_dir = cache_dir
        self.login_timeout = login_timeout
        self.reconnect_max = max(reconnect_max, FIRST_RETRY)
        self.clock: Clock = clock or SystemClock()
        self.terminal: TextIO = terminal or sys.stderr  # where the login QR code is drawn
        self.logins = 0  # logins seen so far, reconnections included
        self.self_id = ""
        self.self_name = ""
        self._emit: Emit | None = None
        self._lib: SimpleNamespace | None = None
        self._bot: Any = None
        self._puppet: Any = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._pump_task: asyncio.Task[None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._first_login: asyncio.Future[None] | None = None
        self._logged_in = asyncio.Event()
        self._stopping = False
        timer = self._seconds  # the cache's time is the connector's clock, so tests move it without sleeping
        self._contacts: TTLCache[str, Any] = TTLCache(MAX_CONTACTS, CACHE_SECONDS, timer=timer)  # contact payloads
        self._rooms: TTLCache[str, str] = TTLCache(MAX_ROOMS, CACHE_SECONDS, timer=timer)  # room topics
        self._friendships: dict[str, str] = {}  # FriendRequest id -> friendship id
        self._stalled: list[tuple[str, Any]] = []  # events caught by a link drop, handled after the next login

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        database: str | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> WechatyConnector:
        """Endpoint from env or config.yaml, token from env only; wechaty's cache beside the database."""
        env = os.environ if env is None else env
        token = env.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConnectorError(
                f"没有设置环境变量 {TOKEN_ENV}：请把 Wechaty puppet 服务的 token 放进去再启动"
                f" / {TOKEN_ENV} is not set: export your Wechaty puppet service token in it"
            )
        endpoint = (env.get(ENDPOINT_ENV) or config.wechaty.endpoint).strip()
        if not endpoint:
            raise ConnectorError(
                f"没有 Wechaty 服务地址：在 config.yaml 的 wechaty.endpoint 或环境变量 {ENDPOINT_ENV} 里写 host:port"
                f" / no Wechaty endpoint: set wechaty.endpoint in config.yaml or {ENDPOINT_ENV} (host:port)"
            )
        path = database or config.database_path
        data_dir = config.path("data") if path == ":memory:" or "://" in path else Path(path).parent
        return cls(
            endpoint=endpoint,
            token=token,
            cache_dir=data_dir / ".wechaty",
            login_timeout=config.wechaty.login_timeout.total_seconds(),
            reconnect_max=config.wechaty.reconnect_max.total_seconds(),
            clock=clock,
        )

    # -- lifecycle

    async def start(self, emit: Emit) -> None:
        """Connect and wait for the WeChat login; raises ConnectorError when that cannot happen in time."""
        if self._link_task is not None:
            raise RuntimeError("the wechaty connector is already started")
        self._emit = emit
        self._stopping = False
        lib = self._lib = _load_wechaty(self.cache_dir)
        try:
            await self._probe()
            options = lib.WechatyOptions(puppet_options=lib.PuppetOptions(), endpoint=self.endpoint, token=self.token)
            self._bot = lib.Wechaty(options)
            # Its plugin manager would open job.db, a web server on port 5000 and drop the login.
            self._bot._plugin_manager.start = _nothing
            self._first_login = asyncio.get_running_loop().create_future()
            self._pump_task = asyncio.create_task(self._pump(), name="wechaty-events")
            self._link_task = asyncio.create_task(self._keep_linked(), name="wechaty-link")
            try:
                async with asyncio.timeout(self.login_timeout):
                    await asyncio.shield(self._first_login)
            except TimeoutError:
                raise ConnectorError(
                    f"{self.login_timeout:g} 秒内没有登录微信（Wechaty 服务 {self.endpoint}）；需要扫码时请调大"
                    f" wechaty.login_timeout / no WeChat login within {self.login_timeout:g} s through the Wechaty"
                    f" puppet service at {self.endpoint}; raise wechaty.login_timeout if a QR code must be scanned"
                ) from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop reconnecting, tell the puppet service we are leaving, close the link."""
        self._stopping = True
        if self._first_login is not None and not self._first_login.done():
            self._first_login.cancel()
        linked = self._logged_in.is_set()
        self._logged_in.clear()
        bot, self._bot = self._bot, None
        puppet = bot._puppet if bot is not None else None
        if linked and puppet is not None and puppet._puppet_stub is not None:
            try:  # the stop RPC ends the event stream, so the running connection returns
                await asyncio.wait_for(bot.stop(), STOP_TIMEOUT)
            except Exception as exc:  # it fails on a dead link: nothing to tell then
                log.debug("wechaty stop: %s", _first_line(exc))
        if puppet is not None:
            _unbind(puppet)  # calls still waiting on the link fail now instead of hanging
        for task in (self._link_task, self._pump_task):
            if task is not None:
                await _finish(task)
        self._link_task = self._pump_task = None
        self._puppet = None
        self._emit = None

    def _seconds(self) -> float:
        return self.clock.now().timestamp()

    @property
    def logged_in(self) -> bool:
        return self._logged_in.is_set()

    async def _probe(self) -> None:
        """A plain TCP connect first: wechaty itself would block the loop, print and retry forever."""
        host, _, port = self.endpoint.rpartition(":")
        host = host.removeprefix("http://").removeprefix("https://").strip("[]") or "127.0.0.1"
        try:
            if not port.isdigit():
                raise ValueError("expected host:port")
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), PROBE_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = _why_unreachable(exc)
            raise ConnectorError(
                f"连不上 Wechaty 服务 {self.endpoint}（{reason}）：请检查 wechaty.endpoint 或 {ENDPOINT_ENV}，"
                f"以及 puppet 服务是否在运行 / cannot reach the Wechaty puppet service at {self.endpoint}: {reason}"
            ) from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def _refused(self, exc: BaseException) -> ConnectorError:
        """The first connection failed after the endpoint answered: say why in one line."""
        lib = self._lib
        denied = (lib.Status.UNAUTHENTICATED, lib.Status.PERMISSION_DENIED) if lib is not None else ()
        if lib is not None and isinstance(exc, lib.GRPCError) and exc.status in denied:
            return ConnectorError(
                f"Wechaty 服务 {self.endpoint} 拒绝了 token：请检查 {TOKEN_ENV}"
                f" / the Wechaty puppet service at {self.endpoint} refused the token (check {TOKEN_ENV})"
            )
        return ConnectorError(
            f"连接 Wechaty 服务 {self.endpoint} 失败：{_first_line(exc)}"
            f" / connecting to the Wechaty puppet service at {self.endpoint} failed: {_first_line(exc)}"
        )

    async def _keep_linked(self) -> None:
        """Run connections one after another; after a login, a lost link is retried with backoff."""
        assert self._first_login is not None
        failures = 0
        while not self._stopping:
            logins = self.logins
            try:
                if failures:
                    await self._probe()
                await self._session()
                reason = "the event stream ended"
                if not self._first_login.done():
                    self._first_login.set_exception(self._refused(ConnectionError("closed before login")))
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._first_login.done():
                    failure = exc if isinstance(exc, ConnectorError) else self._refused(exc)
                    self._first_login.set_exception(failure)
                    return
                reason = _first_line(exc).split(" / ")[-1]
            self._logged_in.clear()
            if self._stopping:
                return
            failures = 1 if self.logins > logins else failures + 1
            delay = min(self.reconnect_max, FIRST_RETRY * 2 ** (failures - 1))
            log.warning(
                "link to the Wechaty puppet service at %s lost (%s); reconnecting in %.1f s (attempt %d)",
                self.endpoint,
                reason,
                delay,
                failures,
            )
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One connection: bind the puppet, listen in arrival order, block until the event stream ends."""
        bot = self._bot
        await bot.init_puppet()  # the same PuppetService object each time, with fresh user classes
        puppet = bot.puppet
        _unbind(puppet)
        for name in LISTENED:
            puppet.on(name, _Enqueue(self._queue, name))
        self._puppet = puppet
        watchdog = asyncio.create_task(self._watch(puppet), name="wechaty-watchdog")
        try:
            await puppet.start()  # stop + start RPCs, then the event stream until it ends
        finally:
            watchdog.cancel()
            with contextlib.suppress(BaseException):
                await watchdog
            _unbind(puppet)

    async def _watch(self, puppet: Any) -> None:
        """A link can die without a close: if a `ding` goes unanswered, close it so we reconnect."""
        while True:
            await asyncio.sleep(WATCHDOG_EVERY)
            if puppet._puppet_stub is None:
                continue
            try:
                await asyncio.wait_for(puppet.ding("qunguan"), RPC_TIMEOUT)
            except Exception as exc:
                log.warning(
                    "no answer to a ding from the Wechaty puppet service (%s); dropping the link", _first_line(exc)
                )
                if puppet.channel is not None:
                    puppet.channel.close()
                return

    # -- incoming events

    async def _pump(self) -> None:
        """Turn queued puppet payloads into Qunguan events, one at a time, in arrival order."""
        while True:
            name, payload = await self._queue.get()
            try:
                await self._handle(name, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._link_trouble(exc):
                    log.exception("wechaty %s event not handled: %s", name, payload)
                    continue
                # its details could not be fetched because the link went down: try again after the next login
                if len(self._stalled) < MAX_STALLED:
                    self._stalled.append((name, payload))
                    log.warning("wechaty %s event held until the link is back (%s)", name, _first_line(exc))
                else:
                    log.warning("wechaty %s event lost, the link is down (%s): %s", name, _first_line(exc), payload)

    async def _handle(self, name: str, payload: Any) -> None:
        if name == "login":
            await self._on_login(payload.contact_id)
        elif name == "logout":
            self._logged_in.clear()
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

    def _link_trouble(self, exc: BaseException) -> bool:
        lib = self._lib
        lost = (LinkDown, OSError, TimeoutError) if lib is None else (LinkDown, OSError, TimeoutError, lib.LinkLost)
        return isinstance(exc, lost)

    async def _deliver(self, event: Event) -> None:
        """Hand an event to the engine; its failures are its own (logged), never taken for link trouble."""
        if self._emit is None:
            return
        try:
            await self._emit(event)
        except Exception:
            log.exception("event %s failed in the engine", event.id)

    async def _on_login(self, contact_id: str) -> None:
        self.self_id = contact_id
        self._contacts.clear()
        self._rooms.clear()
        self.self_name = (await self._member(contact_id)).name
        self.logins += 1
        self._logged_in.set()
        again = " again" if self.logins > 1 else ""
        log.info("logged in%s to WeChat as %s (%s) through %s", again, self.self_name or "?", contact_id, self.endpoint)
        if self._first_login is not None and not self._first_login.done():
            self._first_login.set_result(None)
        stalled, self._stalled = self._stalled, []
        for name, payload in stalled:  # once more; the engine drops any that did get through (same id)
            try:
                await self._handle(name, payload)
            except Exception as exc:
                log.warning("wechaty %s event lost (%s): %s", name, _first_line(exc), payload)

    async def _on_scan(self, payload: Any) -> None:
        """WeChat wants the bot's account logged in: the QR code goes to the terminal, whatever the log level."""
        lib = self._lib
        assert lib is not None
        if payload.status == lib.ScanStatus.Waiting and payload.qrcode:
            link = f"https://wechaty.js.org/qrcode/{quote(payload.qrcode, safe='')}"
            self.terminal.write(login_qr(payload.qrcode, link, drawn=self.terminal.isatty()))
            self.terminal.flush()
            log.info("WeChat login: waiting for the QR code to be scanned (%s)", link)
        else:
            log.info("WeChat login: scan status %s", getattr(payload.status, "name", payload.status))

    async def _on_message(self, message_id: str) -> None:
        lib = self._lib
        assert lib is not None
        p = await self._rpc("message_payload", message_id)
        if not p.from_id or p.from_id == self.self_id:
            return  # the bot's own send, echoed back (or a system notice nobody sent)
        if p.type != lib.MessageType.MESSAGE_TYPE_TEXT:
            log.debug("message %s of type %s ignored", message_id, p.type)
            return
        room = await self._room(p.room_id) if p.room_id else None
        mentioned = tuple(p.mention_ids or ())
        text = p.text or ""
        mentions_bot = bool(self.self_id) and self.self_id in mentioned
        mentions = tuple(i for i in mentioned if i != self.self_id)  # "@群管小助手 加分 @小王": 小王 is the one
        if room is not None and self.self_name:
            # "@群管小助手 签到" should match a `签到` playbook: the bot's own mention is not part of the text
            stripped = re.sub(rf"@{re.escape(self.self_name)}(?:{MENTION_SPACE}|\s|$)", "", text)
            mentions_bot = mentions_bot or stripped != text
            text = stripped.strip() if mentions_bot else text
        await self._deliver(
            MessageEvent(
                id=p.id or message_id,
                at=self._when(p.timestamp),
                sender=await self._member(p.from_id),
                text=text,
                room=room,
                mentions=mentions,
                mentions_bot=mentions_bot,
            )
        )

    async def _on_join(self, p: Any) -> None:
        self._rooms.pop(p.room_id, None)
        room = await self._room(p.room_id)
        inviter = await self._member(p.inviter_id) if p.inviter_id else None
        for member_id in p.invited_ids or ():
            if member_id == self.self_id:
                log.info("the bot joined room %s (%s)", room.topic, room.id)
                continue
            await self._deliver(
                MemberJoined(
                    id=f"join:{p.room_id}:{member_id}:{p.timestamp}",
                    at=self._when(p.timestamp),
                    member=await self._member(member_id),
                    room=room,
                    inviter=inviter,
                )
            )

    async def _on_leave(self, p: Any) -> None:
        room = await self._room(p.room_id)
        for member_id in p.removed_ids or ():
            if member_id == self.self_id:
                log.warning("the bot left or was removed from room %s (%s) by %s", room.topic, room.id, p.remover_id)
                continue
            await self._deliver(
                MemberLeft(
                    id=f"leave:{p.room_id}:{member_id}:{p.timestamp}",
                    at=self._when(p.timestamp),
                    member=await self._member(member_id),
                    room=room,
                    removed=bool(p.remover_id) and p.remover_id != member_id,
                )
            )

    async def _on_topic(self, p: Any) -> None:
        self._rooms[p.room_id] = p.new_topic or ""  # the service's room payload may lag
        await self._deliver(
            RoomRenamed(
                id=f"topic:{p.room_id}:{p.timestamp}",
                at=self._when(p.timestamp),
                room=RoomRef(p.room_id, p.new_topic or ""),
                old_topic=p.old_topic or "",
                by=await self._member(p.changer_id) if p.changer_id else None,
            )
        )

    async def _on_friendship(self, friendship_id: str) -> None:
        lib = self._lib
        assert lib is not None
        p = await self._rpc("friendship_payload", friendship_id)
        kind = lib.FriendshipType
        if p.type == kind.FRIENDSHIP_TYPE_RECEIVE:
            event_id = f"friendship:{friendship_id}"
            self._friendships[event_id] = friendship_id
            while len(self._friendships) > MAX_PENDING_FRIENDSHIPS:  # requests the config did not accept
                del self._friendships[next(iter(self._friendships))]
            self._contacts.pop(p.contact_id, None)
            member = await self._member(p.contact_id)
            await self._deliver(FriendRequest(id=event_id, at=self.clock.now(), member=member, hello=p.hello or ""))
        elif p.type == kind.FRIENDSHIP_TYPE_CONFIRM:
            self._contacts.pop(p.contact_id, None)
            log.info("%s is now a friend of the bot", p.contact_id)

    # -- lookups

    async def _rpc(self, method: str, *args: Any, timeout: float = RPC_TIMEOUT) -> Any:
        puppet = self._puppet
        if puppet is None or puppet._puppet_stub is None:
            raise LinkDown("not connected to the Wechaty puppet service")
        return await asyncio.wait_for(getattr(puppet, method)(*args), timeout)

    async def _contact(self, contact_id: str) -> Any:
        payload = self._contacts.get(contact_id)
        if payload is None:
            payload = self._contacts[contact_id] = await self._rpc("contact_payload", contact_id)
        return payload

    async def _member(self, contact_id: str) -> MemberRef:
        """Who someone is; an event is not dropped because a name could not be looked up."""
        try:
            return MemberRef(contact_id, (await self._contact(contact_id)).name or "")
        except Exception as exc:
            log.debug("no contact payload for %s: %s", contact_id, _first_line(exc))
            return MemberRef(contact_id)

    async def _room(self, room_id: str) -> RoomRef:
        topic = self._rooms.get(room_id)
        if topic is None:
            try:
                topic = self._rooms[room_id] = (await self._rpc("room_payload", room_id)).topic or ""
            except Exception as exc:
                log.debug("no room payload for %s: %s", room_id, _first_line(exc))
                return RoomRef(room_id)
        return RoomRef(room_id, topic)

    def _when(self, timestamp: float | int | None) -> datetime:
        """Puppets send seconds or milliseconds since the epoch (or nothing)."""
        if not timestamp:
            return self.clock.now()
        seconds = float(timestamp)
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)

    # -- the Connector protocol

    async def send(self, message: Outgoing) -> str | None:
        """One text (room messages with real @-mentions) or one invitation; the platform's message id."""
        if not self._logged_in.is_set():
            await self._relinked(message)
        lib = self._lib
        assert lib is not None
        try:
            if message.invite:
                if message.room is None or message.member is None:
                    raise ValueError("an invitation needs a room and a member")
                await self._rpc("room_add", message.room.id, message.member.id, timeout=SEND_TIMEOUT)
                return None
            text, mention_ids = message.text, None
            if message.room is not None and message.mentions:
                names = [m.name or (await self._member(m.id)).name or m.id for m in message.mentions]
                text = "".join(f"@{name}{MENTION_SPACE}" for name in names) + text
                mention_ids = [m.id for m in message.mentions]
            sent = await self._rpc("message_send_text", message.target_id, text, mention_ids, timeout=SEND_TIMEOUT)
        except lib.GRPCError as exc:
            reason = _first_line(exc).removeprefix("Error: ")
            if any(marker in reason for marker in RATE_LIMITED):
                raise SendRefused(reason) from None
            raise SendFailed(f"send to {message.target_id} failed: {reason}") from None
        return sent or None

    async def _relinked(self, message: Outgoing) -> None:
        """A short drop should not cost a message a retry: wait a little for the next login."""
        if self._link_task is not None and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._logged_in.wait(), LINK_WAIT)
        if not self._logged_in.is_set():
            raise LinkDown(f"WeChat is not connected through {self.endpoint}: not sent to {message.target_id}")

    async def accept_friend(self, request: FriendRequest) -> None:
        friendship_id = self._friendships.pop(request.id, None) or request.id.removeprefix("friendship:")
        await self._rpc("friendship_accept", friendship_id)
        self._contacts.pop(request.member.id, None)

    async def is_friend(self, member_id: str) -> bool:
        """What WeChat says (the contact's `friend` flag); unknown counts as not a friend."""
        try:
            return bool((await self._contact(member_id)).friend)
        except Exception as exc:
            log.warning("cannot tell whether %s is a friend (%s): taken as not", member_id, _first_line(exc))
            return False


def _why_unreachable(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return getattr(exc, "strerror", None) or str(exc)


class _Enqueue:
    """A synchronous puppet listener: pyee calls it during `emit`, so the queue keeps arrival order."""

    def __init__(self, queue: asyncio.Queue[tuple[str, Any]], name: str) -> None:
        self.queue = queue
        self.name = name

    def __call__(self, payload: Any) -> None:
        self.queue.put_nowait((self.name, payload))


def _unbind(puppet: Any) -> None:
    """Forget a connection: our listeners off, the gRPC channel closed (the next start() opens a new one)."""
    puppet._event_stream.remove_all_listeners()
    if puppet.channel is not None:
        puppet.channel.close()
        puppet.channel = None
    puppet._puppet_stub = None


async def _finish(task: asyncio.Task[Any]) -> None:
    """Cancel a task and wait for it, again if needed: PuppetService.start() awaits another call in a
    `finally`, so one cancellation may not be enough."""
    for _ in range(3):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_TIMEOUT / 3)
    if not task.done():
        log.warning("wechaty task %s did not stop", task.get_name())
    elif not task.cancelled() and task.exception() is not None:
        log.debug("wechaty task %s ended with %r", task.get_name(), task.exception())


async def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None
