"""Moderation's actions, staff commands and tables: warnings with expiry, removals, the blacklist, alerts to
staff and the moderation log (MODERATION.md). What fires them (`has`, `words`, `flood`) is the triggers'."""

from handlers.moderation import actions, blacklist, commands, log, panels, staffroom, throttle

__all__ = ["actions", "blacklist", "commands", "log", "panels", "staffroom", "throttle"]
