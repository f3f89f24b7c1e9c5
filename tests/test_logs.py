"""Logs an operator can read and share: one line per record, shop time, no secrets, no chatter.

bot/logs.py is the one logging setup of every command; `qunguan run` adds --log-file and -v/-q.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from hpack import Encoder
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

from bot import logs
from bot.clock import SystemClock
from bot.config import Config

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "puppet_padlocal_3f2a9c1e-secret"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d{4}"
RECORD = re.compile(rf"^{STAMP} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Config]:
    """Our setup at DEBUG on the terminal (stderr, read through capsys); undone afterwards."""
    config = Config(log_level="DEBUG", timezone="Asia/Shanghai")
    logs.setup(config, interactive=False)
    try:
        yield config
    finally:
        logs.close()


def records(err: str) -> list[str]:
    lines = err.splitlines()
    assert all(RECORD.match(line) or line.startswith(logs.CONTINUATION) for line in lines), lines
    return [line for line in lines if RECORD.match(line)]


# ---------------------------------------------------------------- secrets


def test_a_registered_secret_is_masked_in_every_loggers_message_arguments_and_traceback(
    logged: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.add_secret(TOKEN)
    logging.getLogger("grpclib.client").debug("authorization: Wechaty %s", TOKEN)
    logging.getLogger("some.library").warning("grpc-message: Invalid%%20TOKEN%%20%%22%s%%22", TOKEN)
    try:
        raise ValueError(f"token {TOKEN} refused")
    except ValueError:
        logging.getLogger("another").exception("it failed")
    logging.getLogger("a.library").info("no secret here", stack_info=True)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "authorization: Wechaty ***" in err
    assert "Invalid%20TOKEN%20%22***%22" in err
    assert "ValueError: token *** refused" in err
    assert len(records(err)) == 4


def test_hpack_debug_lines_show_headers_with_the_token_masked_and_no_raw_header_blocks(
    logged: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """hpack, a library three levels under wechaty, logs every header it encodes, the token included."""
    logs.add_secret(TOKEN)
    Encoder().encode([(":method", "POST"), (":authority", TOKEN), ("authorization", f"Wechaty {TOKEN}")])
    err = capsys.readouterr().err
    assert "DEBUG hpack.hpack: Adding b':authority'=b'***' to the header table" in err
    assert "Adding b'authorization'=b'Wechaty ***'" in err
    huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(TOKEN.encode())
    shown = [eval(b) for b in re.findall(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""", err)]  # bytes literals
    assert shown, err
    assert not [b for b in shown if TOKEN.encode() in b or huffman in b]  # not even Huffman-coded
    assert TOKEN not in err
    assert re.search(r"Encoded header block to <\d+ bytes>", err)


# ---------------------------------------------------------------- one line per record, in the shop's time


def test_member_text_cannot_forge_a_line_or_act_on_the_terminal(
    logged: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = "2026-01-01 00:00:00.000+0800 WARNING qunguan.engine: 伪造"
    logging.getLogger("a.library").info("handled join from %s", f"小王\n{forged}\x1b[2J\x1b]0;标题\x07")
    try:
        raise KeyError("小王")
    except KeyError:
        logging.getLogger("a.library").exception("playbook failed for %s", f"小王\n{forged}")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    (joined, failed) = records(err)
    assert joined.endswith(f"handled join from 小王\\n{forged}\\x1b[2J\\x1b]0;标题\\x07")
    assert failed.endswith(f"playbook failed for 小王\\n{forged}")
    assert f"{logs.CONTINUATION}Traceback (most recent call last):" in err.splitlines()


def test_times_are_in_the_configured_timezone() -> None:
    record = logging.makeLogRecord({"name": "qunguan.x", "levelname": "INFO", "msg": "hi", "created": 1_700_000_000.25})
    record.msecs = 250
    assert logs.LineFormatter(ZoneInfo("Asia/Shanghai")).format(record) == (
        "2023-11-15 06:13:20.250+0800 INFO qunguan.x: hi"
    )
    assert logs.LineFormatter(ZoneInfo("America/New_York")).format(record).startswith("2023-11-14 17:13:20.250-0500")


def test_one_formatter_stamps_each_record_with_its_own_second_and_offset_across_a_clock_change() -> None:
    """The formatter keeps the last second it stamped: a record in another second, or after daylight saving
    starts, still gets its own time and offset."""

    def line(created: float) -> str:
        record = logging.makeLogRecord({"name": "qunguan.x", "levelname": "INFO", "msg": "hi", "created": created})
        record.msecs = int((created - int(created)) * 1000)
        return formatter.format(record)

    formatter = logs.LineFormatter(ZoneInfo("America/New_York"))
    before = datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC).timestamp()  # 01:59:59 EST, a second before 03:00 EDT
    assert line(before + 0.5) == "2026-03-08 01:59:59.500-0500 INFO qunguan.x: hi"
    assert line(before + 0.75) == "2026-03-08 01:59:59.750-0500 INFO qunguan.x: hi"
    assert line(before + 1.25) == "2026-03-08 03:00:00.250-0400 INFO qunguan.x: hi"
    assert line(before + 0.5) == "2026-03-08 01:59:59.500-0500 INFO qunguan.x: hi"


def test_v_and_q_move_the_configured_level() -> None:
    assert logs.level("INFO") == logging.INFO
    assert logs.level("INFO", verbose=1) == logging.DEBUG
    assert logs.level("INFO", verbose=3) == logging.DEBUG
    assert logs.level("INFO", quiet=1) == logging.WARNING
    assert logs.level("WARNING", quiet=2) == logging.ERROR
    assert logs.level("DEBUG", verbose=1, quiet=2) == logging.INFO


# ---------------------------------------------------------------- APScheduler


async def test_apscheduler_job_chatter_is_silent_but_a_failing_job_still_shows(
    logged: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    done: asyncio.Queue[JobExecutionEvent] = asyncio.Queue()
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_listener(done.put_nowait, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    async def fine() -> None:
        return None

    async def broken() -> None:
        raise RuntimeError("the job broke")

    now = SystemClock().now()
    scheduler.add_job(fine, DateTrigger(now, timezone=UTC), id="fine")
    scheduler.add_job(broken, DateTrigger(now, timezone=UTC), id="broken")
    scheduler.start()
    try:
        finished = {(await done.get()).job_id, (await done.get()).job_id}
    finally:
        scheduler.shutdown(wait=False)
    assert finished == {"fine", "broken"}
    err = capsys.readouterr().err
    assert not [line for line in records(err) if re.search(r" (DEBUG|INFO) apscheduler", line)], err
    assert re.search(r" ERROR apscheduler\.executors\.default: Job .*broken.* raised an exception", err), err
    assert "RuntimeError: the job broke" in err


# ---------------------------------------------------------------- qunguan run --log-file, -v, -q


def run_simulator(home: Path, *args: str, lines: str = "签到\n") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", *args],
        input=lines,
        capture_output=True,
        text=True,
        cwd=home,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    (tmp_path / "config.yaml").write_text("timezone: Asia/Kathmandu\nlog_level: INFO\n", "utf-8")
    return tmp_path


@pytest.mark.slow
def test_log_file_gets_one_line_per_event_and_send_in_shop_time_and_is_appended(home: Path) -> None:
    first = run_simulator(home, "--log-file", "logs/qunguan.log")
    assert first.returncode == 0, first.stderr
    assert "签到成功" in first.stdout
    assert " INFO " not in first.stderr  # the chat's terminal still shows only warnings
    text = (home / "logs" / "qunguan.log").read_text("utf-8")
    lines = records(text)
    assert [line for line in lines if " INFO qunguan.engine: handled message " in line and "u1" in line]
    assert [line for line in lines if " INFO qunguan.outbox: sent reply " in line and "签到成功" in line]
    assert all(line[23:28] == "+0545" for line in lines)  # Asia/Kathmandu, whatever the machine's zone
    stamp = datetime.strptime(lines[-1][:28], "%Y-%m-%d %H:%M:%S.%f%z")
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert (home / "logs" / "qunguan.log").stat().st_mode & 0o077 == 0  # member ids and texts: owner only

    again = run_simulator(home, "--log-file", "logs/qunguan.log")
    assert again.returncode == 0, again.stderr
    appended = (home / "logs" / "qunguan.log").read_text("utf-8")
    assert appended.startswith(text) and len(records(appended)) > len(lines)


@pytest.mark.slow
def test_q_and_v_make_the_log_shorter_or_longer(home: Path) -> None:
    quiet = run_simulator(home, "-q", "--log-file", "quiet.log")
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in records((home / "quiet.log").read_text("utf-8")) if " INFO " in line]
    verbose = run_simulator(home, "-v", "--log-file", "verbose.log")
    assert verbose.returncode == 0, verbose.stderr
    assert [line for line in records((home / "verbose.log").read_text("utf-8")) if " DEBUG " in line]


def test_an_unwritable_log_file_is_one_clear_line(home: Path) -> None:
    (home / "taken").write_text("a file, not a folder", "utf-8")
    done = run_simulator(home, "--log-file", "taken/qunguan.log")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "taken/qunguan.log" in done.stderr.strip().splitlines()[-1]
