"""The shape of the event path (issue 12): one entry through the connector, an ordered pipeline of stages
that each handle an event or pass it on, and one registry of abilities."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy import select

from bot.config import Config, StaffSection
from bot.connectors.memory import MemoryConnector
from bot.events import Event, MessageEvent
from bot.registry import load_abilities
from bot.stages import Stage, Turn
from bot.store.tables import AuditEntry, Member
from bot.testing import TestBot

pytestmark = pytest.mark.usefixtures("backend")

ROOT = Path(__file__).resolve().parent.parent
ECHO = {
    "playbooks/echo.yaml": dedent("""
        id: echo
        when:
          - message: {keywords: [广告, 你好]}
        do:
          - reply: 收到
    """)
}
STAFF = Config(staff=StaffSection(staff=["clerk"]))


class Heard(MemoryConnector):
    """A platform that remembers every event it handed to the bot."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[Event] = []

    async def deliver(self, event: Event) -> object:
        self.delivered.append(event)
        return await super().deliver(event)


async def test_events_come_in_through_the_connector_that_bot_start_started() -> None:
    """TestBot's events take the road a WeChat event takes: the emit Bot.start gave the connector."""
    connector = Heard()
    async with TestBot.running(ECHO, connector=connector) as bot:
        assert connector.emit == bot.bot.receive
        await bot.say("u1", "你好", room="r1")
        await bot.join("u2", "r1")
        assert [e.kind for e in connector.delivered] == ["message", "join"]
    assert connector.emit is None  # stopped with the bot


async def test_the_pipeline_runs_its_stages_in_order() -> None:
    async with TestBot.running(ECHO) as bot:
        names = [stage.name for stage in bot.engine.stages]
        assert names == [
            "dedup",
            "speaker",
            "unbound",
            "friends",
            "optout",
            "guards",
            "moderation",
            "commands",
            "windows",
            "playbooks",
        ]


class StopAdverts(Stage):
    """A stage an ability might add: a message with an advert stops here."""

    name = "stop-adverts"

    async def handle(self, turn: Turn) -> bool:
        return turn.event.kind == "message" and "广告" in turn.event.text  # type: ignore[union-attr]


async def test_a_stage_added_before_the_commands_sees_events_already_deduplicated_and_recorded() -> None:
    """Adding a stage is one line: it sees each event once, after it was recorded, and stops it if it says so:
    no staff command and no playbook sees an event it handled."""
    async with TestBot.running(ECHO, config=STAFF) as bot:
        stages = bot.engine.stages
        stages.insert([s.name for s in stages].index("commands"), StopAdverts(bot.engine))
        assert await bot.say("u1", "广告 /帮助", room="r1", event_id="wx-1") == []
        assert await bot.say("clerk", "/帮助 广告", room="r1") == []
        assert [m.text for m in await bot.say("u1", "你好", room="r1")] == ["收到"]
        assert await bot.dispatch(_message(bot, "wx-1", "你好")) == []  # the same id again: a duplicate still
        members = await bot.rows(select(Member.__table__.c.id).order_by(Member.__table__.c.id))
        assert [r.id for r in members] == ["clerk", "u1"]  # recorded before the added stage stopped them
        assert await bot.rows(select(AuditEntry.__table__)) == []  # the command never ran


def _message(bot: TestBot, event_id: str, text: str) -> Event:
    return MessageEvent(event_id, bot.clock.now(), bot.member("u1"), text, bot.room("r1"))


def test_one_registry_holds_every_kind_of_ability() -> None:
    registry = load_abilities()
    assert {"checkin", "dm", "invite", "for_each"} <= registry.actions.keys()
    assert {"once", "tags"} <= registry.conditions.keys()
    assert {"points", "streak", "wallet"} <= registry.member_fields.keys()
    assert registry.commands["核销"].name == registry.commands["redeem"].name == "核销"
    assert set(registry.window_kinds) == {"quiz", "claim", "group_buy"}


def test_qunguan_check_loads_the_abilities_without_the_runtime() -> None:
    """The language and the registry are enough to check playbooks: no engine, outbox, store session or
    connector is imported (a check on a machine without the bot's database or WeChat)."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli import app\n"
        "result = CliRunner().invoke(app, ['check', 'playbooks'])\n"
        "assert result.exit_code == 0, result.output\n"
        "runtime = ('bot.engine', 'bot.app', 'bot.outbox', 'bot.intake', 'bot.scheduler', 'bot.stages')\n"
        "print(sorted(m for m in sys.modules if m.startswith(runtime) or m.startswith('bot.connectors.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
