"""The link to the Wechaty puppet service: connecting, the first login, reconnecting with backoff, the watchdog.

`Wechaty.start()` swallows connection errors (a traceback, then a silent retry a minute later), so we
drive the puppet ourselves: one connection is `init_puppet()` + `puppet.start()`, which blocks until the
event stream ends. Its high-level `bot.on(...)` handlers run as concurrent tasks and can reorder events,
so we listen on the puppet with synchronous handlers that put the raw payloads on `events`, in arrival
order, for the connector to turn into Qunguan events.

Connection problems become clear behaviour: `open()` raises `ConnectorError` (one line, Chinese then
English) when the endpoint is unreachable, the token is refused or no login happens within
`login_timeout`; after a login, a lost link is retried with exponential backoff up to `reconnect_max`,
with a log line for each attempt; a `ding` every 30 s notices a link that went silent without closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot import logs
from bot.connectors.wechaty.shims import first_line, load_wechaty

log = logging.getLogger("qunguan.wechaty")

TOKEN_ENV = "WECHATY_PUPPET_SERVICE_TOKEN"
ENDPOINT_ENV = "WECHATY_PUPPET_SERVICE_ENDPOINT"

PROBE_TIMEOUT = 5.0  # seconds to open a TCP connection to the endpoint
RPC_TIMEOUT = 15.0  # one payload lookup or accept
LINK_WAIT = 15.0  # a send while reconnecting waits this long for the login before it fails
STOP_TIMEOUT = 5.0
FIRST_RETRY = 0.5  # seconds before the first reconnection attempt; doubles up to reconnect_max
WATCHDOG_EVERY = 30.0  # a `ding` this often notices a half-open link that never closes
BANNED = ("封", "限制登录", "违规", "banned", "blocked")  # a logout for these words is WeChat refusing the account
StatusHook = Callable[[str, str], Awaitable[None]]  # (online | logged_out | refused, why): bot/fleet/health.py
LISTENED = ("login", "logout", "scan", "error", "message", "room-join", "room-leave", "room-topic", "friendship")


class ConnectorError(Exception):
    """Cannot connect to or log in through the puppet service: one line for the operator."""


class LinkDown(ConnectionError):
    """A send or lookup while the link to the puppet service is down (the outbox may retry later)."""


class Link:
    """One connection to the puppet service at a time; the connector says when a login or logout came by."""

    def __init__(
        self, *, endpoint: str, token: str, cache_dir: Path, login_timeout: float, reconnect_max: float
    ) -> None:
        self.endpoint = endpoint
        self.token = token
        logs.add_secret(token)  # python-wechaty and the HTTP/2 libraries under it log it at DEBUG
        self.cache_dir = cache_dir
        self.login_timeout = login_timeout
        self.reconnect_max = max(reconnect_max, FIRST_RETRY)
        self.logins = 0  # logins seen so far, reconnections included
        self.lib: SimpleNamespace | None = None
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()  # (puppet event name, payload), in order
        self._bot: Any = None
        self._puppet: Any = None
        self._task: asyncio.Task[None] | None = None
        self._first_login: asyncio.Future[None] | None = None
        self._logged_in = asyncio.Event()
        self._stopping = False
        self.status_hooks: list[StatusHook] = []  # told when the account logs in, logs out or cannot log in

    @property
    def logged_in(self) -> bool:
        return self._logged_in.is_set()

    async def connect(self) -> None:
        """Connect and wait for the WeChat login; raises ConnectorError when that cannot happen in time."""
        try:
            await self._connect()
        except ConnectorError as exc:
            await self._tell("refused", first_line(exc))
            raise

    async def _connect(self) -> None:
        self._stopping = False
        lib = self.lib = load_wechaty(self.cache_dir)
        await self._probe()
        options = lib.WechatyOptions(puppet_options=lib.PuppetOptions(), endpoint=self.endpoint, token=self.token)
        self._bot = lib.Wechaty(options)
        # Its plugin manager would open job.db, a web server on port 5000 and drop the login.
        self._bot._plugin_manager.start = _nothing
        self._first_login = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._keep_linked(), name="wechaty-link")
        try:
            async with asyncio.timeout(self.login_timeout):
                await asyncio.shield(self._first_login)
        except TimeoutError:
            raise ConnectorError(
                f"{self.login_timeout:g} 秒内没有登录微信（Wechaty 服务 {self.endpoint}）；需要扫码时请调大"
                f" wechaty.login_timeout / no WeChat login within {self.login_timeout:g} s through the Wechaty"
                f" puppet service at {self.endpoint}; raise wechaty.login_timeout if a QR code must be scanned"
            ) from None

    async def close(self) -> None:
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
                log.debug("wechaty stop: %s", first_line(exc))
        if puppet is not None:
            _unbind(puppet)  # calls still waiting on the link fail now instead of hanging
        if self._task is not None:
            await finish(self._task)
        self._task = None
        self._puppet = None

    async def up(self) -> None:
        """The account logged in (the first time or again): sends and lookups may go."""
        self.logins += 1
        self._logged_in.set()
        if self._first_login is not None and not self._first_login.done():
            self._first_login.set_result(None)
        await self._tell("online", "")

    async def down(self, why: str) -> None:
        """The account logged out (WeChat's words: some mean it refuses the account): sends wait for the next login."""
        self._logged_in.clear()
        await self._tell("refused" if any(word in why.lower() for word in BANNED) else "logged_out", why)

    async def _tell(self, status: str, why: str) -> None:
        """The account's status to whoever listens; their failure is theirs (logged), never the link's."""
        for hook in self.status_hooks:
            try:
                await hook(status, why)
            except Exception:
                log.exception("account status %s not recorded", status)

    async def ready(self, target: str) -> None:
        """A short drop should not cost a message a retry: wait a little for the next login."""
        if not self._logged_in.is_set() and self._task is not None and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._logged_in.wait(), LINK_WAIT)
        if not self._logged_in.is_set():
            raise LinkDown(f"WeChat is not connected through {self.endpoint}: not sent to {target}")

    async def rpc(self, method: str, *args: Any, timeout: float = RPC_TIMEOUT) -> Any:
        """One call on the puppet (a lookup, a send, an accept); LinkDown when there is no link."""
        puppet = self._puppet
        if puppet is None or puppet._puppet_stub is None:
            raise LinkDown("not connected to the Wechaty puppet service")
        return await asyncio.wait_for(getattr(puppet, method)(*args), timeout)

    async def unary(self, route: str, request: Any, response_type: type[Any], *, timeout: float = RPC_TIMEOUT) -> Any:
        """A unary call on the puppet service's gRPC stub with a request of our own (where python-wechaty's is
        wrong for the service: bot/connectors/wechaty/announce.py)."""
        puppet = self._puppet
        if puppet is None or puppet._puppet_stub is None:
            raise LinkDown("not connected to the Wechaty puppet service")
        return await asyncio.wait_for(puppet._puppet_stub._unary_unary(route, request, response_type), timeout)

    async def stream(self, method: str, **request: Any) -> AsyncIterator[Any]:
        """A streaming call on the puppet service's gRPC stub (a picture's bytes): python-wechaty does not wrap it."""
        puppet = self._puppet
        if puppet is None or puppet._puppet_stub is None:
            raise LinkDown("not connected to the Wechaty puppet service")
        async for response in getattr(puppet._puppet_stub, method)(**request):
            yield response

    def trouble(self, exc: BaseException) -> bool:
        """Whether a failure came from the link going down (the event is worth handling again later)."""
        lib = self.lib
        lost = (LinkDown, OSError, TimeoutError) if lib is None else (LinkDown, OSError, TimeoutError, lib.LinkLost)
        return isinstance(exc, lost)

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
        lib = self.lib
        denied = (lib.Status.UNAUTHENTICATED, lib.Status.PERMISSION_DENIED) if lib is not None else ()
        if lib is not None and isinstance(exc, lib.GRPCError) and exc.status in denied:
            return ConnectorError(
                f"Wechaty 服务 {self.endpoint} 拒绝了 token：请检查 {TOKEN_ENV}"
                f" / the Wechaty puppet service at {self.endpoint} refused the token (check {TOKEN_ENV})"
            )
        return ConnectorError(
            f"连接 Wechaty 服务 {self.endpoint} 失败：{first_line(exc)}"
            f" / connecting to the Wechaty puppet service at {self.endpoint} failed: {first_line(exc)}"
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
                reason = first_line(exc).split(" / ")[-1]
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
            puppet.on(name, _Enqueue(self.events, name))
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
                    "no answer to a ding from the Wechaty puppet service (%s); dropping the link", first_line(exc)
                )
                if puppet.channel is not None:
                    puppet.channel.close()
                return


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


async def finish(task: asyncio.Task[Any]) -> None:
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
