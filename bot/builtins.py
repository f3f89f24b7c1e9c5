"""Registers what the engine itself provides: triggers, generic conditions, flow control, and the windows'
tables (bot/windows.py), which the abilities' windows (quiz, claim) and every database need, and the
`moderation:` section of config.yaml (bot/moderation/config.py) and `member.days_in_room`."""

from bot import conditions, flow, triggers, windows
from bot.moderation import config as moderation
from bot.moderation import members

__all__ = ["conditions", "flow", "members", "moderation", "triggers", "windows"]
