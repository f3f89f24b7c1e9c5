"""config.yaml's `sending:` section: the send governor's settings (bot/governor.py, docs/sending.md)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated

from pydantic import Field, PlainSerializer

from bot.playbook.types import Duration, LocalTime, Params

ClockTime = Annotated[LocalTime, PlainSerializer(lambda t: t.strftime("%H:%M"))]  # dumps as it loads


class QuietHours(Params):
    """Local hours in which scheduled and broadcast messages wait (replies still go); start == end: none."""

    start: ClockTime = time(22, 0)
    end: ClockTime = time(8, 0)


class ReplyBudget(Params):
    """How many answers the messages of one customer may get in a span (a flood is not answered message by
    message); past it that member gets no answer until the span has passed, though playbooks still act."""

    messages: int = Field(10, ge=1)
    per: Duration = timedelta(minutes=1)


class SendingSection(Params):
    """The send governor (bot/governor.py, docs/sending.md). WeChat bans accounts that send too fast
    or too regularly, so the defaults are meant to be safe for a real account."""

    pacing: bool = True  # false: every message leaves at once (only for a test account)
    gap: Duration = timedelta(seconds=1)  # least time between two sends of the account
    jitter: Duration | None = timedelta(seconds=2)  # plus a random 0..jitter, so sends are not regular
    room_gap: Duration = timedelta(seconds=3)  # least time between two sends to one room (or one member)
    per_minute: int = Field(20, ge=1)
    daily_limit: int = Field(500, ge=1)  # per local day; beyond it only replies go
    quiet_hours: QuietHours | None = QuietHours()
    welcome_batch: Duration = timedelta(seconds=10)  # welcomes wait this long so a join burst shares one
    welcome_batch_max: int = Field(20, ge=1)  # most newcomers @-mentioned in one welcome; 1 = never merge
    retries: int = Field(3, ge=0)  # after the first failed try
    retry_after: Duration = timedelta(seconds=30)  # doubles on each retry
    refused_pause: Duration = timedelta(minutes=10)  # after WeChat says 操作过于频繁; doubles on each refusal
    refused_pause_max: Duration = timedelta(hours=6)
    failures_to_pause: int = Field(5, ge=1)  # this many failed sends in a row also pause sending
    slow_start: int = Field(10, ge=0)  # after a pause, this many sends at three times the gap
    shutdown_grace: Duration = timedelta(seconds=5)  # on stop, keep sending this long; the rest waits
    reply_budget: ReplyBudget | None = ReplyBudget()  # answers per customer and span; staff are never held back
