"""Registers what the engine itself provides: triggers, generic conditions, flow control, the windows' tables
(bot/windows.py), which the abilities' windows (quiz, claim) and every database need, the `moderation:`
section of config.yaml (bot/moderation/config.py) and `member.days_in_room`, and the `alerts:` section
(bot/alerts.py), which the outbox needs to tell staff about a refused removal, and the `privacy:` section
(bot/privacy.py) and the `traces:` section (bot/traces/config.py), which housekeeping reads, and the fleet's
tables (bot/fleet/tables.py)."""

from bot import alerts, conditions, flow, privacy, triggers, windows
from bot.fleet import tables as fleet
from bot.moderation import config as moderation
from bot.moderation import members
from bot.traces import config as traces

__all__ = ["alerts", "conditions", "fleet", "flow", "members", "moderation", "privacy", "traces", "triggers", "windows"]
