"""How big each measurement is: the full run the issue asks for, a quick one, and a tiny one for the smoke test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    noio_messages: int  # messages through the no-I/O pipeline per run
    sqlite_rows: int  # rows for the fast SQLite references (stdlib per row, executemany)
    slow_rows: int  # rows for the slow ones (aiosqlite and SQLModel, a transaction per row)
    rival_messages: int  # messages per run through opsdroid / errbot
    path_events: int  # events each full-path run offers (a fleet's processes share them)
    path_members: int  # members already known to the bot (check-ins come from distinct members)
    latency_rate: float  # events per second offered in the latency run
    latency_seconds: float  # ... for this long
    claim_members: int  # the claim burst: members saying 抢券 in one group, offered at claim_rate
    claim_stock: int  # ... for a drop of this many coupons
    claim_rate: float
    segment_members: int
    analytics_members: int  # the console's analytics: members, and events (joins, messages, check-ins, coupons ...)
    analytics_events: int
    check_playbooks: int
    start_playbooks: int
    start_members: int
    playbook_counts: tuple[int, int, int] = (10, 100, 1000)  # flat-in-playbooks: small, the main figure, large
    keywords: int = 1000  # keywords in the no-I/O pipeline's index


FULL = Sizes(
    name="full",
    noio_messages=200_000,
    sqlite_rows=20_000,
    slow_rows=2_000,
    rival_messages=10_000,
    path_events=30_000,
    path_members=100_000,
    latency_rate=2000.0,
    latency_seconds=2.0,
    claim_members=1_000,
    claim_stock=100,
    claim_rate=1000.0,
    segment_members=1_000_000,
    analytics_members=1_000_000,
    analytics_events=10_000_000,
    check_playbooks=1000,
    start_playbooks=1000,
    start_members=100_000,
)

QUICK = Sizes(
    name="quick",
    noio_messages=50_000,
    sqlite_rows=5_000,
    slow_rows=500,
    rival_messages=2_000,
    path_events=5_000,
    path_members=20_000,
    latency_rate=2000.0,
    latency_seconds=0.5,
    claim_members=1_000,
    claim_stock=100,
    claim_rate=1000.0,
    segment_members=200_000,
    analytics_members=100_000,
    analytics_events=1_000_000,
    check_playbooks=1000,
    start_playbooks=1000,
    start_members=20_000,
)

TINY = Sizes(
    name="tiny",
    noio_messages=2_000,
    sqlite_rows=200,
    slow_rows=20,
    rival_messages=50,
    path_events=10,
    path_members=200,
    latency_rate=200.0,
    latency_seconds=0.05,
    claim_members=20,
    claim_stock=5,
    claim_rate=200.0,
    segment_members=2_000,
    analytics_members=2_000,
    analytics_events=20_000,
    check_playbooks=20,
    start_playbooks=20,
    start_members=200,
    playbook_counts=(2, 5, 20),
    keywords=50,
)
