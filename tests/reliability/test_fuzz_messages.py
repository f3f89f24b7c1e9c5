"""10,000 generated member messages through the whole bot: nothing a member types crashes it or is run.

Members type anything: any unicode, nothing, walls of text, zero-width and direction marks, Jinja
(`{{ 7*7 }}`, `{% for %}`), SQL, staff commands with garbage arguments. One bot with the shipped
config and playbooks gets them all (private and in groups, from members and from the owner), plus an
echo playbook that answers every message and one that echoes command arguments. For every message:
the engine returns normally and logs no error, and the echo holds the member's text and name exactly
as typed (a `{{ 7*7 }}` evaluated would read 49 there). Only opt-out words and built-in staff commands
are answered instead of the playbooks, as designed, and the messages the shipped moderation playbooks act on
(a flood, a URL, a banned word: MODERATION.md) go no further.

Hypothesis runs derandomized (the same messages in every run), 50 messages per example, without
deadlines and without shrinking (each failure names the message and member name that caused it; shrinking
through a bot that lives across examples, as a real one does, would take minutes).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot import commands
from bot.config import Config, load_config
from bot.events import MessageEvent
from bot.playbook.library import playbook_files
from bot.testing import TestBot
from bot.textnorm import fold, normalize, split_command

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 10_000
PER_EXAMPLE = 50
ROOMS = {"r1": "会员福利1群", "r2": "会员福利2群"}  # managed rooms of the shipped config.yaml
OWNER = "wxid_boss"  # the shipped config's owner: staff commands run for real
ECHO = {
    "playbooks/000-fuzz-echo.yaml": """
id: fuzz-echo
when:
  - message: {regex: '^', in: any}
do:
  - reply: "回声«{{ message.text }}»来自«{{ member.name }}»"
""",
    "playbooks/000-fuzz-args.yaml": """
id: fuzz-args
when:
  - command: 复读
do:
  - reply: "参数«{{ message.args | join(' ') }}»"
""",
}

PIECES = [
    "{{ 7*7 }}",
    "{{7*7}}",
    "{{ 7 * '7' }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{% for %}",
    "{%",
    "{{",
    "}}",
    "{#",
    "#}",
    "{% raw %}",
    "{{ config }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ member.points }}",
    "{{ message.text }}",
    "{% include 'x.html' %}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "'; DROP TABLE members; --",
    '" OR 1=1 --',
    "1; DELETE FROM points_ledger WHERE 1=1",
    "Robert'); DROP TABLE checkins;--",
    "%' OR '1'='1",
    "\\x00",
    "\x00",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u180e",
    "\u202e",
    "\u2028",
    "\r\n",
    "\t",
    "　",
    "签到",
    "打卡",
    "查积分",
    "/积分",
    "抢券",
    "退订",
    "订阅",
    "TD",
    "营业时间",
    "/核销 ",
    "/redeem ",
    "/帮助",
    "/加分 ",
    "/扣分 ",
    "/标签 ",
    "/成员 ",
    "/剧本",
    "/启用 ",
    "/停用 ",
    "/复读 ",
    "@群管小助手\u2005",
    "u1",
    "100",
    "-5",
    "９９",
    "ＳＩＧＮ",
    "😀",
    "👨‍👩‍👧‍👦",
    "e\u0301",
    "\U0001f1e8\U0001f1f3",
]
names = st.one_of(st.text(max_size=16), st.sampled_from(PIECES))
texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=6).map("".join),
    st.sampled_from(PIECES),
    st.just(""),
    st.tuples(st.sampled_from(PIECES), st.integers(50, 400)).map(lambda p: p[0] * p[1]),
)
huge = st.tuples(st.sampled_from(PIECES), st.integers(5_000, 60_000)).map(lambda p: (p[0] * p[1])[:100_000])
message = st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "u5", OWNER]), names, st.sampled_from([*ROOMS, None]))
batch = st.tuples(
    st.lists(st.tuples(message, texts), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE),
    st.one_of(st.none(), huge),
)


def playbooks() -> dict[str, str]:
    """The shipped playbooks as they are in the repository, with the echo ones first."""
    shipped = {str(p.relative_to(ROOT)): p.read_text("utf-8") for p in playbook_files(ROOT / "playbooks")}
    return {**ECHO, **shipped}


MODERATION = {p.stem for p in playbook_files(ROOT / "playbooks" / "moderation")}  # file names are their ids


def answered_by_playbooks(event: MessageEvent, config: Config) -> bool:
    """Opt-out words and built-in staff commands are answered before (and instead of) any playbook."""
    words = {normalize(w) for w in (*config.opt_out.stop, *config.opt_out.resume)}
    return normalize(event.text) not in words and commands.match(event) is None


class Errors(logging.Handler):
    """Every error the bot logs (a playbook that failed on a member's text is one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def taken(self) -> Iterator[str]:
        while self.records:
            record = self.records.pop(0)
            yield f"{record.name}: {record.getMessage()}"


def test_10000_generated_member_messages_never_crash_the_engine_and_are_never_evaluated() -> None:
    config, _ = load_config(str(ROOT / "config.yaml"))
    # All 10,000 arrive in one virtual instant and every one must be echoed: no reply budget (tests/test_fairness.py).
    config = config.model_copy(update={"sending": config.sending.model_copy(update={"reply_budget": None})})
    loop = asyncio.new_event_loop()
    bot = loop.run_until_complete(TestBot.create(playbooks(), config=config))
    for room_id, topic in ROOMS.items():
        bot.room(room_id, topic)
    errors = Errors()
    logging.getLogger("qunguan").addHandler(errors)
    delivered = 0
    ids = itertools.count()
    echoed: list[str] = []
    moderated: list[str] = []

    async def deliver(member_id: str, name: str, room: str | None, text: str) -> None:
        ref = bot.member(member_id, name)
        event = MessageEvent(f"fuzz-{next(ids)}", bot.clock.now(), ref, text, bot.room(room) if room else None)
        sent = await bot.dispatch(event)
        assert list(errors.taken()) == [], (text, name)
        if not answered_by_playbooks(event, config):
            return
        if any(m.remove or m.playbook_id in MODERATION for m in sent):
            assert not any(m.playbook_id.startswith("fuzz-") for m in sent), (text, [m.text for m in sent])
            moderated.append(text)
            return
        to = room if room is not None else member_id
        echoes = [m.text for m in sent if m.playbook_id == "fuzz-echo" and m.target_id == to]
        # A blank name where a name belongs: that text is not sent (a warning says so).
        expected = [f"回声«{text}»来自«{ref.name}»"] if ref.name.strip() else []
        assert echoes == expected, (text, ref.name, [m.text for m in sent])
        echoed.append(text)
        command = split_command(fold(text))
        if command is not None and command[0] == "复读":
            args = [m.text for m in sent if m.playbook_id == "fuzz-args"]
            assert args == [f"参数«{' '.join(command[1])}»"], (text, args)

    @settings(
        max_examples=MESSAGES // PER_EXAMPLE,
        derandomize=True,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure names its message already
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(batch)
    def example(messages: tuple[list[tuple[tuple[str, str, str | None], str]], str | None]) -> None:
        nonlocal delivered
        plain, wall = messages
        for (member_id, name, room), text in plain:
            loop.run_until_complete(deliver(member_id, name, room, text))
        if wall is not None:  # one wall of text now and then, in place of nothing
            loop.run_until_complete(deliver("u1", "墙", "r1", wall))
        delivered += len(plain)

    try:
        example()
        # Still the same bot afterwards: a member checks in and is answered as the playbook says.
        answers = loop.run_until_complete(bot.say("fresh", "签到", room="r1"))
        checked_in = [m.text for m in answers if m.playbook_id == "daily-checkin"]
        assert checked_in == ["fresh 签到成功！连续 1 天，+5 分，共 5 分"]
    finally:
        logging.getLogger("qunguan").removeHandler(errors)
        loop.run_until_complete(bot.close())
        loop.close()
    assert delivered >= MESSAGES
    assert len(echoed) >= MESSAGES * 3 // 4, len(echoed)  # the others: opt-out words, staff commands, moderated
    assert 0 < len(moderated) < MESSAGES // 20, len(moderated)
