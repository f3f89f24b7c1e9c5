"""The event path through the engine, as a member sees it: what fires, in which order, and what is sent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.events import Outgoing
from bot.playbook.library import load_folder
from bot.store.tables import Member, Room
from bot.testing import TestBot
from handlers.points import PointsEntry

pytestmark = pytest.mark.usefixtures("backend")


def playbooks(*texts: str) -> dict[str, str]:
    """One file per text, named in the order given (that is also their run order)."""
    return {f"playbooks/{i:02d}.yaml": dedent(text) for i, text in enumerate(texts)}


def texts(sent: list[Outgoing]) -> list[str]:
    return [m.text for m in sent]


def config(**values: Any) -> Config:
    return Config.model_validate(values)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("qunguan") and r.levelno >= logging.ERROR]


REPLY_OK = """
id: {id}
when:
  - {trigger}
do:
  - reply: {id}
"""


def replying(pid: str, trigger: str) -> str:
    """A playbook that answers its own id when `trigger` fires."""
    return REPLY_OK.format(id=pid, trigger=trigger)


# -- delivery


async def test_the_same_event_id_delivered_twice_acts_once() -> None:
    """Connectors may redeliver after a reconnect; points must not be paid twice."""
    source = """
        id: gift
        when:
          - message: {text: 领分}
        do:
          - points: 5
          - reply: 到账 {{ member.points }}
    """
    async with TestBot.running(playbooks(source)) as bot:
        first = await bot.say("u1", "领分", room="r1", event_id="wx-1")
        again = await bot.say("u1", "领分", room="r1", event_id="wx-1")
        ledger = await bot.rows(select(PointsEntry.__table__))
        assert texts(first) == ["到账 5"]
        assert again == []
        assert await bot.field("u1", "points") == 5
        assert len(ledger) == 1


async def test_a_template_failing_at_run_time_is_logged_rolled_back_and_does_not_stop_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`message.args[1]` is fine at load time but missing for this message: only that run is lost."""
    caplog.set_level(logging.INFO, logger="qunguan")
    before = replying("before", "message: {text: 签到}")
    broken = """
        id: broken
        when:
          - message: {text: 签到}
        do:
          - tag: 试过
          - points: 5
          - reply: 先说一句
          - reply: "第二个参数是 {{ message.args[1] }}"
    """
    after = replying("after", "message: {text: 签到}")
    other = replying("other", "message: {text: 你好}")
    async with TestBot.running(playbooks(before, broken, after, other)) as bot:
        sent = await bot.say("u1", "签到", room="r1")
        assert texts(sent) == ["before", "after"]  # nothing of the broken run leaves, not even its first reply
        assert await bot.field("u1", "tags") == []
        assert await bot.field("u1", "points") == 0
        assert await bot.rows(select(PointsEntry.__table__)) == []
        [logged] = errors(caplog)
        assert logged.startswith("playbook broken (playbooks/01.yaml) failed at playbooks/01.yaml:")
        assert "{{ message.args[1] }}" in logged

        assert texts(await bot.say("u2", "你好", room="r1")) == ["other"]  # the bot goes on


async def test_an_action_that_raises_is_logged_with_its_playbook_and_rolled_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Taking more points than a member has fails the run; what it wrote before is undone."""
    caplog.set_level(logging.INFO, logger="qunguan")
    spend = """
        id: spend
        when:
          - message: {text: 兑换}
        do:
          - tag: 兑换过
          - points: -50
          - reply: 兑换成功
    """
    after = replying("after", "message: {text: 兑换}")
    async with TestBot.running(playbooks(spend, after)) as bot:
        sent = await bot.say("u1", "兑换", room="r1")
        assert texts(sent) == ["after"]
        assert await bot.field("u1", "tags") == []
        [logged] = errors(caplog)
        assert "spend" in logged and "playbooks/00.yaml" in logged
        assert "fewer than 50 points" in logged


async def test_stop_ends_only_this_playbook_and_keeps_what_it_did() -> None:
    """`stop: {}` is not a failure: writes before it stay, later playbooks still run."""
    stopper = """
        id: stopper
        when:
          - message: {text: 停}
        do:
          - tag: 来过
          - reply: A
          - stop: {}
          - reply: B
    """
    later = replying("later", "message: {text: 停}")
    async with TestBot.running(playbooks(stopper, later)) as bot:
        assert texts(await bot.say("u1", "停", room="r1")) == ["A", "later"]
        assert await bot.field("u1", "tags") == ["来过"]


async def test_stop_all_ends_this_playbook_and_every_later_one_for_the_event() -> None:
    """`stop: {all: true}` lets an earlier playbook claim the message for itself."""
    earlier = replying("earlier", "message: {text: 停}")
    stopper = """
        id: stopper
        when:
          - message: {text: 停}
        do:
          - reply: A
          - stop: {all: true}
          - reply: B
    """
    later = replying("later", "message: {text: 停}")
    async with TestBot.running(playbooks(earlier, stopper, later)) as bot:
        assert texts(await bot.say("u1", "停", room="r1")) == ["earlier", "A"]
        assert texts(await bot.say("u1", "停", room="r1")) == ["earlier", "A"]  # every time, not once


async def test_wait_sends_the_first_part_at_once_and_the_rest_after_virtual_time_moves() -> None:
    """A `wait:` must not hold the event (nor the database) while it pauses."""
    source = """
        id: two-part
        when:
          - message: {text: 开始}
        do:
          - reply: 一
          - wait: 2s
          - reply: 二
    """
    async with TestBot.running(playbooks(source)) as bot:
        stamps: list[tuple[str, datetime]] = []
        record = bot.connector.send

        async def send(message: Outgoing) -> None:
            stamps.append((message.text, bot.clock.now()))
            await record(message)

        bot.connector.send = send  # type: ignore[method-assign]
        start = bot.clock.now()
        first = await bot.say("u1", "开始", room="r1", settle=False)
        assert texts(first) == ["一"]
        assert bot.clock.now() == start  # the pause has not happened yet
        rest = await bot.settle()
        assert texts(rest) == ["二"]
        assert stamps == [("一", start), ("二", start + timedelta(seconds=2))]


async def test_a_failure_after_a_wait_undoes_only_the_part_after_the_wait(caplog: pytest.LogCaptureFixture) -> None:
    """Each part of a paused run is its own transaction: what was sent and kept before the pause stands."""
    caplog.set_level(logging.INFO, logger="qunguan")
    source = """
        id: two-part
        when:
          - message: {text: 开始}
        do:
          - tag: 第一段
          - reply: 一
          - wait: 5s
          - tag: 第二段
          - reply: 二
          - points: -1
    """
    async with TestBot.running(playbooks(source)) as bot:
        assert texts(await bot.say("u1", "开始", room="r1")) == ["一"]
        assert await bot.field("u1", "tags") == ["第一段"]
        [logged] = errors(caplog)
        assert "two-part" in logged and "fewer than 1 points" in logged


@pytest.mark.sqlite_only
async def test_the_part_after_a_wait_sees_what_changed_during_the_pause() -> None:
    """Member fields read before a wait are re-read after it, not served stale.

    SQLite only: the virtual clock ends the pause at once, so the resumed part and the next event run side by
    side; SQLite serialises them in the order they began, PostgreSQL lets them interleave, and which of the
    two commits first is then not the test's to decide."""
    watcher = """
        id: watcher
        when:
          - message: {text: 查}
        do:
          - reply: "前 {{ member.points }}"
          - wait: 1m
          - reply: "后 {{ member.points }}"
    """
    earn = """
        id: earn
        when:
          - message: {text: 加}
        do:
          - points: 5
    """
    async with TestBot.running(playbooks(watcher, earn)) as bot:
        assert texts(await bot.say("u1", "查", room="r1", settle=False)) == ["前 0"]
        await bot.say("u1", "加", room="r1")  # runs, then lets the paused run finish
        assert texts(bot.sent) == ["前 0", "后 5"]


# -- rooms


async def test_messages_in_unmanaged_rooms_are_ignored_and_not_recorded() -> None:
    """With rooms listed in config.yaml, other groups the bot sits in are none of its business."""
    source = replying("hello", "message: {text: 你好, in: any}")
    async with TestBot.running(playbooks(source), config=config(rooms=[{"id": "r1"}])) as bot:
        assert await bot.say("u2", "你好", room="r2") == []
        assert texts(await bot.say("u1", "你好", room="r1")) == ["hello"]
        assert texts(await bot.say("u3", "你好")) == ["hello"]  # private chats are not rooms
        assert [r.id for r in await bot.rows(select(Room.__table__.c.id))] == ["r1"]
        assert sorted(r.id for r in await bot.rows(select(Member.__table__.c.id))) == ["u1", "u3"]


async def test_rooms_select_by_topic_by_id_and_by_config_tag() -> None:
    """`rooms:` names groups the way operators know them; tags come from config.yaml."""
    cfg = config(
        rooms=[
            {"id": "r1", "topic": "一群", "tags": ["会员群"]},
            {"id": "r2", "topic": "二群"},
            {"topic": "三群", "tags": ["会员群"]},
        ]
    )
    by_topic = replying("by-topic", "message: {text: 在吗, in: any}") + "rooms: [二群]\n"
    by_id = replying("by-id", "message: {text: 在吗, in: any}") + "rooms: [r1]\n"
    by_tag = replying("by-tag", "message: {text: 在吗, in: any}") + "rooms: ['tag:会员群']\n"
    async with TestBot.running(playbooks(by_topic, by_id, by_tag), config=cfg) as bot:
        bot.room("r1", "一群")
        bot.room("r2", "二群")
        bot.room("r3", "三群")
        assert texts(await bot.say("u1", "在吗", room="r1")) == ["by-id", "by-tag"]
        assert texts(await bot.say("u1", "在吗", room="r2")) == ["by-topic"]
        assert texts(await bot.say("u1", "在吗", room="r3")) == ["by-tag"]
        assert texts(await bot.say("u1", "在吗")) == ["by-topic", "by-id", "by-tag"]  # rooms: filters groups only


# -- what members type


async def test_member_text_is_never_template_source() -> None:
    """`{{ 7*7 }}` and `{% for %}` typed in a group are characters, echoed as such, with no error."""
    echo = """
        id: echo
        when:
          - message: {keywords: [复读]}
        do:
          - reply: "你说：{{ message.text }}"
    """
    welcome = """
        id: welcome
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ member.name }}"
    """
    trap = replying("trap", "message: {text: '49'}")
    async with TestBot.running(playbooks(echo, welcome, trap)) as bot:
        evil = "复读 {{ 7*7 }} {% for x in range(3) %}x{% endfor %} {% for"
        sent = await bot.say("u1", evil, room="r1")
        assert texts(sent) == [f"你说：{evil}"]
        assert await bot.say("u1", "{{ 7*7 }}", room="r1") == []  # not the text 49
        bot.member("u2", "{{ 7*7 }}{% if true %}")
        assert texts(await bot.join("u2", "r1")) == ["欢迎 {{ 7*7 }}{% if true %}"]
        assert not any("49" in m.text or "xxx" in m.text for m in bot.sent)


async def test_member_text_is_never_template_source_and_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """A broken template typed by a member must not surface as a playbook failure in the log."""
    caplog.set_level(logging.INFO, logger="qunguan")
    echo = """
        id: echo
        when:
          - message: {regex: '.*'}
        do:
          - reply: "{{ message.text }}"
    """
    async with TestBot.running(playbooks(echo)) as bot:
        for text in ("{% for %}", "{{ 7*7 }}", "{{", "{# x", "{% endfor %}}}"):
            assert texts(await bot.say("u1", text, room="r1")) == [text]
    assert errors(caplog) == []


async def test_a_100_kb_message_matches_keywords_but_no_whole_text_or_anchored_regex() -> None:
    """Walls of pasted text are ordinary messages: matched in one pass, no crash."""
    sources = (
        replying("kw", "message: {keywords: [营业时间]}"),
        replying("exact", "message: {text: 签到}"),
        replying("rx", "message: {regex: '^查(询)?积分$'}"),
    )
    async with TestBot.running(playbooks(*sources)) as bot:
        wall = "啊" * 100_000 + "营业时间"
        assert len(wall.encode()) > 100_000
        assert texts(await bot.say("u1", wall, room="r1")) == ["kw"]
        assert await bot.say("u1", "签到" * 50_000, room="r1") == []


async def test_emoji_match_and_survive_in_texts_and_names() -> None:
    """Emoji are ordinary characters in triggers, messages and member names."""
    exact = replying("exact", "message: {text: 签到🎉}")
    thumbs = """
        id: thumbs
        when:
          - message: {keywords: [👍]}
        do:
          - reply: "谢谢 {{ member.name }} 的好评"
    """
    async with TestBot.running(playbooks(exact, thumbs)) as bot:
        bot.member("u1", "小王🌸")
        assert texts(await bot.say("u1", "签到🎉", room="r1")) == ["exact"]
        assert texts(await bot.say("u1", "好评👍👍👍", room="r1")) == ["谢谢 小王🌸 的好评"]
        assert await bot.say("u1", "签到", room="r1") == []


async def test_zero_width_characters_do_not_stop_a_text_or_keyword_from_matching() -> None:
    """Documented: invisible characters are removed before matching (pasted text often carries them)."""
    exact = replying("exact", "message: {text: 签到}")
    keyword = replying("keyword", "message: {keywords: [营业时间]}")
    async with TestBot.running(playbooks(exact, keyword)) as bot:
        assert texts(await bot.say("u1", "签\u200b到", room="r1")) == ["exact"]
        assert texts(await bot.say("u1", "\ufeff签\u200d到\u2060", room="r1")) == ["exact"]
        assert texts(await bot.say("u1", "请问营\u200b业时\u200c间？", room="r1")) == ["keyword"]


async def test_full_width_and_half_width_forms_and_case_fold_for_text() -> None:
    """ＶＩＰ, vip and VIP look the same to a person, so they match the same trigger; punctuation still counts."""
    vip = replying("vip", "message: {text: vip专享}")
    written_wide = replying("wide", "message: {text: ＡＢＣ１２３}")
    points = replying("points", "command: 积分")
    async with TestBot.running(playbooks(vip, written_wide, points)) as bot:
        for typed in ("ＶＩＰ专享", "VIP专享", "  vip专享 ", "\u3000ＶＩＰ专享\u3000"):
            assert texts(await bot.say("u1", typed, room="r1")) == ["vip"], typed
        assert texts(await bot.say("u1", "abc123", room="r1")) == ["wide"]
        assert texts(await bot.say("u1", "／积分", room="r1")) == ["points"]
        assert await bot.say("u1", "vip专享！", room="r1") == []  # the whole message must equal the text


# -- routing: in: group | private | any


async def test_message_triggers_default_to_groups_and_follow_in() -> None:
    """A keyword meant for the group should not answer private chats unless asked to."""
    sources = (
        replying("group", "message: {text: 群}"),
        replying("private", "message: {text: 私, in: private}"),
        replying("any", "message: {text: 都, in: any}"),
    )
    async with TestBot.running(playbooks(*sources)) as bot:
        assert texts(await bot.say("u1", "群", room="r1")) == ["group"]
        assert await bot.say("u1", "群") == []
        assert texts(await bot.say("u1", "私")) == ["private"]
        assert await bot.say("u1", "私", room="r1") == []
        assert texts(await bot.say("u1", "都", room="r1")) == ["any"]
        assert texts(await bot.say("u1", "都")) == ["any"]


async def test_command_triggers_default_to_anywhere_and_follow_in() -> None:
    """`/积分` works in a group and in private by default."""
    sources = (
        replying("anywhere", "command: 积分"),
        replying("group-only", "command: {name: 公告, in: group}"),
        replying("private-only", "command: {name: 私信, in: private}"),
    )
    async with TestBot.running(playbooks(*sources)) as bot:
        assert texts(await bot.say("u1", "/积分", room="r1")) == ["anywhere"]
        assert texts(await bot.say("u1", "/积分")) == ["anywhere"]
        assert texts(await bot.say("u1", "/公告 明天休息", room="r1")) == ["group-only"]
        assert await bot.say("u1", "/公告 明天休息") == []
        assert texts(await bot.say("u1", "/私信")) == ["private-only"]
        assert await bot.say("u1", "/私信", room="r1") == []


# -- what a trigger gives the run


async def test_command_arguments_become_message_args() -> None:
    """`/兑换 u1 5` -> args ["u1", "5"], however the member spaced them."""
    source = """
        id: grant
        when:
          - command: 兑换
        do:
          - reply: "{{ message.command }}:{{ message.args | join('|') }}:{{ message.args | length }}"
    """
    async with TestBot.running(playbooks(source)) as bot:
        assert texts(await bot.say("u9", "/兑换 u1 5", room="r1")) == ["兑换:u1|5:2"]
        assert texts(await bot.say("u9", "/兑换   u1\u3000 5 ", room="r1")) == ["兑换:u1|5:2"]
        assert texts(await bot.say("u9", "/兑换")) == ["兑换::0"]
        assert await bot.say("u9", "兑换 u1 5", room="r1") == []  # no slash, no command
        assert await bot.say("u9", "/兑换分 u1", room="r1") == []  # another command


async def test_command_names_match_in_any_case_and_arguments_keep_theirs() -> None:
    """Codes are case-sensitive: `/Voucher AbC9` must reach the playbook as 'AbC9'."""
    source = """
        id: voucher
        when:
          - command: voucher
        do:
          - reply: "{{ message.command }} {{ message.args | join(' ') }}"
    """
    async with TestBot.running(playbooks(source)) as bot:
        assert texts(await bot.say("boss", "/Voucher AbC9 xY")) == ["voucher AbC9 xY"]
        assert texts(await bot.say("boss", "／ＶＯＵＣＨＥＲ　ＡｂＣ９")) == ["voucher AbC9"]  # full-width


async def test_regex_named_groups_become_message_groups() -> None:
    """Named groups are how a regex passes what it found to the reply."""
    source = r"""
        id: lookup
        when:
          - message: {regex: '^查(?P<who>\S+)的积分$'}
        do:
          - reply: "查 {{ message.groups.who }}"
    """
    async with TestBot.running(playbooks(source)) as bot:
        assert texts(await bot.say("u1", "查小王的积分", room="r1")) == ["查 小王"]
        assert texts(await bot.say("u1", "查ＡＢ的积分", room="r1")) == ["查 AB"]  # folded before matching
        assert await bot.say("u1", "查的积分", room="r1") == []


async def test_a_yaml_number_as_text_matches_the_digits_typed() -> None:
    """`text: 666` is read by YAML as a number; members type the characters 666."""
    sources = (
        replying("six", "message: {text: 666}"),
        replying("love", "message: {keywords: [520, 1314]}"),
        replying("police", "command: 110"),
    )
    async with TestBot.running(playbooks(*sources)) as bot:
        assert texts(await bot.say("u1", "666", room="r1")) == ["six"]
        assert texts(await bot.say("u1", "６６６", room="r1")) == ["six"]
        assert texts(await bot.say("u1", "我爱你520", room="r1")) == ["love"]
        assert texts(await bot.say("u1", "/110")) == ["police"]
        assert await bot.say("u1", "6666", room="r1") == []


# -- which playbooks fire, and in which order


async def test_overlapping_keywords_fire_each_playbook_once() -> None:
    """Two playbooks that share a keyword both answer; one playbook hit twice answers once."""
    hours = replying("hours", "message: {keywords: [营业时间]}")
    faq = """
        id: faq
        when:
          - message: {keywords: [营业时间, 几点开门]}
          - message: {regex: '开门'}
        do:
          - reply: faq
    """
    async with TestBot.running(playbooks(hours, faq)) as bot:
        assert texts(await bot.say("u1", "营业时间是几点开门？营业时间", room="r1")) == ["hours", "faq"]
        assert texts(await bot.say("u1", "几点开门", room="r1")) == ["faq"]


async def test_disabled_playbooks_never_fire() -> None:
    """`enabled: false` parks a playbook without deleting it."""
    off_message = replying("off-message", "message: {text: 你好}") + "enabled: false\n"
    off_join = replying("off-join", "join: {}") + "enabled: false\n"
    off_command = replying("off-command", "command: 积分") + "enabled: false\n"
    on = replying("on", "message: {text: 你好}")
    async with TestBot.running(playbooks(off_message, off_join, off_command, on)) as bot:
        assert texts(await bot.say("u1", "你好", room="r1")) == ["on"]
        assert await bot.join("u2", "r1") == []
        assert await bot.say("u1", "/积分") == []


async def test_playbooks_run_in_file_path_order_whatever_their_trigger_kind(tmp_path: Path) -> None:
    """Run order is the sorted file path, so operators can order playbooks by naming files 10-, 20-, ..."""
    folder = tmp_path / "playbooks"
    (folder / "sub").mkdir(parents=True)
    files = {
        "30-regex.yaml": replying("regex", "message: {regex: '签'}"),
        "sub/00-nested.yaml": replying("nested", "command: 签到"),
        "10-keyword.yaml": replying("keyword", "message: {keywords: [签到]}"),
        "20-exact.yaml": replying("exact", "message: {text: /签到}"),
    }
    for name, text in files.items():  # written out of order on purpose
        (folder / name).write_text(text, "utf-8")
    loaded = load_folder(folder)
    assert loaded.problems == []
    async with TestBot.running(loaded) as bot:
        expected = ["keyword", "exact", "regex", "nested"]
        assert texts(await bot.say("u1", "/签到", room="r1")) == expected
        assert texts(await bot.say("u1", "/签到", room="r1")) == expected
