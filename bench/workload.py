"""What the bench feeds the bot: generated playbooks, a shop's worth of members, and member messages.

Everything is derived from a seed, so two runs see the same playbooks, members and messages.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import MemberRef, MessageEvent, RoomRef
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
CHECKIN_PLAYBOOK = ROOT / "playbooks" / "daily-checkin.yaml"  # the shipped one: it writes the points ledger
# Shipped moderation playbooks, run on every message as in a shop: the word list is matched against each text and
# each member's message count kept; the bench's members say one thing each, none on the list, so none fires.
MODERATION = tuple(ROOT / "playbooks" / "moderation" / name for name in ("anti-flood.yaml", "banned-words.yaml"))
CHECKIN_TEXT = "签到"
ROOMS = 20
CHAT = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你吗呢吧啊"


def keyword(i: int) -> str:
    """The keyword of generated playbook i: a product code, so no keyword contains another."""
    return f"款{i:04d}"


def _playbook(i: int) -> str:
    """Playbook i in a shape operators write: FAQ keywords (plain, with a cooldown, with a role check), exact text."""
    pid = f"bench-{i:04d}"
    head = f"id: {pid}\nname: 商品{i}问答\n"
    reply = f"do:\n  - reply: 「{keyword(i)}」有货，{{{{ member.name }}}} 可以到店看看。\n"
    shape = i % 4
    if shape == 3:  # an exact text: a dict lookup in the index
        return head + f"when:\n  - message: {{text: [查{keyword(i)}], in: any}}\n" + reply
    when = f"when:\n  - message: {{keywords: [{keyword(i)}, 问{keyword(i)}], in: any}}\n"
    if shape == 1:
        return head + when + "if:\n  - cooldown: 1m\n" + reply
    if shape == 2:
        return head + when + "if:\n  - expr: \"member.role == 'member'\"\n" + reply
    return head + when + reply


def generated(total: int) -> int:
    """How many of `total` playbooks are generated: the rest are the shipped check-in and moderation ones."""
    return max(total - 1 - len(MODERATION), 0)


def playbook_texts(total: int) -> dict[str, str]:
    """`total` playbooks by file name: the shipped daily check-in and moderation playbooks, and generated ones."""
    texts = {f"bench-{i:04d}.yaml": _playbook(i) for i in range(generated(total))}
    texts["daily-checkin.yaml"] = CHECKIN_PLAYBOOK.read_text("utf-8")
    for path in MODERATION:
        texts[path.name] = path.read_text("utf-8")
    return texts


def keyword_playbooks(total: int) -> list[int]:
    """Indexes of the generated playbooks a chat message can start by keyword."""
    return [i for i in range(generated(total)) if i % 4 != 3]


def write_playbooks(folder: Path, total: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in playbook_texts(total).items():
        (folder / name).write_text(text, encoding="utf-8")


def member(i: int) -> MemberRef:
    return MemberRef(f"wxid_{i:07d}", f"会员{i}")


def room(k: int) -> RoomRef:
    return RoomRef(f"room-{k:02d}@chatroom", f"福利{k}群")


def chat_text(rng: random.Random, word: str) -> str:
    """A group-chat sized message (10-40 characters) with the word somewhere in it."""
    before = "".join(rng.choice(CHAT) for _ in range(rng.randint(5, 20)))
    after = "".join(rng.choice(CHAT) for _ in range(rng.randint(5, 20)))
    return before + word + after


@dataclass
class Traffic:
    """Member messages in arrival order. Each check-in comes from a member who has not checked in today,
    so every one writes a check-in row and a ledger entry; `mixed` makes every other message a product
    question from another member, answered by keyword."""

    run: str  # keeps event ids apart between runs on one database
    clock_now: Callable[[], datetime]  # the bot's clock
    seed: int
    playbooks: int
    mixed: bool = False

    def __iter__(self) -> Iterator[MessageEvent]:
        rng = random.Random(self.seed)
        words = [keyword(i) for i in keyword_playbooks(self.playbooks)] or [CHECKIN_TEXT]
        now = self.clock_now
        i = 0
        while True:
            text = chat_text(rng, rng.choice(words)) if self.mixed and i % 2 else CHECKIN_TEXT
            yield MessageEvent(
                id=f"{self.run}-{i}",
                at=now(),
                sender=member(i),
                text=text,
                room=room(i % ROOMS),
            )
            i += 1


def sql_time(at: datetime) -> str:
    """How SQLAlchemy stores a DateTime in SQLite (naive UTC), so rows written here read back like the bot's."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_customers(path: Path, count: int, *, now: datetime, seed: int) -> dict[str, int]:
    """What the shop knows of the members `fill_members` wrote: 70% gave a birthday (spread over the year,
    Feb 29 included), 30% ordered at the till (1-12 orders, 10-5,000 yuan, the last one in the past year)."""
    rng = random.Random(seed + 1)
    conn = sqlite3.connect(path)
    counts = {"birthdays": 0, "member_orders": 0}
    leap = datetime(2024, 1, 1, tzinfo=UTC)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        chunk = 50_000
        for first in range(0, count, chunk):
            birthdays, orders = [], []
            for i in range(first, min(first + chunk, count)):
                ref = member(i)
                if rng.random() < 0.7:
                    day = leap + timedelta(days=rng.randrange(366))
                    birthdays.append((ref.id, "birthday", day.strftime("%m-%d"), sql_time(now)))
                if rng.random() < 0.3:
                    n = rng.randint(1, 12)
                    spent = rng.randint(1_000, 500_000) * n // 4
                    orders.append((ref.id, n, spent, sql_time(now - timedelta(days=rng.uniform(0, 365)))))
            conn.executemany(
                "INSERT INTO profile_values (member_id, field_id, value, at) VALUES (?, ?, ?, ?)", birthdays
            )
            conn.executemany(
                "INSERT INTO member_orders (member_id, orders, spent_cents, last_order_at) VALUES (?, ?, ?, ?)", orders
            )
            counts["birthdays"] += len(birthdays)
            counts["member_orders"] += len(orders)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return counts


async def create_database(path: Path) -> None:
    """An empty database at today's schema, made by the bot's own migrations."""
    store = await Store.open(str(path))
    await store.close()


def fill_members(path: Path, count: int, *, now: datetime, seed: int) -> dict[str, int]:
    """A shop's members, written straight with sqlite3 (the bot would take minutes for a million).

    Spread so every lifecycle stage is present: joined up to a year ago, last spoke between then and now
    (10% never did), 5% left their group, 20% were nudged in the last 60 days, 2% opted out.
    """
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    counts = {"members": count, "room_members": count, "nudges": 0, "opt_outs": 0}
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(
            "INSERT OR IGNORE INTO rooms (id, topic, first_seen, last_active) VALUES (?, ?, ?, ?)",
            [(room(k).id, room(k).topic, sql_time(now - timedelta(days=400)), sql_time(now)) for k in range(ROOMS)],
        )
        chunk = 50_000
        for first in range(0, count, chunk):
            members, memberships, nudges, opt_outs = [], [], [], []
            for i in range(first, min(first + chunk, count)):
                ref = member(i)
                joined = now - timedelta(days=rng.uniform(0, 365))
                spoke = None if rng.random() < 0.1 else joined + (now - joined) * rng.random()
                members.append((ref.id, ref.name, 0, sql_time(joined), spoke and sql_time(spoke)))
                left = rng.random() < 0.05
                memberships.append(
                    (
                        room(i % ROOMS).id,
                        ref.id,
                        sql_time(joined),
                        sql_time(now - timedelta(days=rng.uniform(0, 30))) if left else None,
                        not left,
                    )
                )
                if rng.random() < 0.2:
                    nudges.append((ref.id, "reactivation", False, sql_time(now - timedelta(days=rng.uniform(0, 60)))))
                if rng.random() < 0.02:
                    opt_outs.append((ref.id, sql_time(now - timedelta(days=rng.uniform(0, 90)))))
            conn.executemany(
                "INSERT INTO members (id, name, points, first_seen, last_active) VALUES (?, ?, ?, ?, ?)", members
            )
            conn.executemany(
                "INSERT INTO room_members (room_id, member_id, joined_at, left_at, active) VALUES (?, ?, ?, ?, ?)",
                memberships,
            )
            conn.executemany("INSERT INTO nudges (member_id, playbook_id, holdout, at) VALUES (?, ?, ?, ?)", nudges)
            conn.executemany("INSERT INTO opt_outs (member_id, at) VALUES (?, ?)", opt_outs)
            counts["nudges"] += len(nudges)
            counts["opt_outs"] += len(opt_outs)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return counts
