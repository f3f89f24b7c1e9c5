"""Scenario files for moderation: `expect: {removed:, from:}`, `expect_none: {removed:}`, `check: {warnings,
blacklisted, rooms}`, a scenario's own `config:`, and rooms with `bot_admin: false` or `managed: false`."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.playbook.errors import Problems
from bot.playbook.library import load_texts
from bot.scenario import Result, parse_scenario, run_scenario

# MODERATION.md's anti-ad example as written, fired here by an ordinary keyword (the `has`/`words` triggers are
# another stream's); `member.days_in_room` is the rules stream's too, so newcomers are told apart by a tag here.
ANTI_AD = """
id: anti-ad
name: 防广告
when:
  - message: {keywords: [广告测试]}
do:
  - warn: {reason: 发广告}
  - choose:
      - if: [{expr: "warn.count >= 3"}]
        do:
          - remove: {reason: 发广告}
          - say: "{{ member.name }} 发广告，已移出本群"
          - alert: "已移出 {{ member.name }}（{{ room.topic }}）：发广告"
      - else:
          - reply: "请勿发广告，这是第 {{ warn.count }} 次提醒（3 次将被移出）"
            mention: true
"""
SCAM = """
id: scam
when:
  - message: {keywords: [诈骗测试]}
do:
  - blacklist: {reason: 诈骗}
"""
PLAYBOOKS = {"playbooks/anti-ad.yaml": ANTI_AD, "playbooks/scam.yaml": SCAM}

HEADER = """
name: 防广告
start: "2026-11-23 10:00"
config: {alerts: {room: staffroom}}
rooms:
  - {id: r1, topic: 会员福利1群}
  - {id: r2, topic: 会员福利2群, bot_admin: false}
  - {id: staffroom, topic: 店员群, managed: false}
members:
  - {id: u9, name: 推广员, joined: "2026-11-01 09:00"}
  - {id: clerk, name: 小李, role: staff, joined: "2026-11-01 09:00"}
steps:
"""


async def run(tmp_path: Path, steps: str, header: str = HEADER) -> Result:
    file = tmp_path / "s.yaml"
    file.write_text(header + steps, "utf-8")
    problems = Problems()
    scenario = parse_scenario(file, "s.yaml", problems)
    assert scenario is not None, [str(p) for p in problems.sorted()]
    return await run_scenario(scenario, load_texts(PLAYBOOKS), Config())


async def test_the_third_warning_removes_and_staff_hear_of_it_in_the_alert_room(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        """
  - say: {member: u9, room: r1, text: 广告测试 加我}
  - expect: {to: r1, contains: 第 1 次提醒}
  - expect_none: {removed: u9}
  - say: {member: u9, room: r1, text: 广告测试 加我}
  - say: {member: u9, room: r1, text: 广告测试 加我}
  - expect: {removed: u9, from: r1}
  - expect: {to: r1, contains: 推广员 发广告，已移出本群}
  - expect: {to: staffroom, contains: 已移出 推广员（会员福利1群）}
  - check: {member: u9, warnings: 3, blacklisted: false, rooms: [r2, staffroom]}
""",
    )
    assert result.passed, "\n".join(result.detail)


async def test_message_filters_never_match_a_removal(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        """
  - say: {member: u9, room: r1, text: 诈骗测试}
  - expect: {removed: u9, from: r1}
  - expect_none: {to: r1}
  - expect_none: {removed: u9, from: r2}
""",
    )
    assert result.passed, "\n".join(result.detail)


async def test_a_removal_where_the_bot_is_no_admin_fails_nothing_and_staff_are_told(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        """
  - say: {member: u9, room: r2, text: 诈骗测试}
  - expect: {removed: u9, from: r1}
  - expect_none: {removed: u9, from: r2}
  - expect: {to: staffroom, contains: 没能把 推广员 移出「会员福利2群」：机器人不是群主或管理员}
  - check: {member: u9, blacklisted: true, rooms: [r2, staffroom]}
""",
    )
    assert result.passed, "\n".join(result.detail)


async def test_a_failing_expectation_about_a_removal_says_what_was_sent(tmp_path: Path) -> None:
    result = await run(
        tmp_path, "  - say: {member: u9, room: r1, text: 广告测试}\n  - expect: {removed: u9, from: r1}\n"
    )
    assert not result.passed
    assert result.detail[0].startswith("step 2 (expect) at s.yaml:")
    assert result.detail[0].endswith("expected the removal of u9 from r1; none of the unconsumed actions matched")
    bad = await run(tmp_path, "  - say: {member: u9, room: r1, text: 诈骗测试}\n  - check: {member: u9, rooms: [r1]}\n")
    assert "u9 is in rooms ['r2', 'staffroom'], expected ['r1']" in bad.detail[0]


async def test_staff_are_never_moderated_in_a_scenario_either(tmp_path: Path) -> None:
    result = await run(
        tmp_path,
        """
  - say: {member: clerk, room: r1, text: 诈骗测试}
  - expect_none: {removed: clerk}
  - check: {member: clerk, warnings: 0, blacklisted: false, rooms: [r1, r2, staffroom]}
""",
    )
    assert result.passed, "\n".join(result.detail)


def test_scenario_config_and_removal_filters_are_checked_where_they_are_written(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(
        HEADER.replace("config: {alerts: {room: staffroom}}", "config: {alerts: {rooom: staffroom}}")
        + "  - expect: {removed: u9, contains: 广告}\n  - expect: {from: r1}\n",
        "utf-8",
    )
    problems = Problems()
    assert parse_scenario(file, "s.yaml", problems) is None
    said = [str(p) for p in problems.sorted()]
    assert any(p.startswith("s.yaml:4:") and "rooom" in p for p in said), said
    assert any(p.startswith("s.yaml:13:") and "a removal has no text" in p for p in said), said
    assert any(p.startswith("s.yaml:14:") and "'from' goes with 'removed'" in p for p in said), said


async def test_a_scenario_whose_rooms_are_all_unmanaged_manages_none_of_them(tmp_path: Path) -> None:
    header = """
name: 只有店员群
start: "2026-11-23 10:00"
rooms:
  - {id: staffroom, topic: 店员群, managed: false}
members:
  - {id: u9, name: 推广员, joined: "2026-11-01 09:00"}
steps:
"""
    result = await run(
        tmp_path,
        """
  - say: {member: u9, room: staffroom, text: 广告测试 加我}
  - expect_none: {to: staffroom}
  - check: {member: u9, warnings: 0}
""",
        header,
    )
    assert result.passed, "\n".join(result.detail)
