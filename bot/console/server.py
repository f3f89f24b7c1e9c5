"""uvicorn on the caller's event loop: beside the bot in `qunguan run`, alone in `qunguan console`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from bot.console.app import create_app
from bot.console.guard import Console

STOP_WAIT = 5.0  # seconds open requests get to finish when the bot stops


class ListenError(Exception):
    """The console's address cannot be listened on (in use, not this machine's): one line for the operator."""


class _Server(uvicorn.Server):
    """The caller owns SIGINT and SIGTERM (the bot stops, and the server with it): uvicorn takes no signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(listen: str) -> socket.socket:
    """Bound before serving, so a taken port is a clear error here, not uvicorn's sys.exit inside the loop."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        info = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except OSError as exc:
        raise ListenError(f"cannot listen on {listen} (web.listen): {exc.strerror or exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serving(console: Console, listen: str | None = None) -> AsyncIterator[str | None]:
    """Serve the console for as long as the block runs, on `listen` or config.yaml's `web.listen` (neither:
    nothing is served). Yields the address listened on, host:port (port 0 in `listen` picks a free one)."""
    listen = listen or console.config.web.listen
    if listen is None:
        yield None
        return
    sock = _bind(listen)
    host, port = sock.getsockname()[:2]
    app = create_app(console)
    web = _Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.ensure_future(web.serve(sockets=[sock]))
    try:
        yield f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    finally:
        web.should_exit = True
        try:
            await asyncio.wait_for(task, STOP_WAIT)
        except TimeoutError:
            task.cancel()
        sock.close()
        sandboxes = getattr(app.state, "sandboxes", None)  # made on first use by the sandbox section
        if sandboxes is not None:
            await sandboxes.close()
        await console.reader.close()
