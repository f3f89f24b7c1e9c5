"""The local simulator, driven through piped stdin as a script would drive it."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.config import load_config
from bot.connectors.base import Emit
from bot.connectors.simulator import SimulatorConnector
from bot.events import Event, MessageEvent, RoomRef
from bot.playbook.library import PlaybookSet, load_folder, load_texts
from bot.simulator.terminal import run_simulator

pytestmark = pytest.mark.slow  # heavy by nature: kept out of the fast part (README)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")
SHOP, _ = load_config(str(ROOT / "config.yaml"))  # what a clone runs: wxid_boss is the owner, two member groups
README_TOUR = re.search(r"### 1\. Chat in the simulator.*?```text\n(.*?)```", README, re.S).group(1)  # type: ignore[union-attr]


async def simulate(
    lines: list[str],
    database: Path,
    playbooks: PlaybookSet | None = None,
    connector: SimulatorConnector | None = None,
) -> str:
    """Run the simulator on piped lines (stdin is not a terminal) with the shipped config; returns the transcript."""
    out = io.StringIO()
    config = SHOP
    loaded = playbooks or load_folder(ROOT / "playbooks", room_tags=config.all_room_tags)
    stdin = io.StringIO("\n".join(lines) + "\n")
    await run_simulator(config, loaded, database=str(database), stdin=stdin, stdout=out, connector=connector)
    return out.getvalue()


async def test_a_member_checks_in_and_asks_for_points(tmp_path: Path) -> None:
    out = await simulate(["签到", "签到", "/积分"], tmp_path / "sim.db")
    assert "【会员福利1群】群管小助手：小王 签到成功！连续 1 天，+5 分，共 5 分" in out
    assert "今天已经签到过啦" in out
    assert "小王，你当前有 5 积分，已连续签到 1 天" in out


async def test_state_and_clock_persist_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    await simulate(["签到", "/time +1d"], db)
    out = await simulate(["签到", "/积分"], db)
    assert "连续 2 天" in out
    assert "你当前有 10 积分，已连续签到 2 天" in out


async def test_switching_member_room_join_leave_and_private(tmp_path: Path) -> None:
    out = await simulate(
        ["/as u2 小李", "/room 会员福利2群", "/join u1", "/private", "查积分", "/group", "/leave", "/who"],
        tmp_path / "sim.db",
    )
    assert "【会员福利2群】群管小助手：@小李 欢迎 小李 加入「会员福利2群」" in out
    assert "【私聊 → 小李】群管小助手：小李，你当前有 10 积分" in out
    assert "小李 退出了「会员福利2群」" in out
    assert "你是 小李（u2），在群「会员福利2群」" in out


async def test_time_travel_fires_due_schedules_in_order(tmp_path: Path) -> None:
    playbooks = load_texts(
        {
            "playbooks/hourly.yaml": "id: hourly\nwhen:\n  - schedule: {every: 1h}\n"
            "do:\n  - say: \"整点报时 {{ now.strftime('%H:%M') }}\"\n"
        }
    )
    out = await simulate(["大家好", "/time +3h"], tmp_path / "sim.db", playbooks)
    assert out.count("整点报时") == 3
    assert "（期间执行了 3 个定时剧本）" in out


async def test_help_and_bad_time_give_clear_chinese_answers(tmp_path: Path) -> None:
    out = await simulate(["/?", "/time tomorrow", "/as"], tmp_path / "sim.db")
    assert "模拟器命令" in out
    assert "用法：/time +1d" in out
    assert "用法：/as ID [名字]" in out


async def test_member_text_that_looks_like_a_template_is_just_text(tmp_path: Path) -> None:
    playbooks = load_texts(
        {
            "playbooks/echo.yaml": "id: echo\nwhen:\n  - message: {regex: '^echo '}\n"
            "do:\n  - reply: '你说：{{ message.text }}'\n"
        }
    )
    out = await simulate(["echo {{ 7*7 }}"], tmp_path / "sim.db", playbooks)
    assert "你说：echo {{ 7*7 }}" in out
    assert "49" not in out


# -- helpers for the tests below: the simulator's clock is wall time plus an offset, so dates are computed from now


def local_now() -> datetime:
    return SystemClock().now().astimezone(SHOP.tz)


def next_at(weekday: int | None, hour: int, minute: int, *, after: timedelta = timedelta(minutes=5)) -> datetime:
    """The first local `hour:minute` (on `weekday`, Monday 0, if given) later than now + `after`."""
    start = local_now() + after
    moment = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while moment <= start or (weekday is not None and moment.weekday() != weekday):
        moment += timedelta(days=1)
    return moment


class Recording(SimulatorConnector):
    """The simulator's connector, keeping every event the terminal emits through it."""

    def __init__(self, output: io.StringIO, bot_name: str) -> None:
        super().__init__(output, bot_name)
        self.events: list[Event] = []

    async def start(self, emit: Emit) -> None:
        async def record(event: Event) -> object:
            self.events.append(event)
            return await emit(event)

        await super().start(record)


# -- @mentions


async def test_typed_at_names_become_mentions_of_members_the_simulator_knows(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    out = await simulate(
        ["/as u2 小李", "签到", "/as wxid_boss 店长", "/加分 @小李 10", "/成员 @小李", "/扣分 @小李\u20053 晒单"], db
    )
    assert "已给 小李 加 10 分" in out
    assert "小李（u2）" in out
    assert "已给 小李 扣 3 分" in out
    # A new run knows 小李 from its database, without `/as`.
    again = await simulate(["/as wxid_boss 店长", "/加分 @小李 1"], db)
    assert "已给 小李 加 1 分（店员加分），现在共 13 分" in again


async def test_typed_mentions_are_delivered_as_wechat_delivers_them_through_the_connector(tmp_path: Path) -> None:
    connector = Recording(io.StringIO(), SHOP.bot.name)
    await simulate(
        ["/as u2 小李", "/as u1", "@小李 你好", "@群管小助手 签到", "你好@小李"],
        tmp_path / "sim.db",
        connector=connector,
    )
    said = [e for e in connector.events if isinstance(e, MessageEvent)]
    assert [(e.text, e.mentions, e.mentions_bot) for e in said] == [
        ("@小李 你好", ("u2",), False),
        ("签到", (), True),
        ("你好@小李", ("u2",), False),
    ]
    assert said[0].room == RoomRef("会员福利1群", "会员福利1群")


async def test_at_the_bot_speaks_to_the_bot(tmp_path: Path) -> None:
    out = await simulate(["@群管小助手 签到", "@群管小助手\u2005/积分"], tmp_path / "sim.db")
    assert "签到成功！连续 1 天" in out
    assert "小王，你当前有 5 积分" in out


async def test_an_unknown_name_stays_plain_text_and_is_pointed_out_once(tmp_path: Path) -> None:
    out = await simulate(["@小张 你好", "@小张 在吗", "/as wxid_boss 店长", "/加分 @小张 10"], tmp_path / "sim.db")
    assert out.count("不认识「@小张」") == 1
    assert "已给" not in out  # no member was credited: the command asks for an @-mention instead


async def test_terminal_escapes_in_member_data_are_shown_escaped(tmp_path: Path) -> None:
    out = await simulate(["/as u9 坏\x1b]0;伪造标题\x07人", "/积分"], tmp_path / "sim.db")
    assert "\x1b" not in out and "\x07" not in out
    assert "坏\\x1b]0;伪造标题\\x07人，你当前有 0 积分" in out


# -- time


async def test_a_time_jump_runs_each_schedule_with_the_clock_at_its_time(tmp_path: Path) -> None:
    playbooks = load_texts(
        {
            "playbooks/morning.yaml": "id: morning\nwhen:\n  - schedule: {cron: '0 9 * * *'}\n"
            "do:\n  - say: \"早安 {{ now.strftime('%m-%d %H:%M') }}\"\n"
        }
    )
    out = await simulate(["大家好", "/time +3d"], tmp_path / "sim.db", playbooks)  # 大家好: the group is known
    said = re.findall(r"早安 (\d\d-\d\d \d\d:\d\d)", out)
    assert len(said) == 3
    assert all(moment.endswith("09:00") for moment in said)
    assert len(set(said)) == 3


async def test_a_week_jump_closes_the_quiz_at_its_deadline_and_a_late_answer_wins_nothing(tmp_path: Path) -> None:
    out = await simulate(["签到", "/time +1w", "酸菜鱼", "/积分"], tmp_path / "sim.db")  # 签到: the group is known
    question = out.index("【有奖问答】本店的招牌菜是什么？")
    closed = out.index("【有奖问答】时间到！本题无人答对，答案是：酸菜鱼")
    assert question < closed < out.index("你是 小王（u1）")
    assert "你当前有 5 积分" in out


async def test_an_answer_inside_the_quiz_window_wins_and_is_announced_at_the_deadline(tmp_path: Path) -> None:
    wednesday = next_at(2, 19, 59)
    out = await simulate(
        ["签到", f"/time set {wednesday:%Y-%m-%d %H:%M}", "/time +1m", "酸菜鱼", "/time +10m", "/积分"],
        tmp_path / "sim.db",
    )
    answered = out.index("小王@会员福利1群> 酸菜鱼")
    assert out.index("【有奖问答】本店的招牌菜是什么？") < answered < out.index("【有奖问答】答案：酸菜鱼。恭喜答对")
    assert "你当前有 25 积分" in out


async def test_time_set_moves_to_a_local_moment_and_never_backwards(tmp_path: Path) -> None:
    target = next_at(None, 9, 0, after=timedelta(days=1))
    out = await simulate(
        [f"/time set {target:%Y-%m-%d %H:%M}", "/time set 2020-01-01 09:00", "/time -1d", "/time set 明天", "/who"],
        tmp_path / "sim.db",
    )
    assert f"时间 {target:%Y-%m-%d %H:%M}" in out.splitlines()[-1]  # /who, after the refusals
    assert out.count("不能把时间往回拨") == 2
    assert "用法：/time set 2026-12-24 09:00" in out


async def test_a_jump_beyond_a_year_is_refused_with_a_clear_answer(tmp_path: Path) -> None:
    """Every schedule on the way runs: a century would print for hours, and year 9999 overflows the calendar."""
    today = local_now()
    out = await simulate(["/time +999999w", "/time set 9999-12-31", "/time +53w", "/who"], tmp_path / "sim.db")
    assert out.count("一次最多往后拨 1 年") == 3
    assert any(f"时间 {day:%Y-%m-%d}" in out.splitlines()[-1] for day in (today, local_now()))  # not moved


async def test_reset_asks_first_then_starts_a_fresh_shop(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    out = await simulate(["签到", "/time +1d", "/reset", "/积分", "/reset 确认", "/积分", "/who"], db)
    asked = out.index("/reset 确认")
    assert "你当前有 5 积分" in out[asked:]  # nothing deleted before the confirmation
    done = out.index("已重置")
    assert "你当前有 0 积分" in out[done:]
    dates = [date.fromisoformat(d) for d in re.findall(r"时间 (\d{4}-\d\d-\d\d)", out)]
    assert dates[-1] == dates[0] - timedelta(days=1)  # the clock is back at today
    again = await simulate(["/积分", "/who"], db)
    assert "你当前有 0 积分" in again
    assert f"时间 {dates[-1]:%Y-%m-%d}" in again


# -- the transcript


async def test_piped_input_is_echoed_so_the_transcript_reads_like_a_chat(tmp_path: Path) -> None:
    out = await simulate(["签到", "/room 会员福利2群", "签到"], tmp_path / "sim.db")
    assert out.startswith("小王@会员福利1群> 签到\n🤖 【会员福利1群】群管小助手：小王 签到成功！")
    assert "小王@会员福利1群> /room 会员福利2群\n你是 小王（u1），在群「会员福利2群」" in out
    assert "小王@会员福利2群> 签到\n🤖 【会员福利2群】群管小助手：小王 今天已经签到过啦" in out


async def test_the_readme_tour_is_a_real_transcript(tmp_path: Path) -> None:
    tour = README_TOUR.strip("\n").splitlines()
    typed = [line.split("> ", 1)[1] for line in tour if re.match(r"^\S+@\S+> ", line)]
    checkin = (ROOT / "playbooks/daily-checkin.yaml").read_text("utf-8")  # no schedule fires in the tour's day
    out = await simulate(typed, tmp_path / "sim.db", load_texts({"playbooks/daily-checkin.yaml": checkin}))
    when = re.compile(r"时间 \d{4}-\d\d-\d\d \d\d:\d\d")
    assert when.sub("时间 …", out).splitlines() == [when.sub("时间 …", line) for line in tour]


async def test_the_readme_table_lists_every_simulator_command(tmp_path: Path) -> None:
    table = README[README.index("Simulator commands") : README.index("State (points")]
    shown = set(re.findall(r"`(/[a-z?]+)", table))
    helped = set(re.findall(r"(/[a-z?]+)", await simulate(["/?"], tmp_path / "sim.db")))
    assert shown == helped
    assert {"/reset", "/time"} <= shown
    assert "/time set" in table


@pytest.mark.slow
def test_qunguan_run_with_piped_stdin_uses_the_simulator_and_exits_at_eof(tmp_path: Path) -> None:
    """The transcript a first-time user scripts: echoed lines, the bot @-mentioned, a week's jump past the quiz."""
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="签到\n@群管小助手 /积分\n/time +1w\n酸菜鱼\n/积分\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "小王@会员福利1群> 签到\n🤖 【会员福利1群】群管小助手：小王 签到成功！连续 1 天" in done.stdout
    assert "小王@会员福利1群> @群管小助手 /积分\n🤖 【会员福利1群】群管小助手：小王，你当前有 5 积分" in done.stdout
    assert "【有奖问答】时间到！本题无人答对" in done.stdout
    assert done.stdout.count("你当前有 5 积分") == 2  # the answer after the deadline won nothing
    assert (tmp_path / "data" / "qunguan.db").exists()
    assert "Traceback" not in done.stderr


SHOW_KIND = {
    "playbooks/show.yaml": "id: show\nwhen:\n  - message: {regex: '.*', in: any}\ndo:\n"
    "  - reply: \"{{ message.kind }}|{{ message.url | default('-', true) }}|{{ message.title | default('-', true) }}"
    "|{{ message.qr | default('-', true) }}\"\n"
}


async def test_a_member_posts_a_link_card_a_qr_picture_a_contact_card_a_mini_program_a_picture_and_a_file(
    tmp_path: Path,
) -> None:
    lines = [
        "/link https://ad.example.com 兼职日结 加我",
        "/qr https://u.wechat.com/EAbc123",
        "/card 兼职小妹",
        "/mini 领红包 wx1234567890",
        "/image",
        "/file 价目表.pdf",
        "/private",
        "/card 店长",
    ]
    out = await simulate(lines, tmp_path / "sim.db", load_texts(SHOW_KIND))
    answers = [line.split("群管小助手：", 1)[1] for line in out.splitlines() if line.startswith("🤖")]
    assert answers == [
        "link|https://ad.example.com|兼职日结 加我|-",
        "image|-|-|https://u.wechat.com/EAbc123",  # drawn as a picture, then read back from it
        "card|-|兼职小妹|-",
        "miniprogram|wx1234567890|领红包|-",
        "image|-|-|-",
        "file|-|价目表.pdf|-",
        "card|-|店长|-",
    ]
    assert "【私聊 → 小王】群管小助手：card|-|店长|-" in out


async def test_kind_commands_without_what_they_send_answer_with_their_usage(tmp_path: Path) -> None:
    out = await simulate(["/link", "/qr", "/card", "/mini", "/file", "/qr " + "长" * 3000], tmp_path / "sim.db")
    for usage in ("用法：/link 网址 [标题]", "用法：/qr 内容", "用法：/card 名字", "用法：/mini 标题 [appid]"):
        assert usage in out
    assert "用法：/file 文件名" in out
    assert "二维码装不下这么多内容" in out
    assert "🤖" not in out


REMOVE_ADS = {
    "playbooks/ads.yaml": "id: ads\nwhen:\n  - message: {has: [link]}\ndo:\n"
    '  - remove: {reason: 发广告}\n  - say: "{{ member.name }} 发广告，已移出本群"\n'
}


async def test_a_member_the_bot_removed_cannot_post_in_that_group_until_they_join_again(tmp_path: Path) -> None:
    """As in WeChat: once removed (or gone by /leave), the member's messages no longer reach that group."""
    lines = ["/link https://ad.example.com 兼职", "/link https://ad.example.com 再发", "/join", "/link https://x.cn"]
    out = await simulate(lines, tmp_path / "sim.db", load_texts(REMOVE_ADS))
    assert out.count("🤖 （把 小王 移出群「会员福利1群」）") == 2
    assert out.count("小王 发广告，已移出本群") == 2  # the second link never reached the group
    assert "（小王 已不在群「会员福利1群」里，发不出消息：/join 重新进群，或 /as 换个成员）" in out
    left = await simulate(["/leave", "签到"], tmp_path / "left.db")
    assert "签到成功" not in left
    assert "小王 已不在群「会员福利1群」里" in left
