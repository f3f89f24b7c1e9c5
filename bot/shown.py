"""Values as a record keeps them (a trace's JSON): scalars as they are, long texts cut, anything else as text.

Its own module because a playbook's calls keep their options in this form once (bot/playbook/model.py), and the
trace recorder shows every other value it records the same way (bot/traces/recorder.py)."""

from __future__ import annotations

from itertools import islice
from typing import Any

MAX_VALUE = 200  # characters of one recorded value
_AS_IS = frozenset({type(None), bool, int, float})


def plain(value: Any) -> Any:
    """A value as the trace's JSON keeps it: scalars as they are, long texts cut, anything else as text."""
    kind = type(value)  # exact types first (a check-in's variables are str, int, bool and dict): no isinstance walk
    if kind is str:
        return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"
    if kind in _AS_IS or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in islice(value.items(), 20)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value[:20]]
    text = str(getattr(value, "source", value))  # a template or an expression as written
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"
