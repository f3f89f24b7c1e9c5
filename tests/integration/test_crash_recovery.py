"""kill -9 at random points under a burst of check-ins, points, coupons and claims, ten times over.

A real `qunguan run --connector wechaty` process serves a burst of member messages injected through
the Wechaty gateway and is killed with SIGKILL at a seeded random point of it (after k of its replies
have reached WeChat), then started again on the same database. After the tenth kill a last bot drains
what is left and stops cleanly; then the database and the gateway's record of every send must agree:

- whatever the bot told a member (check-in, points, a coupon code, a claim win) is in the database;
- each member's balance is the sum of their ledger, and the ledger is a consistent running sum;
- no coupon code is issued twice, nor told to two members, nor issued without its reply queued;
- every event the bot committed has its replies in the outbox, each sent exactly once or `unknown`
  (killed during its send: never resent, at most once); nothing is left pending, nothing is sent twice.

Messages injected after the bot's last commit before a kill are lost with the process (WeChat does not
redeliver them): they were never acknowledged, and they must have left no trace at all.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import BotProcess, Gateway, Qunguan

SEED = 20261123
KILLS = 10
HELD = 3  # of the kills, those that land while a send is on its way (the others: after k replies)
ROOM = "crash@chatroom"
STAFF = "wx_crash_boss"
MEMBERS = {f"wx_crash_{i}": f"成员{i}" for i in range(1, 9)}
KINDS = ("签到", "加分", "领券", "抢券")
CLAIM_STOCK = 12
GIFT_LIMIT = 4  # coupons of the `gift` batch one member may hold
MENTION = "\u2005"  # WeChat ends an @-mention with a four-per-em space

PLAYBOOKS = {
    "sign.yaml": r"""
id: sign
when:
  - message: {regex: '^签到 (?P<n>\d+)$'}
do:
  - checkin: {points: 5}
  - choose:
      - if: [{expr: "checkin.already"}]
        do: [{reply: "签到 {{ message.groups.n }} 已签"}]
      - else:
          - reply: "签到 {{ message.groups.n }} 成功 +{{ checkin.points }}"
""",
    "bonus.yaml": r"""
id: bonus
when:
  - message: {regex: '^加分 (?P<n>\d+)$'}
do:
  - points: {add: 2, reason: 加分}
  - reply: "加分 {{ message.groups.n }} 共 {{ member.points }}"
""",
    "gift.yaml": rf"""
id: gift
when:
  - message: {{regex: '^领券 (?P<n>\d+)$'}}
do:
  - coupon: gift
  - choose:
      - if: [{{expr: "coupon.code"}}]
        do: [{{reply: "领券 {{{{ message.groups.n }}}} {{{{ coupon.code }}}}"}}]
      - else:
          - reply: "领券 {{{{ message.groups.n }}}} {{{{ coupon.none }}}}"
coupons:
  - {{id: gift, title: 礼品券, stock: 1000, per_member: {GIFT_LIMIT}}}
""",
    "drop.yaml": rf"""
id: drop
when:
  - message: {{text: 崩溃测试放券}}
do:
  - say: 开抢
  - claim: {{batch: lucky, keyword: 抢券, window: 2h}}
coupons:
  - {{id: lucky, title: 幸运券, stock: {CLAIM_STOCK}, per_member: 1}}
""",
}


@dataclass
class Injected:
    """One message a member sent through the gateway; `id` is the event id the bot dedups on."""

    id: str
    member: str
    kind: str
    n: int
    cycle: int


@dataclass
class Cycle:
    injected: int
    kill_after: int  # replies seen in WeChat before the kill signal (held: replies before the held one)
    held: bool = False  # killed while WeChat had a reply the bot had not heard back about
    committed: int = 0  # of this cycle's messages, how many the bot had committed when it died
    pending: list[int] = field(default_factory=list)  # outbox rows queued but not sent at the kill
    sending: list[int] = field(default_factory=list)  # outbox rows killed mid-send (to become `unknown`)


def _write_playbooks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in PLAYBOOKS.items():
        (folder / name).write_text(text.lstrip(), encoding="utf-8")


def _say(gateway: Gateway, member: str, text: str) -> str:
    return str(gateway.post("/room/say", room=ROOM, **{"from": member}, text=text)["id"])


def _sends(gateway: Gateway, since: int) -> list[dict[str, Any]]:
    """What reached WeChat: in the group, and privately (a coupon code is only ever told privately)."""
    return [m for m in gateway.sent(since) if m["error"] is None]


def _query(bot: BotProcess, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with bot.db() as db:
        return db.execute(sql, args).fetchall()


def _as_sent(row: sqlite3.Row) -> str:
    """The text WeChat shows for an outbox row: its @-mentions first, as the connector writes them."""
    return "".join(f"@{name}{MENTION}" for _id, name in json.loads(row["mentions"])) + row["text"]


def test_ten_kill_9s_mid_burst_lose_nothing_acknowledged_and_send_nothing_twice(
    gateway: Gateway, qunguan: Qunguan, eventually: Callable[..., Any]
) -> None:
    rng = random.Random(SEED)
    for member_id, name in {STAFF: "店长", **MEMBERS}.items():
        gateway.post("/contact", id=member_id, name=name)
    gateway.post("/room", id=ROOM, topic="崩溃测试群", members=[STAFF, *MEMBERS])
    folder = qunguan.tmp.mktemp("crash-playbooks")
    _write_playbooks(folder)
    home = qunguan.shop(endpoint=gateway.endpoint, playbooks=folder, sending="{pacing: false}", rooms=(ROOM,))
    start_mark = gateway.mark()
    started = time.monotonic()

    bots: list[BotProcess] = []
    injected: dict[str, Injected] = {}
    cycles: list[Cycle] = []

    def start() -> BotProcess:
        bots.append(qunguan.start(home, token=gateway.token))
        bots[-1].wait_line(r"running; stop with")
        return bots[-1]

    try:
        bot = start()
        since = gateway.mark()
        _say(gateway, STAFF, "崩溃测试放券")
        gateway.wait_sent(since, lambda m: m["room_id"] == ROOM and m["text"] == "开抢", "the drop to open")
        counter = 0
        held = set(rng.sample(range(KILLS), HELD))
        for cycle in range(KILLS):
            if cycle:
                bot = start()
            since = gateway.mark()
            burst = [(rng.choice(list(MEMBERS)), rng.choice(KINDS)) for _ in range(rng.randint(15, 30))]
            answered = sum(kind != "抢券" for _member, kind in burst)  # these always get one reply each
            kill_after = rng.randint(0, max(0, answered - 2))
            held_before = gateway.call("GET", "/state")["sends_held"]
            if cycle in held:  # that reply reaches WeChat, but the bot never hears back: it dies first
                gateway.post("/slow-sends", skip=kill_after, count=1, ms=10_000)
            ids = []
            for member, kind in burst:
                counter += 1
                text = kind if kind == "抢券" else f"{kind} {counter}"
                event_id = _say(gateway, member, text)
                injected[event_id] = Injected(event_id, member, kind, counter, cycle)
                ids.append(event_id)
            if cycle in held:
                eventually(
                    lambda: gateway.call("GET", "/state")["sends_held"] > held_before,  # noqa: B023
                    what="a send held by the gateway",
                )
            else:
                eventually(lambda: len(_sends(gateway, since)) >= kill_after, what=f"{kill_after} replies")  # noqa: B023
            assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
            gateway.post("/slow-sends", count=0)
            marks = ",".join("?" * len(ids))
            state = Cycle(len(ids), kill_after, held=cycle in held)
            state.committed = _query(bot, f"SELECT count(*) FROM seen_events WHERE id IN ({marks})", tuple(ids))[0][0]
            for row_id, row_state in _query(bot, "SELECT id, state FROM outbox WHERE state IN ('pending', 'sending')"):
                (state.pending if row_state == "pending" else state.sending).append(row_id)
            cycles.append(state)
        killing = time.monotonic() - started

        bot = start()

        def drained() -> bool:
            left = _query(bot, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")
            return left == [(0,)]

        eventually(drained, what="the outbox to drain after the last restart")
        assert bot.stop() == 0
    finally:
        for each in bots:  # a failure above must not leave a bot running
            if each.process.poll() is None:
                each.stop(signal.SIGKILL)
    assert not [each.log for each in bots if "Traceback" in each.log], "a restart logged a traceback"
    report = f"seed {SEED}; {killing:.1f} s for {KILLS} kill cycles; cycles: {cycles}"

    with bot.db() as db:
        db.row_factory = sqlite3.Row
        _check(db, gateway, start_mark, injected, cycles, report)


def _check(
    db: sqlite3.Connection,
    gateway: Gateway,
    start_mark: int,
    injected: dict[str, Injected],
    cycles: list[Cycle],
    report: str,
) -> None:
    """Every invariant of the module docstring, read from the database and the gateway's record."""
    rows = db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
    by_id = {r["id"]: r for r in rows}
    sends = Counter(m["text"] for m in _sends(gateway, start_mark))
    seen = {r[0] for r in db.execute("SELECT id FROM seen_events")}
    committed = {i: e for i, e in injected.items() if i in seen}
    replies: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for r in rows:
        replies[r["event_id"]].append(r)

    # The outbox: every row ended sent or unknown, and WeChat saw each exactly once (unknown: at most once).
    assert Counter(r["state"] for r in rows).keys() <= {"sent", "unknown"}, (Counter(r["state"] for r in rows), report)
    twice = {text: n for text, n in sends.items() if n > 1}
    assert twice == {}, f"sent more than once: {twice}; {report}"
    texts = Counter(_as_sent(r) for r in rows)
    assert max(texts.values()) == 1, f"two outbox rows with one text: {texts.most_common(3)}"
    for r in rows:
        times = sends[_as_sent(r)]
        assert (times == 1) if r["state"] == "sent" else (times <= 1), (dict(r), times, report)
    phantoms = set(sends) - set(texts)
    assert phantoms == set(), f"sent without an outbox row: {phantoms}"
    pending_at_kills = [row_id for c in cycles for row_id in c.pending]
    assert all(by_id[i]["state"] == "sent" for i in pending_at_kills), "a message queued before a kill was lost"
    assert all(by_id[i]["state"] == "unknown" for c in cycles for i in c.sending), "a send cut by a kill was resent"

    # Committed events have their replies; lost events left nothing (not even a reply row).
    for event_id, e in injected.items():
        got = replies.get(event_id, [])
        if event_id not in seen:
            assert got == [], f"{e} was not committed but has replies {[dict(r) for r in got]}"
        elif e.kind == "抢券":
            assert len(got) <= 1, (e, [dict(r) for r in got])
        else:
            assert len(got) == 1, f"{e} was committed but its reply is missing: {[dict(r) for r in got]}; {report}"
            assert got[0]["text"].startswith(f"{e.kind} {e.n} "), (e, got[0]["text"])
    strays = {r["event_id"] for r in rows} - set(injected) - seen
    assert strays == set(), f"outbox rows of events never committed: {strays}"

    # Check-ins: one per member per local day; the ones the bot reported are exactly the stored ones.
    checkins = Counter(r[0] for r in db.execute("SELECT member_id FROM checkins"))
    per_day = db.execute("SELECT member_id, day, count(*) FROM checkins GROUP BY member_id, day HAVING count(*) > 1")
    assert per_day.fetchall() == []
    reported = Counter(e.member for i, e in committed.items() if e.kind == "签到" and " 成功 " in replies[i][0]["text"])
    assert checkins == reported, (checkins, reported)

    # Points: the balance is the ledger sum, the ledger a running sum; every award is one committed event.
    for member_id, points in db.execute("SELECT id, points FROM members"):
        ledger = db.execute(
            "SELECT delta, balance, reason FROM points_ledger WHERE member_id = ? ORDER BY id", (member_id,)
        ).fetchall()
        assert points == sum(r["delta"] for r in ledger), (member_id, points, [tuple(r) for r in ledger])
        running = 0
        for r in ledger:
            running += r["delta"]
            assert r["balance"] == running, (member_id, [tuple(r) for r in ledger])
        bonus = sum(e.member == member_id and e.kind == "加分" for e in committed.values())
        assert [r["reason"] for r in ledger].count("加分") == bonus, (member_id, bonus, report)
        assert [r["reason"] for r in ledger].count("签到") == checkins[member_id], member_id

    # Coupons: each code once; told codes are exactly the issued ones; the stock counter matches.
    coupons = db.execute("SELECT code, batch_id, member_id FROM coupons").fetchall()
    assert len({c["code"] for c in coupons}) == len(coupons)
    told = {}
    for i, e in committed.items():
        if e.kind == "领券":
            code = replies[i][0]["text"].removeprefix(f"领券 {e.n} ")
            if code != "已领过":
                assert code not in told, f"code {code} told to {told.get(code)} and {e.member}"
                told[code] = e.member
    gifts = {c["code"]: c["member_id"] for c in coupons if c["batch_id"] == "gift"}
    assert told == gifts, (told, gifts)
    assert max(Counter(gifts.values()).values(), default=0) <= GIFT_LIMIT
    won = Counter(
        json.loads(r["mentions"])[0][0] for r in rows if r["text"].startswith("抢到了") and r["event_id"] in seen
    )
    lucky = Counter(c["member_id"] for c in coupons if c["batch_id"] == "lucky")
    assert won == lucky, (won, lucky)
    assert sum(lucky.values()) <= CLAIM_STOCK and max(lucky.values(), default=0) <= 1
    stock = dict(db.execute("SELECT batch_id, issued FROM coupon_stock").fetchall())
    assert stock == {b: n for b, n in Counter(c["batch_id"] for c in coupons).items()}, stock

    # A kill during a send: WeChat has the message once and the bot never sent it again (`unknown`).
    for c in cycles:
        if c.held:
            assert c.committed < c.injected and len(c.sending) == 1, (c, report)
            (row,) = (by_id[i] for i in c.sending)
            assert (row["state"], sends[_as_sent(row)]) == ("unknown", 1), (dict(row), report)


REDELIVER_ROOM = "redeliver@chatroom"
REDELIVER_MEMBER = "wx_redeliver_1"


def test_a_message_redelivered_live_and_after_a_kill_9_and_restart_acts_once(
    gateway: Gateway, qunguan: Qunguan
) -> None:
    """WeChat hands the bot the same message id again (a reconnect, a stalled lookup): the bot answers it once,
    also when the copy arrives after a kill -9 and a restart on the same database file.

    The gateway delivers events in order and the bot handles them in order, so the answer to a new
    message sent after the copies proves the copies were handled (and dropped) already."""
    gateway.post("/contact", id=REDELIVER_MEMBER, name="重投甲")
    gateway.post("/room", id=REDELIVER_ROOM, topic="重投测试群", members=[REDELIVER_MEMBER])
    folder = qunguan.tmp.mktemp("redeliver-playbooks")
    _write_playbooks(folder)
    home = qunguan.shop(endpoint=gateway.endpoint, playbooks=folder, sending="{pacing: false}", rooms=(REDELIVER_ROOM,))
    start = gateway.mark()

    def say(text: str) -> str:
        return str(gateway.post("/room/say", room=REDELIVER_ROOM, **{"from": REDELIVER_MEMBER}, text=text)["id"])

    def answered(text: str) -> None:
        gateway.wait_sent(start, lambda m: m["room_id"] == REDELIVER_ROOM and m["text"] == text, repr(text))

    def replies() -> Counter[str]:  # in the group, and the coupon code told privately
        return Counter(
            m["text"] for m in gateway.sent(start) if m["room_id"] == REDELIVER_ROOM or m["to_id"] == REDELIVER_MEMBER
        )

    bot = qunguan.start(home, token=gateway.token)
    bot.wait_line(r"running; stop with")
    ids = [say("签到 1"), say("加分 2"), say("领券 3")]
    answered("加分 2 共 7")
    for event_id in ids:  # live: the same ids again while the bot runs
        gateway.post("/redeliver", id=event_id)
    ids.append(say("加分 4"))
    answered("加分 4 共 9")
    assert bot.stop(signal.SIGKILL) == -signal.SIGKILL

    bot = qunguan.start(home, token=gateway.token)
    try:
        bot.wait_line(r"running; stop with")
        for event_id in ids:  # after the restart: every id the first process acted on
            gateway.post("/redeliver", id=event_id)
        say("加分 5")
        answered("加分 5 共 11")  # 5 for the check-in, 2 for each 加分: none counted twice
    finally:
        assert bot.stop() == 0
    sent = replies()
    assert max(sent.values()) == 1 and len(sent) == 5, sent
    with bot.db() as db:
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("checkins", "coupons")]
        ledger = db.execute("SELECT count(*) FROM points_ledger WHERE member_id = ?", (REDELIVER_MEMBER,)).fetchone()
    assert (counts, ledger[0]) == ([1, 1], 4)
