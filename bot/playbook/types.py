"""Value types operators write in YAML, each with a one-line fix-it error."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from apscheduler.triggers.cron import CronTrigger
from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from bot.playbook.templates import Expr, Text


class Params(BaseModel):
    """Base of every YAML-facing model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:\d+[smhdw])+$")


def parse_duration(value: object) -> timedelta:
    text = str(value).strip().lower()
    if isinstance(value, bool) or not _DURATION.match(text):
        raise PydanticCustomError("duration", "must be a duration like 30s, 10m, 2h, 1d; got '{got}'", {"got": value})
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    if seconds <= 0:
        raise PydanticCustomError("duration", "must be longer than 0s; got '{got}'", {"got": value})
    return timedelta(seconds=seconds)


def _time(value: object) -> time:
    match = re.match(r"^(\d{1,2}):(\d{2})$", str(value).strip())
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    if str(value).strip() == "24:00":
        return time.max
    raise PydanticCustomError("time", "must be a time like 09:00; got '{got}'", {"got": value})


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def _weekday(value: object) -> int:
    text = str(value).strip().lower()
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    if text in _FULL_WEEKDAYS:
        return _FULL_WEEKDAYS.index(text)
    for prefix in ("周", "星期", "礼拜"):
        if text.startswith(prefix) and text[len(prefix) :] in _ZH_WEEKDAYS:
            return _ZH_WEEKDAYS[text[len(prefix) :]]
    raise PydanticCustomError(
        "weekday", "must be a weekday (mon, tue, ... sun or 周一 ... 周日); got '{got}'", {"got": value}
    )


def _datetime(value: object) -> datetime:
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise PydanticCustomError(
        "datetime", "must be a local date and time like 2026-12-12 20:00; got '{got}'", {"got": value}
    )


def _text(value: object) -> Text:
    if isinstance(value, Text):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PydanticCustomError("text", "must be text; got {kind}", {"kind": _kind(value)})
    try:
        return Text(value)
    except TemplateSyntaxError as exc:
        raise PydanticCustomError(
            "template",
            "has a template error on its line {line}: {msg}",
            {"line": exc.lineno, "msg": exc.message},
        ) from None


def _expr(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("expr", "must be an expression like 'member.points >= 100'", {})
    try:
        return Expr(value)
    except TemplateSyntaxError as exc:
        raise PydanticCustomError("expr", "is not a valid expression: {msg}", {"msg": exc.message}) from None


def _regex(value: object) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise PydanticCustomError("regex", "must be a regular expression in quotes", {})
    try:
        return re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "is not a valid regular expression: {msg} (in '{got}')", {"msg": str(exc), "got": value}
        ) from None


_CRON_DOW_NUMBERS = {
    "0": "sun",
    "1": "mon",
    "2": "tue",
    "3": "wed",
    "4": "thu",
    "5": "fri",
    "6": "sat",
    "7": "sun",
}


def cron_trigger(spec: str, timezone: Any) -> CronTrigger:
    """Standard 5-field cron. APScheduler 3 reads weekday 0 as Monday; cron means Sunday."""
    minute, hour, day, month, dow = spec.split()
    dow = re.sub(r"\d+", lambda m: _CRON_DOW_NUMBERS.get(m[0], m[0]), dow)
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=timezone)


def _cron(value: object) -> str:
    text = " ".join(str(value).split())
    if len(text.split()) != 5:
        raise PydanticCustomError(
            "cron",
            "must be a cron line of 5 fields (minute hour day month weekday), like '0 20 * * WED'; got '{got}'",
            {"got": value},
        )
    try:
        cron_trigger(text, "UTC")
    except ValueError as exc:
        raise PydanticCustomError(
            "cron", "is not a valid cron line: {msg}; got '{got}'", {"msg": str(exc), "got": value}
        ) from None
    return text


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"'{value}'"


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda v: f"{int(v.total_seconds())}s"),
    _schema(type="string", pattern=r"^(\d+[smhdw])+$", examples=["30s", "10m", "2h", "1d"]),
]
LocalTime = Annotated[time, BeforeValidator(_time), _schema(type="string", pattern=r"^\d{1,2}:\d{2}$")]
Weekday = Annotated[int, BeforeValidator(_weekday), _schema(type="string", enum=list(WEEKDAYS))]
LocalDateTime = Annotated[datetime, BeforeValidator(_datetime), _schema(type="string", examples=["2026-12-12 20:00"])]
TextField = Annotated[Text, BeforeValidator(_text), _schema(type="string")]
ExprField = Annotated[Expr, BeforeValidator(_expr), _schema(type="string")]
Regex = Annotated[re.Pattern[str], BeforeValidator(_regex), _schema(type="string", format="regex")]
Cron = Annotated[str, BeforeValidator(_cron), _schema(type="string", examples=["0 20 * * WED"])]
