"""kill -9 in the middle of a burst of replies: after a restart every queued reply goes out, each once.

The governor paces sends (one per second here), so once every reply is queued in the outbox and
the first has reached WeChat, the others are still waiting. The bot is killed right then, with
no chance to clean up, and started again on the same database.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # helpers come as fixtures from conftest.py
    from conftest import Gateway, Qunguan

ROOM = "restart@chatroom"
CUSTOMERS = {"wx_rs_1": "顾客甲", "wx_rs_2": "顾客乙", "wx_rs_3": "顾客丙", "wx_rs_4": "顾客丁"}
PACED = "{pacing: true, gap: 1s, jitter: null, room_gap: 1s, quiet_hours: null, slow_start: 0, shutdown_grace: 1s}"


def test_kill_9_mid_burst_loses_nothing_and_sends_nothing_twice(
    gateway: Gateway, qunguan: Qunguan, eventually: Callable[..., Any]
) -> None:
    for member_id, name in CUSTOMERS.items():
        gateway.post("/contact", id=member_id, name=name)
    gateway.post("/room", id=ROOM, topic="会员福利3群", members=list(CUSTOMERS))
    home = qunguan.shop(endpoint=gateway.endpoint, sending=PACED, rooms=(ROOM,))
    bot = qunguan.start(home, token=gateway.token)
    bot.wait_line(r"running; stop with")

    since = gateway.mark()
    for member_id in CUSTOMERS:
        gateway.post("/room/say", room=ROOM, **{"from": member_id}, text="查积分")

    def decided() -> bool:
        with bot.db() as db:
            return db.execute("SELECT count(*) FROM outbox WHERE room_id = ?", (ROOM,)).fetchone() == (len(CUSTOMERS),)

    eventually(decided, what="every reply queued in the outbox")
    gateway.wait_sent(since, lambda m: m["room_id"] == ROOM and m["error"] is None, "the first reply")
    assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
    with bot.db() as db:
        states = Counter(state for (state,) in db.execute("SELECT state FROM outbox WHERE room_id = ?", (ROOM,)))
    assert states["pending"] >= 2, states  # most replies had not left when the bot was killed

    again = qunguan.start(home, token=gateway.token)
    try:
        again.wait_line(r"message\(s\) queued before the last stop will be sent")
        again.wait_line(r"logged in to WeChat as")

        def everyone_answered() -> list[dict[str, Any]] | None:
            replies = [m for m in gateway.sent(since) if m["room_id"] == ROOM and m["error"] is None]
            return replies if all(any(name in m["text"] for m in replies) for name in CUSTOMERS.values()) else None

        eventually(everyone_answered, what="a reply to every customer after the restart")

        def drained() -> bool:
            with again.db() as db:
                left = db.execute(
                    "SELECT count(*) FROM outbox WHERE room_id = ? AND state IN ('pending', 'sending')", (ROOM,)
                ).fetchone()
            return left == (0,)

        eventually(drained, what="an empty queue")  # nothing more can go out after this
        replies = [m["text"] for m in gateway.sent(since) if m["room_id"] == ROOM and m["error"] is None]
        assert Counter(name for text in replies for name in CUSTOMERS.values() if name in text) == Counter(
            CUSTOMERS.values()
        ), replies  # each customer answered exactly once, across the kill
        assert all(text.endswith("你当前有 0 积分，已连续签到 0 天") for text in replies), replies
    finally:
        assert again.stop() == 0
    assert "Traceback" not in again.log
