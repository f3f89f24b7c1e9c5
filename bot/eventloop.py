"""The event loop a serving bot runs on: uvloop's (libuv), not asyncio's own.

On PostgreSQL every statement is a round trip, and asyncio's selector loop spent about as much CPU on each one
(the socket write, the wake-up, the callbacks) as the statement's own Python: the full path handled 15-25% more
events a second on uvloop, same bot, same database (bench: pg_path_1). On SQLite, inline, it is neither faster
nor slower. `qunguan run` (simulator, WeChat) and the bench's bot rows run on it; one-shot commands and the tests'
own loops stay on asyncio's, which the bot runs on just as well.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")
log = logging.getLogger("qunguan.loop")


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on a uvloop loop (said at DEBUG, as asyncio says which selector its loop uses)."""
    log.debug("event loop: uvloop %s", uvloop.__version__)
    return uvloop.run(main)
