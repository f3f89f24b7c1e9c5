"""Registers what the engine itself provides: triggers, generic conditions, flow control."""

from bot import conditions, flow, triggers

__all__ = ["conditions", "flow", "triggers"]
