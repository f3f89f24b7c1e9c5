"""Importing python-wechaty 0.10.7 on Python 3.11, and what its import does to the process.

It only imports after shims (urllib3 2 lost `get_host`; `PuppetOptions` must be hashable), creates
`./.wechaty` unless CACHE_DIR is set first, raises on most WECHATY_LOG values, and its loggers print
straight to stderr in their own format (and print the token). Nothing outside this package imports it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

_lib: SimpleNamespace | None = None

_WECHATY_LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_WECHATY_LOG_LEVELS = ("silly", "verbose", "info", "warn", "error", "silent")
_WECHATY_PACKAGES = ("wechaty", "wechaty_puppet", "wechaty_puppet_service", "wechaty_grpc", "betterproto", "pyee")


def load_wechaty(cache_dir: Path) -> SimpleNamespace:
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


def first_line(exc: BaseException) -> str:
    """gRPC errors from Node carry a stack trace in their message: keep the first line."""
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
