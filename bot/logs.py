"""The one logging setup of every `qunguan` command: levels, format, timezone, secrets, library noise.

- One record is one line, stamped in the shop's timezone (config.yaml `timezone`). Member text is
  shown with its control characters escaped, so a name holding a newline or an escape sequence can
  neither forge a line nor act on the terminal; a traceback follows its record, each line indented.
- A registered secret (the puppet token) is masked in every record of every logger, libraries
  included: at DEBUG, hpack prints the HTTP/2 headers of each gRPC call, the token among them.
- APScheduler logs each job run at INFO (a 1-second job, twice a second, forever): it shows only
  warnings and errors.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from bot.textnorm import printable

if TYPE_CHECKING:
    from bot.config import Config

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTINUATION = "  | "  # starts each line of a traceback, under the record it belongs to
MASK = "***"
LIBRARY_LEVELS = {"apscheduler": logging.WARNING}  # the least level these libraries' loggers show
# hpack dumps whole header blocks at DEBUG: a secret in one is Huffman-coded, which no text match finds
_HPACK_BLOCKS = frozenset({"Encoded header block to %s", "Decoding %s"})

# What the logging module gathers for every record and FORMAT never shows (a system call for the process id, the
# thread's and process's names): a busy bot logs a line per event, so `setup` has it skip them and `close` restores.
_UNSHOWN = ("logThreads", "logProcesses", "logMultiprocessing")

_secrets: set[str] = set()
_handlers: list[logging.Handler] = []


class LogFileError(Exception):
    """The log file cannot be opened for appending: one line for the operator."""


def add_secret(secret: str) -> None:
    """Mask `secret` in every log record from now on, also percent-encoded (as gRPC errors carry it)."""
    if secret:
        _secrets.update({secret, quote(secret, safe=""), quote(secret, safe="!~*'()")})


def level(configured: str, *, verbose: int = 0, quiet: int = 0) -> int:
    """`log_level` moved one step per -v (more) or -q (less), between DEBUG and ERROR."""
    index = min(max(LEVELS.index(configured) - verbose + quiet, 0), len(LEVELS) - 1)
    return int(getattr(logging, LEVELS[index]))


def setup(
    config: Config,
    *,
    interactive: bool = True,
    verbose: int = 0,
    quiet: int = 0,
    log_file: Path | None = None,
) -> None:
    """Send every logger's records through our handlers (again: the previous setup is undone).

    The log file, if any, is appended at `log_level` moved by -v/-q. The terminal (stderr) gets the
    same, except that in an interactive command (the simulator's chat, a report) or next to a log
    file it shows only warnings and errors, unless -v asks for more.
    """
    close()
    wanted = level(config.log_level, verbose=verbose, quiet=quiet)
    handlers: list[tuple[logging.Handler, int]] = []
    if log_file is not None:
        handlers.append((_open(log_file), wanted))
    quiet_terminal = (interactive or log_file is not None) and not verbose
    handlers.append((_Terminal(), max(wanted, logging.WARNING) if quiet_terminal else wanted))
    root = logging.getLogger()
    formatter = LineFormatter(config.tz)
    for handler, least in handlers:
        handler.setLevel(least)
        handler.setFormatter(formatter)
        handler.addFilter(SecretFilter())
        root.addHandler(handler)
        _handlers.append(handler)
    root.setLevel(min(least for _handler, least in handlers))
    for name, least in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(least)
    for flag in _UNSHOWN:
        setattr(logging, flag, False)


def close() -> None:
    """Undo `setup`: our handlers leave the root logger and the log file is closed."""
    root = logging.getLogger()
    for flag in _UNSHOWN:
        setattr(logging, flag, True)
    while _handlers:
        handler = _handlers.pop()
        root.removeHandler(handler)
        handler.close()


def _open(path: Path) -> logging.FileHandler:
    """Appended, created owner-only (it holds member ids and texts), its folder made if missing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        return logging.FileHandler(path, mode="a", encoding="utf-8")
    except OSError as exc:
        raise LogFileError(f"cannot append to the log file {path}: {exc.strerror or exc}") from None


class _Terminal(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr as it is when a record comes (a test runner swaps it per command), like logging.lastResort."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


class SecretFilter(logging.Filter):
    """Masks registered secrets in a record from any logger: its message, its arguments, its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("hpack") and str(record.msg) in _HPACK_BLOCKS and isinstance(record.args, tuple):
            record.args = tuple(_size(arg) for arg in record.args)
        if not _secrets:
            return True
        message = _message(record)
        masked = _mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _mask(record.exc_text)
        if record.stack_info:
            record.stack_info = _mask(record.stack_info)
        return True


def _size(arg: Any) -> Any:
    return f"<{len(arg)} bytes>" if isinstance(arg, bytes | bytearray | memoryview) else arg


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # arguments that do not fit the format: show both rather than lose the record
        return f"{record.msg} {record.args!r}"


def _mask(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class LineFormatter(logging.Formatter):
    """One line per record, in the shop's timezone; a traceback follows on indented lines."""

    def __init__(self, tz: tzinfo) -> None:
        super().__init__(FORMAT)
        self.tz = tz
        self._second: tuple[int, str, str] = (-1, "", "")  # the last second stamped: its date-time and its offset

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's second is formatted once however many lines it has (a busy bot logs hundreds a second)."""
        whole = int(record.created)
        second, stamp, offset = self._second
        if whole != second:
            moment = datetime.fromtimestamp(whole, self.tz)
            stamp, offset = f"{moment:%Y-%m-%d %H:%M:%S}", f"{moment:%z}"
            self._second = (whole, stamp, offset)
        return f"{stamp}.{int(record.msecs):03d}{offset}"

    def format(self, record: logging.LogRecord) -> str:
        record.message = printable(_message(record))
        record.asctime = self.formatTime(record)
        lines = [self.formatMessage(record)]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info):
            if block:
                lines += [CONTINUATION + printable(line) for line in block.splitlines()]
        return "\n".join(lines)
