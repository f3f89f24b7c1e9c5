"""The pipeline every event takes, in order; each stage handles the event or passes it on (bot/stages/stage.py).

    dedup      seen once? then members, rooms, membership recorded (nothing with an effect runs before it)
    speaker    a fleet: the group's speaker counts activity and goes on; other accounts hold the event
    unbound    a group nobody bound: its room row, /绑定 and a log line; nothing else
    friends    a friend request: accepted or left unanswered, per config.friends
    optout     退订 / 订阅
    guards     the abilities' checks of joins and messages (a blacklisted member joining again is removed)
    moderation moderation playbooks (has, words, flood): a message one acts on goes no further
    commands   staff commands: role-checked, audited; no playbook sees them
    windows    open quizzes and coupon drops see the messages in their room; a window's end is announced
    playbooks  the trigger index, then each playbook's conditions and actions

A new stage is a module here and one line in `pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.stages.commands import Commands
from bot.stages.dedup import Dedup
from bot.stages.friends import Friends
from bot.stages.guards import Guards
from bot.stages.moderation import Moderation
from bot.stages.optout import OptOut
from bot.stages.playbooks import Playbooks
from bot.stages.speaker import Speaker
from bot.stages.stage import Stage, Turn
from bot.stages.unbound import Unbound
from bot.stages.windows import Windows

if TYPE_CHECKING:
    from bot.context import Runtime

__all__ = ["Stage", "Turn", "pipeline"]


def pipeline(runtime: Runtime) -> list[Stage]:
    return [
        Dedup(runtime),
        Speaker(runtime),
        Unbound(runtime),
        Friends(runtime),
        OptOut(runtime),
        Guards(runtime),
        Moderation(runtime),
        Commands(runtime),
        Windows(runtime),
        Playbooks(runtime),
    ]
