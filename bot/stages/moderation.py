"""Moderation playbooks (`has`, `words`, `flood`: ../shared/MODERATION.md) run here, before staff commands,
open windows and every other playbook. When one acts on a message (its `if:` held and it did not fail), the
message is consumed: nothing after this stage sees it, so an advert that says 抢券 gets no coupon. A failing
moderation playbook is logged (bot/runner.py) and the message goes on.

Staff (any role in config.yaml) and members with one of `moderation: {exempt_tags}` are never moderated, and
the shop's own links, mini-programs and QR codes are no adverts (bot/moderation/content.py); the alert room
(config.yaml `alerts:`) is never moderated. Flood counts live in this stage's memory, bounded
(bot/moderation/flood.py), timed by the event's turn on the bot's clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.alerts import is_alert_room
from bot.context import FieldContext
from bot.events import RoomRef
from bot.moderation.config import ModerationSection
from bot.moderation.flood import FloodCounter
from bot.stages.playbooks import run_matches
from bot.stages.stage import Stage, Turn

if TYPE_CHECKING:
    from bot.context import Runtime


class Moderation(Stage):
    name = "moderation"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.flood = FloodCounter()

    async def handle(self, turn: Turn) -> bool:
        event, index, config = turn.event, turn.playbooks.index, self.runtime.config
        if event.kind != "message" or not index.moderation:
            return False
        member = event.member
        assert member is not None
        if config.role_of(member.id) is not None or member.id == self.runtime.bot_id:
            return False
        section = config.section(ModerationSection)
        matches = index.screen(event, section.allow, self.flood, turn.now)  # type: ignore[arg-type]
        if not matches or await self._exempt(turn, member.id, section) or await self._alert_room(turn):
            return False
        return await run_matches(self.runtime, turn, matches, stage="moderation")

    async def _alert_room(self, turn: Turn) -> bool:
        """Staff discuss adverts in the alert room (quoting them): it is never moderated, even when managed."""
        room = turn.event.room
        if room is None:
            return False

        async def named(name: str) -> list[RoomRef]:
            return await self.runtime.rooms.named(turn.conn, name)

        return await is_alert_room(turn.conn, self.runtime.config, named, room.id)

    async def _exempt(self, turn: Turn, member_id: str, section: ModerationSection) -> bool:
        """Tagged with one of the exempt tags (read only when a rule would act: most messages never ask)."""
        tags = self.runtime.registry.member_fields.get("tags")
        if not section.exempt_tags or tags is None:
            return False
        have = await tags(FieldContext(turn.conn, self.runtime.config, turn.now), member_id)
        return bool(set(have) & set(section.exempt_tags))
