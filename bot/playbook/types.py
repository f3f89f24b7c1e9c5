"""Value types operators write in YAML, each with a one-line fix-it error."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
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


_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_day(token: str) -> int:
    """A cron weekday (0-7 or a name) as 0=Sunday..6=Saturday."""
    token = token.lower()
    if token in _CRON_DAY_NAMES:
        return _CRON_DAY_NAMES.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"weekday '{token}' is not 0-7 or sun..sat")


def _cron_weekdays(field: str) -> str:
    """Expand the weekday field into APScheduler day names: APScheduler reads 0 as Monday, cron as Sunday."""
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"weekday step '{step_text}' is not a positive number")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = _cron_day(low), _cron_day(high)
            if last == 0 and first > 0:
                last = 7
            if last < first:
                raise ValueError(f"weekday range '{span}' runs backwards")
        else:
            first = last = _cron_day(span)
            if step:
                last = 6
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    return ",".join(_CRON_DAY_NAMES[d] for d in sorted(days))


def cron_trigger(spec: str, timezone: Any) -> BaseTrigger:
    """Standard 5-field cron: weekdays count from Sunday, and a restricted day and weekday mean either one."""
    minute, hour, day, month, dow = spec.split()
    dow = _cron_weekdays(dow)

    def cron(day: str, dow: str) -> CronTrigger:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=timezone)

    if day != "*" and dow != "*":
        return OrTrigger([cron(day, "*"), cron("*", dow)])
    return cron(day, dow)


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


# -- JSON Schema of these types, for editors (bot/playbook/schema.py). Editors run `pattern` as an ECMA-262
# regex, where \d is 0-9 and \s lacks a few of Python's spaces; the loader reads Python's \d (full-width
# digits from a Chinese IME: １４) and trims with str.strip(). So patterns spell both out, never narrower
# than the loader: a value the loader takes must never be underlined.

# Where each run of ten decimal digits starts in the Basic Multilingual Plane: Python's \d and int() read
# them all. (Digits beyond it, like 𝟙, are left out: no operator types them.)
_DIGIT_RUNS = (
    *(0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66),
    *(0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50),
    *(0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10),
)
DIGIT = "[{}]".format("".join(f"\\u{zero:04x}-\\u{zero + 9:04x}" for zero in _DIGIT_RUNS))
BLANK = r"[\s\x1c-\x1f\x85]"  # what str.strip() removes, in ECMA and Python alike
WORD_SCHEMA: dict[str, Any] = {"type": ["string", "number"]}  # text, where a YAML number counts as its digits


def _schema(**schema: Any) -> WithJsonSchema:
    return WithJsonSchema(schema)


def one_or_list(item: dict[str, Any]) -> WithJsonSchema:
    """The schema of an option that takes one item or a list of them."""
    return WithJsonSchema({"anyOf": [item, {"type": "array", "items": item}]})


def trimmed(pattern: str) -> str:
    """A whole-value JSON Schema pattern, allowing the blanks the loader strips around it."""
    return f"^{BLANK}*(?:{pattern}){BLANK}*$"


def _any_case(word: str) -> str:
    """A JSON Schema regex for `word` in any letter case (ECMA regexes have no inline flags)."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in word)


_WEEKDAY_PATTERN = trimmed(
    "{}|(周|星期|礼拜)[{}]".format("|".join(_any_case(w) for w in (*_FULL_WEEKDAYS, *WEEKDAYS)), "".join(_ZH_WEEKDAYS))
)

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda v: f"{int(v.total_seconds())}s"),
    _schema(type="string", pattern=trimmed(f"(?:{DIGIT}+[smhdwSMHDW])+"), examples=["30s", "10m", "2h", "1d"]),
]
LocalTime = Annotated[
    time, BeforeValidator(_time), _schema(type="string", pattern=trimmed(f"{DIGIT}{{1,2}}:{DIGIT}{{2}}"))
]
Weekday = Annotated[
    int, BeforeValidator(_weekday), _schema(type="string", pattern=_WEEKDAY_PATTERN, examples=[*WEEKDAYS, "周一"])
]
LocalDateTime = Annotated[datetime, BeforeValidator(_datetime), _schema(type="string", examples=["2026-12-12 20:00"])]
TextField = Annotated[Text, BeforeValidator(_text), WithJsonSchema(WORD_SCHEMA)]
ExprField = Annotated[Expr, BeforeValidator(_expr), _schema(type=["string", "boolean"])]  # `expr: true` reads 'true'
# A Python regex: `(?P<name>...)` fills message.groups. Not `format: regex`, which editors check as ECMA-262.
Regex = Annotated[re.Pattern[str], BeforeValidator(_regex), _schema(type="string", examples=["^查(?P<what>积分|券)$"])]
Cron = Annotated[str, BeforeValidator(_cron), _schema(type="string", examples=["0 20 * * WED"])]
