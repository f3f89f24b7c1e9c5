"""`if:` conditions through the engine: who, when and how often a playbook may act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Config
from bot.events import Outgoing
from bot.store.tables import Cooldown, OnceMark
from bot.testing import TestBot
from handlers.points import PointsEntry

TZ = ZoneInfo("Asia/Shanghai")


def playbooks(*texts: str) -> dict[str, str]:
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def guarded(pid: str, condition: str, trigger: str = "message: {text: 测}") -> str:
    """A playbook that answers its own id when `trigger` fires and `condition` holds."""
    return f"""
id: {pid}
when:
  - {trigger}
if:
  - {condition}
do:
  - reply: {pid}
"""


# -- role


async def test_role_comes_from_the_wechat_id_never_from_the_display_name() -> None:
    """Anyone can rename themselves 店长; only the id in config.yaml is the owner."""
    cfg = Config.model_validate({"staff": {"owner": ["boss"], "admin": ["a1"]}})
    announce = guarded("announce", "role: [owner, admin]", "command: 公告")
    whoami = """
        id: whoami
        when:
          - command: 我是谁
        do:
          - reply: "{{ member.role }}"
    """
    async with TestBot.running(playbooks(announce, whoami), config=cfg) as bot:
        bot.member("boss", "店长")
        bot.member("impostor", "店长")
        bot.member("a1", "小助理")
        assert texts(await bot.say("boss", "/公告", room="r1")) == ["announce"]
        assert await bot.say("impostor", "/公告", room="r1") == []
        assert texts(await bot.say("a1", "/公告", room="r1")) == ["announce"]
        assert texts(await bot.say("impostor", "/我是谁", room="r1")) == ["member"]
        bot.member("boss", "改了名字的老板")
        assert texts(await bot.say("boss", "/我是谁", room="r1")) == ["owner"]
        assert texts(await bot.say("boss", "/公告", room="r1")) == ["announce"]


# -- tags


async def test_tags_any_all_and_none() -> None:
    """Segments by tag: any of, all of, none of (and a bare list means any)."""
    sources = (
        guarded("any", "tags: {any: [VIP, 老客]}"),
        guarded("all", "tags: {all: [VIP, 老客]}"),
        guarded("none", "tags: {none: [黑名单]}"),
        guarded("bare", "tags: [VIP]"),
        guarded("mixed", "tags: {any: [VIP], none: [黑名单]}"),
    )
    async with TestBot.running(playbooks(*sources)) as bot:
        await bot.seed("vip", tags=["VIP"])
        await bot.seed("both", tags=["VIP", "老客"])
        await bot.seed("banned", tags=["VIP", "黑名单"])
        await bot.seed("plain")
        fired: dict[str, list[str]] = {}
        for member in ("vip", "both", "banned", "plain"):
            fired[member] = texts(await bot.say(member, "测", room="r1"))
        assert fired == {
            "vip": ["any", "none", "bare", "mixed"],
            "both": ["any", "all", "none", "bare", "mixed"],
            "banned": ["any", "bare"],
            "plain": ["none"],
        }


# -- time


async def test_time_between_on_weekdays() -> None:
    """Office hours: 09:00 up to (not including) 18:00, Monday to Friday, local time."""
    source = guarded("office", 'time: {between: ["09:00", "18:00"], weekdays: [mon, tue, wed, thu, fri]}')
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 8, 59)) as bot:  # a Monday
        seen = []
        for moment in (
            local(2026, 11, 23, 8, 59),
            local(2026, 11, 23, 9, 0),
            local(2026, 11, 23, 17, 59),
            local(2026, 11, 23, 18, 0),
            local(2026, 11, 27, 12, 0),  # Friday
            local(2026, 11, 28, 12, 0),  # Saturday
        ):
            await bot.advance_to(moment)
            seen.append(bool(await bot.say("u1", "测", room="r1")))
        assert seen == [False, True, True, False, True, False]


async def test_time_between_may_cross_midnight() -> None:
    """22:00-02:00 is one night: late evening and the small hours both count."""
    source = guarded("night", 'time: {between: ["22:00", "02:00"]}')
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 21, 59)) as bot:
        seen = []
        for moment in (
            local(2026, 11, 23, 21, 59),
            local(2026, 11, 23, 22, 0),
            local(2026, 11, 23, 23, 59),
            local(2026, 11, 24, 0, 0),
            local(2026, 11, 24, 1, 59),
            local(2026, 11, 24, 2, 0),
            local(2026, 11, 24, 12, 0),
        ):
            await bot.advance_to(moment)
            seen.append(bool(await bot.say("u1", "测", room="r1")))
        assert seen == [False, True, True, True, True, False, False]


async def test_a_night_window_across_midnight_belongs_to_the_weekday_it_starts_on() -> None:
    """`weekdays: [fri]` with 22:00-02:00 is Friday night: Saturday 01:00 is in, Friday 01:00 is not."""
    source = guarded("friday-night", 'time: {between: ["22:00", "02:00"], weekdays: [fri]}')
    async with TestBot.running(playbooks(source), start=local(2026, 11, 27, 1, 0)) as bot:  # Friday
        seen = []
        for moment in (
            local(2026, 11, 27, 1, 0),  # Thursday night's small hours
            local(2026, 11, 27, 23, 0),  # Friday night
            local(2026, 11, 28, 1, 0),  # still Friday night
            local(2026, 11, 28, 23, 0),  # Saturday night
            local(2026, 11, 29, 1, 0),
        ):
            await bot.advance_to(moment)
            seen.append(bool(await bot.say("u1", "测", room="r1")))
        assert seen == [False, True, True, False, False]


# -- once


async def test_once_per_day_per_member_resets_at_local_midnight_not_utc() -> None:
    """Shanghai is UTC+8: 23:59 and 00:01 local are the same UTC day but two local days."""
    source = guarded("daily", "once: {per: day, scope: member}")
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 23, 58)) as bot:
        assert texts(await bot.say("u1", "测", room="r1")) == ["daily"]
        await bot.advance_to(local(2026, 11, 23, 23, 59))
        assert await bot.say("u1", "测", room="r2") == []  # same member, another room: still used up
        assert texts(await bot.say("u2", "测", room="r1")) == ["daily"]  # another member
        await bot.advance_to(datetime(2026, 11, 23, 16, 1, tzinfo=UTC))  # 00:01 local, same UTC date
        assert texts(await bot.say("u1", "测", room="r1")) == ["daily"]
        await bot.advance_to(datetime(2026, 11, 25, 0, 1, tzinfo=UTC))  # UTC midnight, 08:01 local on the 25th
        assert texts(await bot.say("u1", "测", room="r1")) == ["daily"]
        await bot.advance_to(datetime(2026, 11, 25, 0, 2, tzinfo=UTC) + timedelta(hours=15))  # 23:02 local
        assert await bot.say("u1", "测", room="r1") == []


async def test_once_per_day_per_room() -> None:
    """Scope room: the first member to ask gets it for the whole group that day."""
    source = guarded("room-daily", "once: {per: day, scope: room}")
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 9, 0)) as bot:
        assert texts(await bot.say("u1", "测", room="r1")) == ["room-daily"]
        assert await bot.say("u2", "测", room="r1") == []
        assert texts(await bot.say("u2", "测", room="r2")) == ["room-daily"]
        await bot.advance_to(local(2026, 11, 24, 0, 0))
        assert texts(await bot.say("u2", "测", room="r1")) == ["room-daily"]


async def test_once_per_week_follows_local_iso_weeks() -> None:
    """A week runs Monday to Sunday in local time."""
    source = guarded("weekly", "once: {per: week}")
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 9, 0)) as bot:  # Monday
        assert texts(await bot.say("u1", "测", room="r1")) == ["weekly"]
        await bot.advance_to(local(2026, 11, 29, 23, 59))  # Sunday, same week
        assert await bot.say("u1", "测", room="r1") == []
        await bot.advance_to(local(2026, 11, 30, 0, 1))  # Monday (still Sunday in UTC)
        assert texts(await bot.say("u1", "测", room="r1")) == ["weekly"]


async def test_once_ever_is_once_for_good() -> None:
    """A first-time gift never comes back, not even a year later."""
    source = guarded("first-time", "once: {per: ever}")
    async with TestBot.running(playbooks(source)) as bot:
        assert texts(await bot.say("u1", "测", room="r1")) == ["first-time"]
        await bot.advance(timedelta(days=400))
        assert await bot.say("u1", "测", room="r2") == []
        assert texts(await bot.say("u2", "测", room="r1")) == ["first-time"]


# -- cooldown


async def test_cooldown_is_per_room() -> None:
    """One answer per group per span; other groups are not held back."""
    source = guarded("faq", "cooldown: 10m")
    async with TestBot.running(playbooks(source), start=local(2026, 11, 23, 9, 0)) as bot:
        assert texts(await bot.say("u1", "测", room="r1")) == ["faq"]
        await bot.advance(timedelta(minutes=5))
        assert await bot.say("u2", "测", room="r1") == []
        assert texts(await bot.say("u2", "测", room="r2")) == ["faq"]
        await bot.advance(timedelta(minutes=4, seconds=59))
        assert await bot.say("u1", "测", room="r1") == []
        await bot.advance(timedelta(seconds=1))  # 10m after the first answer
        assert texts(await bot.say("u1", "测", room="r1")) == ["faq"]


# -- expr


async def test_expr_over_member_points() -> None:
    """`member.points` is read when the expression runs, so it sees points just earned."""
    earn = """
        id: earn
        when:
          - message: {text: 赚}
        do:
          - points: 60
    """
    rich = guarded("rich", 'expr: "member.points >= 100"')
    async with TestBot.running(playbooks(earn, rich)) as bot:
        assert await bot.say("u1", "测", room="r1") == []
        await bot.say("u1", "赚", room="r1")
        assert await bot.say("u1", "测", room="r1") == []
        await bot.say("u1", "赚", room="r1")
        assert texts(await bot.say("u1", "测", room="r1")) == ["rich"]


# -- failing conditions


async def test_conditions_that_fail_send_nothing_and_write_nothing() -> None:
    """A failed check must not cost the member their `once` or start a cooldown."""
    source = """
        id: vip-gift
        when:
          - message: {text: 领取}
        if:
          - once: {per: ever}
          - cooldown: 1h
          - tags: {any: [VIP]}
        do:
          - points: 5
          - tag: 领过
          - reply: 送你 5 分
    """
    async with TestBot.running(playbooks(source)) as bot:
        assert await bot.say("u1", "领取", room="r1") == []
        assert await bot.field("u1", "points") == 0
        assert await bot.field("u1", "tags") == []
        for table in (PointsEntry, OnceMark, Cooldown):
            assert await bot.rows(select(table.__table__)) == [], table.__tablename__

        await bot.seed("u1", tags=["VIP"])
        assert texts(await bot.say("u1", "领取", room="r1")) == ["送你 5 分"]
        assert await bot.field("u1", "tags") == ["VIP", "领过"]
        await bot.advance(timedelta(hours=2))
        assert await bot.say("u1", "领取", room="r1") == []  # once: ever
        assert await bot.field("u1", "points") == 5


async def test_texts_and_expressions_written_by_the_operator_still_have_jinjas_helpers() -> None:
    """`range` and friends (Jinja's globals) reach every text and `expr:`, each time it runs."""
    counted = """
        id: count
        when:
          - message: {text: 数数}
        if:
          - expr: "member.name in ['小明', '小红'] and range(3) | list == [0, 1, 2]"
        do:
          - reply: "{% for i in range(3) %}{{ i + 1 }}{% endfor %} {{ member.name }}"
    """
    async with TestBot.running(playbooks(counted)) as bot:
        for member_id, name in (("u1", "小明"), ("u2", "小红"), ("u3", "小刚")):
            bot.member(member_id, name)
        assert texts(await bot.say("u1", "数数", room="r1")) == ["123 小明"]
        assert texts(await bot.say("u2", "数数", room="r1")) == ["123 小红"]
        assert texts(await bot.say("u3", "数数", room="r1")) == []
