"""Registers what the engine itself provides: triggers, generic conditions, flow control, the windows' tables
(bot/windows.py), which the abilities' windows (quiz, claim) and every database need, and the `alerts:` section
(bot/alerts.py), which the outbox needs to tell staff about a refused removal."""

from bot import alerts, conditions, flow, triggers, windows

__all__ = ["alerts", "conditions", "flow", "triggers", "windows"]
