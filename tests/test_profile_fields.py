"""会员资料字段: `fields:` declared in any playbook, set from what a member typed by `set_field` (validated by type,
refused with a Chinese answer and nothing stored), read as `member.<id>` in texts, `expr` and scenario `check:`;
checked at load across the whole set like coupon batches."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_texts
from bot.scenario import parse_scenario, run_scenario
from bot.testing import TestBot
from handlers.profile_fields import ProfileValue

pytestmark = pytest.mark.usefixtures("backend")

FIELDS = textwrap.dedent("""
    id: profile
    when:
      - message: {regex: '^(?P<which>生日|城市|孩子)\\s+(?P<value>.+)$', in: any}
    do:
      - choose:
          - if: [{expr: "message.groups.which == '生日'"}]
            do: [{set_field: {field: birthday, value: "{{ message.groups.value }}"}}]
          - if: [{expr: "message.groups.which == '城市'"}]
            do: [{set_field: {field: city, value: "{{ message.groups.value }}"}}]
          - else:
              - set_field: {field: kids, value: "{{ message.groups.value }}"}
      - choose:
          - if: [{expr: "field.error"}]
            do: [{reply: "没有记下{{ field.title }}：{{ field.error }}"}]
          - else:
              - reply: "已记下{{ field.title }}：{{ field.text }}"
    fields:
      - {id: birthday, type: birthday, title: 生日}
      - {id: city, type: text, title: 城市, max_length: 10}
      - {id: kids, type: number, title: 孩子人数, min: 0, max: 10}
""")

# Another file reads the fields: declarations are shared by every playbook, like coupon batches.
PROFILE = textwrap.dedent("""
    id: my-profile
    when:
      - command: 我的资料
    do:
      - choose:
          - if: [{expr: "member.kids is not none and member.kids >= 2"}]
            do: [{reply: "生日 {{ member.birthday or '未填写' }}，城市 {{ member.city or '未填写' }}，多孩家庭"}]
          - else:
              - reply: "生日 {{ member.birthday or '未填写' }}，城市 {{ member.city or '未填写' }}"
""")

PLAYBOOKS = {"playbooks/a-profile.yaml": PROFILE, "playbooks/fields.yaml": FIELDS}


async def texts(bot: TestBot, member: str, text: str, room: str | None = None) -> list[str]:
    return [m.text for m in await bot.say(member, text, room=room)]


async def test_a_birthday_is_stored_as_month_day_and_read_as_member_birthday_by_any_playbook() -> None:
    async with TestBot.running(PLAYBOOKS) as bot:
        assert await texts(bot, "u1", "/我的资料") == ["生日 未填写，城市 未填写"]
        assert await texts(bot, "u1", "生日 12月25日") == ["已记下生日：12月25日"]
        assert await bot.field("u1", "birthday") == "12-25"
        assert await texts(bot, "u1", "生日 1/2") == ["已记下生日：1月2日"]  # a second one replaces the first
        assert await texts(bot, "u1", "/我的资料") == ["生日 01-02，城市 未填写"]
        rows = await bot.rows(select(ProfileValue.__table__.c.member_id, ProfileValue.__table__.c.value))
        assert [(r.member_id, r.value) for r in rows] == [("u1", "01-02")]


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("13-45", "没有记下生日：没有 13月45日 这一天，请按「月-日」写，例如 12-25"),
        ("02-30", "没有记下生日：没有 2月30日 这一天，请按「月-日」写，例如 12-25"),
        ("abc", "没有记下生日：看不懂这个日期，请按「月-日」写，例如 12-25"),
        ("12-25-2", "没有记下生日：看不懂这个日期，请按「月-日」写，例如 12-25"),
    ],
)
async def test_a_bad_birthday_gets_a_clear_answer_and_keeps_the_one_stored(typed: str, answer: str) -> None:
    async with TestBot.running(PLAYBOOKS) as bot:
        await bot.say("u1", "生日 03-08")
        assert await texts(bot, "u1", f"生日 {typed}") == [answer]
        assert await bot.field("u1", "birthday") == "03-08"
        assert await bot.field("u2", "birthday") is None


async def test_text_fields_keep_what_was_typed_within_their_length_and_never_run_it_as_a_template() -> None:
    async with TestBot.running(PLAYBOOKS) as bot:
        assert await texts(bot, "u1", "城市 {{ 7*7 }}") == ["已记下城市：{{ 7*7 }}"]
        assert await texts(bot, "u1", "/我的资料") == ["生日 未填写，城市 {{ 7*7 }}"]
        assert await texts(bot, "u1", "城市 {% for x in range(99999999) %}x{% endfor %}") == [
            "没有记下城市：太长了，最多 10 个字"
        ]
        assert await bot.field("u1", "city") == "{{ 7*7 }}"
        # Control and format characters (a newline, a right-to-left mark) do not reach the profile.
        assert await texts(bot, "u2", "城市 上\u202e海\u200b") == ["已记下城市：上海"]


@pytest.mark.parametrize(
    ("typed", "answer", "stored"),
    [
        ("3", "已记下孩子人数：3", 3),
        ("２", "已记下孩子人数：2", 2),  # a full-width digit is a digit
        ("-1", "没有记下孩子人数：不能小于 0", None),
        ("11", "没有记下孩子人数：不能大于 10", None),
        ("三个", "没有记下孩子人数：请写一个数字，例如 3", None),
        ("1e9", "没有记下孩子人数：请写一个数字，例如 3", None),
    ],
)
async def test_number_fields_are_numbers_within_min_and_max(typed: str, answer: str, stored: int | None) -> None:
    async with TestBot.running(PLAYBOOKS) as bot:
        assert await texts(bot, "u1", f"孩子 {typed}") == [answer]
        assert await bot.field("u1", "kids") == stored
        if stored is not None:
            expected = "生日 未填写，城市 未填写" + ("，多孩家庭" if stored >= 2 else "")
            assert await texts(bot, "u1", "/我的资料") == [expected]


async def test_a_member_directed_set_field_sets_the_inviters_field() -> None:
    playbooks = {
        "playbooks/p.yaml": textwrap.dedent("""
            id: p
            when: [{join: {}}]
            do:
              - set_field: {field: city, value: "{{ room.topic }}", to: inviter}
            fields:
              - {id: city, type: text}
        """)
    }
    async with TestBot.running(playbooks) as bot:
        await bot.join("u2", "上海群", by="u1")
        assert await bot.field("u1", "city") == "上海群"
        assert await bot.field("u2", "city") is None


def problems(files: dict[str, str]) -> list[str]:
    return [str(p) for p in load_texts(files).problems]


def test_member_fields_are_checked_across_the_set_at_load() -> None:
    reader = textwrap.dedent("""
        id: reader
        when: [{command: 资料}]
        do:
          - reply: "{{ member.birthdy }}"
          - reply: "{{ member.city }}"
    """).lstrip()
    found = problems(
        {
            "p/fields.yaml": "id: f\nwhen: [{command: x}]\ndo: [{reply: x}]\nfields:\n"
            "  - {id: birthday, type: birthday}\n",
            "p/reader.yaml": reader,
        }
    )
    assert found == [
        "p/reader.yaml:4:12: unknown template variable 'member.birthdy' (did you mean 'member.birthday'?)",
        "p/reader.yaml:5:12: unknown template variable 'member.city'",
    ]
    # Declared, it loads; an ability's field still needs no declaration.
    declared = "id: f\nwhen: [{command: x}]\ndo: [{reply: x}]\nfields:\n  - {id: city, type: text}\n"
    assert (
        problems(
            {
                "p/fields.yaml": declared,
                "p/r.yaml": "id: r\nwhen: [{command: y}]\ndo:\n  - reply: '{{ member.city }} {{ member.points }}'\n",
            }
        )
        == []
    )


def test_a_field_declared_only_in_a_broken_file_says_to_fix_that_file() -> None:
    broken = "id: f\nwhen: [{command: x}]\ndo: [{reply: x}]\nfields:\n  - {id: city, type: text, max_length: 0}\n"
    reader = "id: r\nwhen: [{command: y}]\ndo:\n  - reply: '{{ member.city }}'\n"
    assert problems({"p/fields.yaml": broken, "p/reader.yaml": reader}) == [
        "p/fields.yaml:5:40: 'max_length' must be >= 1; got '0'",
        "p/reader.yaml:4:12: member field 'city' is declared only in p/fields.yaml, which has errors; fix it first",
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{id: points, type: number}",
            "'points' is already a member field (member.points): give this field another id",
        ),
        ("{id: birthday, type: text}", "the id 'birthday' is for a field of type birthday"),
        ("{id: age, type: number, max_length: 3}", "'max_length' is for fields of type text"),
        ("{id: city, type: text, max: 3}", "'min' and 'max' are for fields of type number"),
        ("{id: age, type: number, min: 10, max: 1}", "'min' is more than 'max'"),
        ("{id: Age, type: number}", "'id' must match the pattern"),
        ("{id: age, type: date}", "'type' must be 'birthday', 'text' or 'number'; got 'date'"),
    ],
)
def test_a_wrong_field_declaration_is_located(entry: str, message: str) -> None:
    found = problems({"p.yaml": f"id: f\nwhen: [{{command: x}}]\ndo: [{{reply: x}}]\nfields:\n  - {entry}\n"})
    assert len(found) == 1 and found[0].startswith("p.yaml:5:") and message in found[0], found


def test_set_field_names_a_declared_field() -> None:
    text = (
        "id: f\nwhen: [{command: x}]\ndo:\n  - set_field: {field: citty, value: x}\nfields: [{id: city, type: text}]\n"
    )
    assert problems({"p.yaml": text}) == [
        "p.yaml:4:5: member field 'citty' is not declared (did you mean 'city'?); declare it under 'fields:' in any "
        "playbook"
    ]


async def test_a_scenario_checks_a_declared_field_and_says_when_it_cannot(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        textwrap.dedent("""
            name: s
            members: [{id: u1}]
            steps:
              - say: {member: u1, text: 生日 12-25}
              - check: {member: u1, birthday: "12-25", city: null}
              - check: {member: u1, birthdy: "12-25"}
        """),
        "utf-8",
    )
    found = Problems()
    parsed = parse_scenario(scenario, "s.yaml", found)
    assert parsed is not None, found.sorted()
    result = await run_scenario(parsed, load_texts(PLAYBOOKS), Config())
    assert not result.passed
    assert "step 3 (check)" in result.detail[0]
    assert "'check' cannot read 'birthdy' (did you mean 'birthday'?)" in result.detail[0]
