"""The scenario runner itself: what a passing and a failing script report."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_texts
from bot.scenario import Result, parse_scenario, run_scenario

PLAYBOOKS = {
    "playbooks/greet.yaml": """
id: greet
when:
  - join: {}
do:
  - reply: 欢迎 {{ member.name }}
    mention: true
  - points: {add: 20, to: inviter, reason: 转介绍}
""",
    "playbooks/vip.yaml": """
id: vip
when:
  - message: {text: 福利}
if:
  - tags: {any: [VIP]}
do:
  - dm: "{{ member.name }}，这是 VIP 福利"
""",
    "playbooks/boss.yaml": """
id: boss
when:
  - command: 公告
if:
  - role: [owner]
do:
  - say: {text: "店长公告：{{ message.args | join(' ') }}", room: 会员福利2群}
""",
    "playbooks/broken.yaml": """
id: broken
when:
  - message: {text: 扣分}
do:
  - points: -100
  - reply: 扣好了
""",
}


async def run(tmp_path: Path, text: str) -> Result:
    file = tmp_path / "s.yaml"
    file.write_text(text, "utf-8")
    problems = Problems()
    scenario = parse_scenario(file, "s.yaml", problems)
    assert scenario is not None, [str(p) for p in problems.sorted()]
    return await run_scenario(scenario, load_texts(PLAYBOOKS), Config())


HEADER = """
name: t
start: "2026-11-23 09:00"
rooms: [{id: r1, topic: 会员福利1群}, {id: r2, topic: 会员福利2群}]
members:
  - {id: u1, name: 小王, tags: [VIP], friend: false, joined: "2026-10-01 10:00"}
  - {id: u2, name: 小李}
  - {id: boss, name: 店长, role: owner}
steps:
"""


async def test_member_options_roles_and_inviter_work_together(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        HEADER
        + """
  - join: {member: u2, room: r1, by: u1}
  - expect: {to: r1, contains: 欢迎 小李, mentions: u2}
  - check: {member: u1, points: 20, tags: [VIP]}
  - say: {member: u1, room: r1, text: 福利}
  - expect: {to: r1, contains: VIP 福利, mentions: u1}
  - say: {member: boss, room: r1, text: /公告 周末 八折}
  - expect: {to: r2, contains: "店长公告：周末 八折"}
  - say: {member: u2, room: r1, text: /公告 我也要}
  - expect_none: {to: r2}
""",
    )
    assert result.passed, result.detail


async def test_a_failing_expect_names_the_step_and_lists_what_was_sent(tmp_path: Path) -> None:
    result = await run(
        tmp_path, HEADER + "  - join: {member: u2, room: r1, by: u1}\n  - expect: {to: r1, contains: 再见}\n"
    )
    assert not result.passed
    assert result.detail[0] == (
        "step 2 (expect) at s.yaml:11:5: expected a message to r1 containing '再见'; "
        "none of the unconsumed messages matched"
    )
    assert "→ r1: @u2 欢迎 小李" in result.detail[2]


async def test_expect_none_fails_on_an_unconsumed_match(tmp_path: Path) -> None:
    result = await run(tmp_path, HEADER + "  - join: {member: u2, room: r1, by: u1}\n  - expect_none: {to: r1}\n")
    assert not result.passed
    assert "expected no message to r1; got: '欢迎 小李'" in result.detail[0]


async def test_check_reports_the_difference(tmp_path: Path) -> None:
    result = await run(tmp_path, HEADER + "  - check: {member: u2, points: 5, tags: [新人]}\n")
    assert not result.passed
    assert "u2 has points 0, expected 5" in result.detail[0]
    assert "u2 has tags [], expected ['新人']" in result.detail[0]


async def test_a_playbook_failing_at_run_time_fails_the_scenario(tmp_path: Path) -> None:
    result = await run(tmp_path, HEADER + "  - say: {member: u2, room: r1, text: 扣分}\n")
    assert not result.passed
    assert "a playbook failed while running" in result.detail[0]
    assert "fewer than 100 points" in result.detail[0]


def test_scenario_file_problems_are_located(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        "name: bad\nrooms: [{id: r1}]\nmembers: [{id: u1}]\nsteps:\n"
        "  - sya: {member: u1, text: x}\n  - say: {member: u9, room: r1, text: x}\n  - advance: soon\n"
        "  - expect: {to: r1, contians: x}\n",
        "utf-8",
    )
    problems = Problems()
    assert parse_scenario(file, "bad.yaml", problems) is None
    assert [str(p) for p in problems.sorted()] == [
        "bad.yaml:5:5: unknown step 'sya' (did you mean 'say'?)",
        "bad.yaml:6:19: 'u9' is not in this scenario's members",
        "bad.yaml:7:14: 'advance' must be a duration like 30s, 10m, 2h, 1d; got 'soon'",
        "bad.yaml:8:22: unknown key 'contians' in 'expect' (did you mean 'contains'?)",
    ]


GOVERNED = """
name: 限速
governor: true
start: "2026-11-23 09:00"
rooms: [{id: r1, topic: 会员福利1群}]
members:
  - {id: u1, name: 小王, tags: [VIP]}
  - {id: u2, name: 小李}
  - {id: u3, name: 阿强}
steps:
"""


async def test_with_the_governor_on_a_join_burst_is_welcomed_once_when_time_moves(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        GOVERNED
        + """
  - join: {member: u2, room: r1}
  - join: {member: u3, room: r1}
  - expect_none: {to: r1}
  - say: {member: u1, room: r1, text: 福利}
  - expect: {to: u1, contains: VIP 福利}   # a reply goes at once
  - advance: 15s
  - expect: {to: r1, contains: 欢迎 小李、阿强, mentions: [u2, u3]}
  - expect_none: {to: r1}
""",
    )
    assert result.passed, result.detail


async def test_with_the_governor_on_a_failure_lists_what_is_still_queued(tmp_path: Path) -> None:
    result = await run(tmp_path, GOVERNED + "  - join: {member: u2, room: r1}\n  - expect: {to: r1, contains: 欢迎}\n")
    assert not result.passed
    assert result.detail[1:] == [
        "  sent:",
        "    (nothing)",
        "  queued, not sent yet (the send governor paces them; `advance` lets them go):",
        "    → r1: @u2 欢迎 小李",
    ]


async def test_without_the_governor_the_same_burst_is_two_welcomes_at_once(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        GOVERNED.replace("governor: true\n", "")
        + """
  - join: {member: u2, room: r1}
  - join: {member: u3, room: r1}
  - expect: {to: r1, contains: 欢迎 小李, mentions: u2}
  - expect: {to: r1, contains: 欢迎 阿强, mentions: u3}
""",
    )
    assert result.passed, result.detail


def test_governor_must_be_a_real_boolean(tmp_path: Path) -> None:
    file = tmp_path / "g.yaml"
    file.write_text("name: g\ngovernor: yes\nsteps: []\n", "utf-8")
    problems = Problems()
    assert parse_scenario(file, "g.yaml", problems) is None
    (problem,) = problems.sorted()
    assert str(problem).startswith("g.yaml:2:11:"), str(problem)


async def test_an_expects_named_groups_are_said_back_with_dollar_braces(tmp_path: Path) -> None:
    """What the bot made up (a coupon code) is saved by `(?P<name>...)` and typed back as `${name}`."""
    said = (
        HEADER
        + """
  - say: {member: boss, room: r1, text: /公告 口令 K7Q2}
  - expect: {to: r2, regex: "口令 (?P<word>\\\\w+)"}
  - say: {member: boss, room: r1, text: "/公告 收到 ${word}"}
  - expect: {to: r2, contains: 店长公告：收到 K7Q2}
"""
    )
    assert (await run(tmp_path, said)).passed
    unsaved = await run(tmp_path, HEADER + '  - say: {member: boss, room: r1, text: "/公告 ${word}"}\n')
    assert not unsaved.passed
    assert unsaved.detail[0] == (
        "step 1 (say) at s.yaml:10:5: '${word}' was not saved: an earlier expect's regex names it, like (?P<word>...)"
    )
