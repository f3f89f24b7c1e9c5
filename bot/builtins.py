"""Registers what the engine itself provides: triggers, generic conditions, flow control, and the windows'
tables (bot/windows.py), which the abilities' windows (quiz, claim) and every database need."""

from bot import conditions, flow, triggers, windows

__all__ = ["conditions", "flow", "triggers", "windows"]
