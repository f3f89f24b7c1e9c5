"""Warnings: playbooks that load and run, but probably not as their author meant.

`qunguan check` prints them and still exits 0 (1 only with errors); they never keep a playbook from
loading; `run` logs them and /重载 mentions them. Each names the place to look and, for two playbooks
answering one message, which of them runs first today.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, RoomSection, StaffSection
from bot.playbook.library import PlaybookSet, known_groups, load_folder
from bot.testing import TestBot

runner = CliRunner()
ROOMS = [
    RoomSection(topic="会员福利1群", tags=["vip"]),
    RoomSection(id="r-shop@chatroom", topic="门店群", tags=["staff"]),
]


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], rooms=ROOMS) -> PlaybookSet:
    for name, text in files.items():
        path = tmp_path / "playbooks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml(text), "utf-8")
    monkeypatch.chdir(tmp_path)
    config = Config(rooms=rooms)
    return load_folder(Path("playbooks"), room_tags=config.all_room_tags or None, groups=known_groups(config))


def warnings(result: PlaybookSet) -> list[str]:
    return [str(w) for w in result.warnings]


def playbook(pid: str, trigger: str, *, rooms: str = "", do: str = "[{reply: hi}]") -> str:
    return f"id: {pid}\n{rooms}when:\n  - {trigger}\ndo: {do}\n"


# -- rooms: naming a group config.yaml does not list


def test_rooms_naming_a_group_config_yaml_does_not_list_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By topic or by id; tag:NAME is checked already (an unknown tag is an error)."""
    text = playbook("p", "join: {}", rooms='rooms: [会员福利1群, "r-shop@chatroom", 门店群, 会员福利3群, "tag:vip"]\n')
    result = load(tmp_path, monkeypatch, {"p.yaml": text})
    assert [pb.id for pb in result.playbooks] == ["p"]
    assert result.problems == []
    assert warnings(result) == [
        "playbooks/p.yaml:2:41: warning: 'rooms' names '会员福利3群', which is not a group in config.yaml "
        "(did you mean '会员福利1群'?): this playbook never runs there"
    ]


def test_rooms_are_not_checked_when_config_yaml_lists_no_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no `rooms:` in config.yaml every group the bot is in is managed: any name may be right."""
    result = load(
        tmp_path, monkeypatch, {"p.yaml": playbook("p", "join: {}", rooms="rooms: [会员福利3群]\n")}, rooms=[]
    )
    assert warnings(result) == []


# -- two playbooks answering the same message


def test_two_playbooks_with_the_same_exact_text_after_normalisation_are_a_warning_naming_who_runs_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full-width letters and surrounding spaces fold away, as the index folds them: the same text."""
    files = {
        "a-checkin.yaml": playbook("a-checkin", "message: {text: 签到}"),
        "b-copy.yaml": playbook("b-copy", 'message: {text: " 签到 "}'),
        "c-hello.yaml": playbook("c-hello", "message: {text: Hello}"),
        "d-hello.yaml": playbook("d-hello", "message: {text: ｈｅｌｌｏ}"),
    }
    result = load(tmp_path, monkeypatch, files)
    assert [pb.id for pb in result.playbooks] == ["a-checkin", "b-copy", "c-hello", "d-hello"]
    assert warnings(result) == [
        "playbooks/b-copy.yaml:3:5: warning: a member who sends '签到' starts this playbook and 'a-checkin' "
        "(playbooks/a-checkin.yaml:3:5) too: both run, 'a-checkin' first",
        "playbooks/d-hello.yaml:3:5: warning: a member who sends 'hello' starts this playbook and 'c-hello' "
        "(playbooks/c-hello.yaml:3:5) too: both run, 'c-hello' first",
    ]


def test_the_same_keyword_an_exact_text_holding_a_keyword_and_the_same_command_are_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "a-hours.yaml": playbook("a-hours", "message: {keywords: [营业时间, 几点开门]}"),
        "b-open.yaml": playbook("b-open", "message: {keywords: [几点开门]}"),
        "c-ask.yaml": playbook("c-ask", "message: {text: 请问营业时间}"),
        "d-points.yaml": playbook("d-points", "command: 积分"),
        "e-points.yaml": playbook("e-points", "command: /积分"),
    }
    result = load(tmp_path, monkeypatch, files)
    assert warnings(result) == [
        "playbooks/b-open.yaml:3:5: warning: a message containing '几点开门' starts this playbook and 'a-hours' "
        "(playbooks/a-hours.yaml:3:5) too: both run, 'a-hours' first",
        "playbooks/c-ask.yaml:3:5: warning: a member who sends '请问营业时间' starts this playbook and 'a-hours' "
        "(playbooks/a-hours.yaml:3:5) too: both run, 'a-hours' first",
        "playbooks/e-points.yaml:3:5: warning: '/积分' starts this playbook and 'd-points' "
        "(playbooks/d-points.yaml:3:5) too: both run, 'd-points' first",
    ]


def test_a_first_playbook_that_stops_all_others_is_named_as_the_only_one_that_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "a.yaml": playbook("a", "message: {text: 签到}", do="[{reply: hi}, {stop: {all: true}}]"),
        "b.yaml": playbook("b", "message: {text: 签到}"),
    }
    assert warnings(load(tmp_path, monkeypatch, files)) == [
        "playbooks/b.yaml:3:5: warning: a member who sends '签到' starts this playbook and 'a' "
        "(playbooks/a.yaml:3:5) too: only 'a' runs (its 'stop: {all: true}' ends the others)"
    ]


def test_playbooks_that_can_never_meet_on_one_message_are_not_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group vs private chat, disjoint groups (a tag expands to its groups), a switched-off playbook, and one
    playbook's own triggers overlapping each other."""
    files = {
        "a.yaml": playbook("a", "message: {text: 签到, in: group}"),
        "b.yaml": playbook("b", "message: {text: 签到, in: private}"),
        "c.yaml": playbook("c", "message: {text: 打卡}", rooms="rooms: [会员福利1群]\n"),
        "d.yaml": playbook("d", "message: {text: 打卡}", rooms='rooms: ["tag:staff"]\n'),
        "e.yaml": "id: e\nenabled: false\nwhen:\n  - message: {text: 签到}\ndo: [{reply: hi}]\n",
        "f.yaml": "id: f\nwhen:\n  - message: {keywords: [退款, 怎么退款]}\n  - message: {text: 退款}\n"
        "do: [{reply: hi}]\n",
    }
    assert warnings(load(tmp_path, monkeypatch, files)) == []


def test_groups_named_by_id_in_one_playbook_and_by_topic_in_another_are_the_same_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "a.yaml": playbook("a", "message: {text: 打卡}", rooms='rooms: ["r-shop@chatroom"]\n'),
        "b.yaml": playbook("b", "message: {text: 打卡}", rooms="rooms: [门店群]\n"),
    }
    assert len(warnings(load(tmp_path, monkeypatch, files))) == 1


# -- item 23: a coupon code or date that can be empty


REACTIVATION = """
id: nudge
when:
  - schedule: {cron: "0 10 * * *"}
do:
  - for_each:
      segment: {lifecycle: dormant}
      do:
        - coupon: {batch: comeback}
        - dm: "送你一张{{ coupon.title }} {{ coupon.code }}，{{ coupon.expires }} 前有效"
coupons:
  - {id: comeback, title: 回归券, stock: 10, per_member: 1}
"""


def test_a_text_showing_a_coupon_code_after_a_coupon_that_can_be_refused_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped reactivation's bug: the second nudge 30 days later reads "送你一张回归5元券 ， 前有效"."""
    result = load(tmp_path, monkeypatch, {"nudge.yaml": REACTIVATION})
    assert [pb.id for pb in result.playbooks] == ["nudge"]
    assert warnings(result) == [
        "playbooks/nudge.yaml:9:11: warning: this text shows coupon.code and coupon.expires, which are empty "
        "when the 'coupon' on line 8 gives none (stock gone, per_member reached, batch ended); put it in a "
        "'choose' branch with 'if: [{expr: \"not coupon.none\"}]'"
    ]


GUARDED = {
    "branch": """
        - coupon: {batch: comeback}
        - choose:
            - if: [{expr: "coupon.none"}]
              do: [{reply: "券已经发完了"}]
            - else:
                - reply: "券码 {{ coupon.code }}"
    """,
    "branch-testing-the-code": """
        - coupon: {batch: comeback}
        - choose:
            - if: [{expr: "coupon.code"}]
              do: [{reply: "券码 {{ coupon.code }}，{{ coupon.expires }} 前有效"}]
    """,
    "stop-when-none": """
        - coupon: {batch: comeback}
        - choose:
            - if: [{expr: "coupon.none"}]
              do: [{stop: {}}]
        - reply: "券码 {{ coupon.code }}"
    """,
    "inside-the-template": """
        - coupon: {batch: comeback}
        - reply: "{% if coupon.code %}券码 {{ coupon.code }}{% else %}{{ coupon.none }}{% endif %}"
    """,
    "title-only": """
        - coupon: {batch: comeback}
        - reply: "{{ coupon.title }}：{{ coupon.none or '已发到你的卡包' }}"
    """,
}


@pytest.mark.parametrize("steps", GUARDED.values(), ids=GUARDED.keys())
def test_a_coupon_code_shown_only_when_a_coupon_was_issued_is_not_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: str
) -> None:
    text = (
        "id: p\nwhen:\n  - message: {text: 领券}\ndo:\n"
        + textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
        + "\ncoupons:\n  - {id: comeback, title: 回归券, stock: 10}\n"
    )
    result = load(tmp_path, monkeypatch, {"p.yaml": text})
    assert result.problems == []
    assert warnings(result) == []


def test_a_coupon_code_in_the_branch_where_there_is_none_is_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = yaml("""
    id: p
    when:
      - message: {text: 领券}
    do:
      - coupon: {batch: comeback}
      - choose:
          - if: [{expr: "coupon.code"}]
            do: [{reply: 领到了}]
          - else:
              - reply: "{{ coupon.code }} 没领到：{{ coupon.none }}"
    coupons:
      - {id: comeback, title: 回归券, stock: 10}
    """)
    assert len(warnings(load(tmp_path, monkeypatch, {"p.yaml": text}))) == 1


# -- where warnings are seen


def write_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str = "") -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text(playbook("a", "message: {text: 签到}"), "utf-8")
    (folder / "b.yaml").write_text(playbook("b", "message: {text: 签到}"), "utf-8")
    (tmp_path / "config.yaml").write_text(config, "utf-8")
    monkeypatch.chdir(tmp_path)
    return folder


def test_check_prints_warnings_in_chinese_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_shop(tmp_path, monkeypatch)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "playbooks/b.yaml:3:5: 警告：成员发送 '签到' 时，这个剧本和 'a'（playbooks/a.yaml:3:5）都会启动："
        "两个都运行，先运行 'a'",
        "OK：playbooks 里有 2 个剧本，1 条警告",
    ]


def test_check_with_errors_and_warnings_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_shop(tmp_path, monkeypatch, "language: en\n")
    (folder / "c.yaml").write_text("id: c\nwhen: [{join: {}}]\ndo: [{pionts: 5}]\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "playbooks/b.yaml:3:5: warning: a member who sends '签到' starts this playbook and 'a' "
        "(playbooks/a.yaml:3:5) too: both run, 'a' first",
        "playbooks/c.yaml:3:7: unknown action 'pionts' (did you mean 'points'?)",
        "1 problem(s) and 1 warning(s) in playbooks",
    ]


def test_run_logs_the_warnings_in_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_shop(tmp_path, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="qunguan"):
        result = runner.invoke(app, ["run"], input="")
    assert result.exit_code == 0, result.output
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("qunguan")]
    assert (
        "playbooks/b.yaml:3:5: warning: a member who sends '签到' starts this playbook and 'a' "
        "(playbooks/a.yaml:3:5) too: both run, 'a' first" in logged
    ), logged


async def test_reload_in_chat_mentions_the_warnings_in_chinese(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text(playbook("a", "message: {text: 签到}"), "utf-8")
    async with TestBot.running(folder, config=Config(staff=StaffSection(admin=["mgr"]))) as bot:
        (folder / "b.yaml").write_text(playbook("b", "message: {text: 签到}"), "utf-8")
        (answer,) = await bot.say("mgr", "/重载")
    path = folder / "b.yaml"
    assert answer.text == (
        "已重载：2 个剧本在运行\n新增：b\n1 条警告（剧本照常运行）：\n"
        f"{path}:3:5: 警告：成员发送 '签到' 时，这个剧本和 'a'（{folder / 'a.yaml'}:3:5）都会启动："
        "两个都运行，先运行 'a'"
    )
