"""Located problems: every report an operator sees is `path:line:col: message`.

Messages are English here and in logs; the CLI and /重载 show them in the configured language (bot/i18n).
An error keeps a playbook (or a config, a scenario) from loading; a warning only tells.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Location:
    path: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    location: Location
    message: str
    warning: bool = False

    @property
    def text(self) -> str:
        """The message with its kind, as the catalog knows it: 'warning: ...' for a warning."""
        return f"warning: {self.message}" if self.warning else self.message

    def __str__(self) -> str:
        return f"{self.location}: {self.text}"


class Problems:
    """Collects every problem of a check (or, with `warnings=True`, every warning) to report them at once."""

    def __init__(self, *, warnings: bool = False) -> None:
        self._items: list[Problem] = []
        self._warnings = warnings

    def add(self, location: Location, message: str) -> None:
        self._items.append(Problem(location, message, self._warnings))

    def extend(self, other: Iterable[Problem]) -> None:
        self._items.extend(other)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def sorted(self) -> list[Problem]:
        return sorted(set(self._items))


class ProblemsError(Exception):
    """Raised where a caller must not go on with a broken file (config, scenario)."""

    def __init__(self, problems: list[Problem], *, language: str | None = None) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.language = language  # the one the broken file asks for, when it could be read


def closest(word: object, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(word), sorted(options), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: object, options: Iterable[str], prefix: str = "") -> str:
    """A " (did you mean 'x'?)" suffix, or '' when nothing is close."""
    best = closest(word, options)
    return f" (did you mean '{prefix}{best}'?)" if best else ""
