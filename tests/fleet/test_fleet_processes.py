"""Three bot processes on three mocked WeChat accounts and one PostgreSQL database, one group shared by two of
them: one speaker per group, takeover when it dies or loses the database, work shared once (issue 16, point 7).

The tests share the module's fleet (tests/fleet/conftest.py) and run in order: each uses members of its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from backends import outage, recover
from fleet_harness import ACCOUNTS, HEARTBEAT, LEASE, OWN, OWN_MEMBERS, SCHEDULED, SHARED, SHARED_MEMBERS, Fleet, utc

TAKEOVER = LEASE + HEARTBEAT + 3.0  # seconds: the lease runs out, the next beat takes it; 3 s for a loaded machine


def _once(fleet: Fleet, room: str, members: list[str], contains: str) -> None:
    """Wait until each member has an answer in the group and nothing waits in the outbox; then each has one."""

    def answered() -> bool:
        return all(fleet.answers(room, members, contains).values()) and fleet.unsent() == 0

    def missing() -> str:
        unanswered = [m for m, accounts in fleet.answers(room, members, contains).items() if not accounts]
        return f"{len(unanswered)} unanswered ({unanswered[:10]}...), {fleet.unsent()} outbox rows pending"

    fleet.wait(answered, f"an answer containing {contains!r} to each of {len(members)} members in {room}", missing)
    doubled = {m: accounts for m, accounts in fleet.answers(room, members, contains).items() if len(accounts) != 1}
    fleet.expect(not doubled, f"answered more than once in {room} (member: accounts that sent): {doubled}")


def _speaker(fleet: Fleet, member: str) -> str:
    """The shared group's speaker; a group nobody spoke in yet gets one with a first message (a lease is taken on
    a group's first event), answered."""
    if (speaker := fleet.speaker(SHARED)) is not None:
        return speaker
    fleet.say(SHARED, member, "签到")
    _once(fleet, SHARED, [member], "签到成功")
    return fleet.wait(lambda: fleet.speaker(SHARED), "a speaker for the shared group")


def _other(account: str) -> str:
    return "shop-b" if account == "shop-a" else "shop-a"


def test_every_message_in_a_shared_group_is_answered_exactly_once(fleet: Fleet) -> None:
    members = SHARED_MEMBERS[:50]
    for member in members:
        fleet.say(SHARED, member, "签到")
    _once(fleet, SHARED, members, "签到成功")
    fleet.expect(not fleet.sent(SHARED, "已经签到过"), "a second account acted on messages the speaker answered")
    speaker = fleet.speaker(SHARED)
    fleet.expect(speaker in ("shop-a", "shop-b"), f"no live lease on the shared group (speaker: {speaker})")


def test_the_speaker_killed_mid_burst_is_replaced_within_the_lease_and_no_answer_is_lost_or_doubled(
    fleet: Fleet,
) -> None:
    speaker = _speaker(fleet, SHARED_MEMBERS[112])
    other = _other(speaker)
    members = SHARED_MEMBERS[50:90]
    gateway = fleet.gateways[speaker]
    held = gateway.call("GET", "/state")["sends_held"]
    # The 11th answer reaches WeChat but the process never hears back: it is killed in the middle of that send.
    gateway.post("/slow-sends", skip=10, count=1, ms=120_000)
    for member in members[:20]:
        fleet.say(SHARED, member, "签到")
    fleet.wait(lambda: gateway.call("GET", "/state")["sends_held"] > held, f"{speaker} to be in the middle of a send")
    fleet.kill(speaker)
    killed = time.monotonic()
    for member in members[20:]:
        fleet.say(SHARED, member, "签到")
    fleet.wait(lambda: fleet.speaker(SHARED) == other, f"{other} to take the shared group over", timeout=30)
    took = time.monotonic() - killed
    fleet.expect(took <= TAKEOVER, f"{other} took over {took:.1f} s after the kill (lease {LEASE:g} s)")
    _once(fleet, SHARED, members, "签到成功")
    fleet.expect(not fleet.sent(SHARED, "已经签到过"), "an event the dead speaker had committed was acted on again")


def test_300_concurrent_claims_in_groups_of_three_accounts_give_exactly_100_coupons(fleet: Fleet) -> None:
    for i in range(100):
        for account in ACCOUNTS:
            fleet.say(OWN[account], OWN_MEMBERS[account][i], "领券")
    for account in ACCOUNTS:
        _once(fleet, OWN[account], OWN_MEMBERS[account], "领")  # 领到了… or 没领到…
    won = [m for account in ACCOUNTS for m in fleet.gateways[account].sent() if "领到了百张券" in m["text"]]
    coupons = fleet.rows("SELECT code, member_id FROM coupons WHERE batch_id = 'fleet-100'")
    fleet.expect(len(coupons) == 100, f"{len(coupons)} coupons issued from a stock of 100")
    fleet.expect(len({c["member_id"] for c in coupons}) == 100, "a member got two coupons (per_member: 1)")
    fleet.expect(len(won) == 100, f"{len(won)} members were told they won a coupon, for 100 coupons issued")
    told = {m["text"].rsplit(" ", 1)[1] for m in won}
    fleet.expect(told == {c["code"] for c in coupons}, "the codes told in the groups are not the coupons issued")
    for coupon in coupons:
        fleet.expect(
            any(m["to_id"] == coupon["member_id"] and coupon["code"] in m["text"] for m in won),
            f"coupon {coupon['code']} of {coupon['member_id']} was not told to them (privately: a code is theirs)",
        )


def test_a_scheduled_playbook_fires_once_in_each_group(fleet: Fleet) -> None:
    assert fleet.schedule_at is not None
    rooms = [SHARED, *OWN.values()]
    fleet.wait(
        lambda: all(fleet.sent(room, SCHEDULED) for room in rooms),
        f"the playbook scheduled at {fleet.schedule_at:%H:%M:%S} in every group",
        timeout=max((fleet.schedule_at - datetime.now(UTC)).total_seconds(), 0) + 60,
    )
    # Every tick queued before a later message in each process is handled before it (one intake, in order).
    for account in ACCOUNTS:
        fleet.say(OWN[account], OWN_MEMBERS[account][11], "签到")
    for account in ACCOUNTS:
        _once(fleet, OWN[account], [OWN_MEMBERS[account][11]], "签到成功")
    for room in rooms:
        sent = fleet.sent(room, SCHEDULED)
        fleet.expect(len(sent) == 1, f"the scheduled message went to {room} {len(sent)} times: {sent}")
    queued = fleet.rows("SELECT room_id, count(*) AS n FROM outbox WHERE text = $1 GROUP BY room_id", SCHEDULED)
    fleet.expect({r["room_id"]: r["n"] for r in queued} == dict.fromkeys(rooms, 1), f"outbox rows: {queued}")


def test_a_process_cut_off_from_postgresql_reconnects_loses_nothing_and_its_groups_are_taken_over(
    fleet: Fleet,
) -> None:
    away = _speaker(fleet, SHARED_MEMBERS[113])
    other = _other(away)
    shared, own = SHARED_MEMBERS[90:100], OWN_MEMBERS[away][:10]
    fleet.partition(away)
    cut = time.monotonic()
    for member in shared:
        fleet.say(SHARED, member, "签到")
    for member in own:
        fleet.say(OWN[away], member, "签到")
    fleet.wait(lambda: fleet.speaker(SHARED) == other, f"{other} to take the shared group over", timeout=30)
    took = time.monotonic() - cut
    fleet.expect(took <= TAKEOVER, f"{other} took over {took:.1f} s after the partition (lease {LEASE:g} s)")
    _once(fleet, SHARED, shared, "签到成功")  # answered by the other account while `away` is away
    fleet.expect(not any(fleet.answers(OWN[away], own, "签到").values()), f"{away} answered in its group while cut off")
    fleet.expect(fleet.bots[away].alive(), f"{away} exited when PostgreSQL went away")
    fleet.heal(away)
    healed = datetime.now(UTC)
    fleet.wait(lambda: (fleet.heartbeat_at(away) or healed) > healed, f"{away} to beat again after reconnecting")
    _once(fleet, OWN[away], own, "签到成功")  # what it received while cut off: handled once reconnected
    # A later message in each group, answered: everything the process held from the partition is behind it now.
    fleet.say(SHARED, SHARED_MEMBERS[100], "签到")
    fleet.say(OWN[away], OWN_MEMBERS[away][10], "签到")
    _once(fleet, SHARED, [*shared, SHARED_MEMBERS[100]], "签到成功")
    _once(fleet, OWN[away], [*own, OWN_MEMBERS[away][10]], "签到成功")
    fleet.expect(not fleet.sent(SHARED, "已经签到过"), f"{away} acted on shared messages after it reconnected")


def test_a_postgresql_outage_longer_than_the_lease_loses_nothing_and_doubles_nothing(fleet: Fleet) -> None:
    shared = SHARED_MEMBERS[101:111]
    own = {account: OWN_MEMBERS[account][12:17] for account in ACCOUNTS}
    until = utc(fleet.rows("SELECT max(expires_at) AS until FROM speaker_leases")[0]["until"])
    seen = {account: len(bot.lines) for account, bot in fleet.bots.items()}
    outage(fleet.cluster)
    try:
        for member in shared:
            fleet.say(SHARED, member, "签到")
        for account in ACCOUNTS:
            for member in own[account]:
                fleet.say(OWN[account], member, "签到")
        fleet.wait(
            lambda: all(bot.logged("database unavailable", after=seen[a]) for a, bot in fleet.bots.items()),
            "every process to find the database gone",
        )
        fleet.wait(lambda: datetime.now(UTC) > until, "every lease to run out while the database is down")
    finally:
        recover(fleet.cluster)
    fleet.expect(all(bot.alive() for bot in fleet.bots.values()), "a process exited while PostgreSQL was down")
    _once(fleet, SHARED, shared, "签到成功")
    for account in ACCOUNTS:
        _once(fleet, OWN[account], own[account], "签到成功")
    # A later message in each group, answered: everything held during the outage is behind it now.
    fleet.say(SHARED, SHARED_MEMBERS[111], "签到")
    _once(fleet, SHARED, [*shared, SHARED_MEMBERS[111]], "签到成功")
    fleet.expect(not fleet.sent(SHARED, "已经签到过"), "both accounts acted on the shared group after the outage")
    fleet.expect(fleet.speaker(SHARED) in ("shop-a", "shop-b"), "nobody speaks for the shared group after the outage")


def test_the_database_away_is_told_to_the_operator_without_tracebacks(fleet: Fleet) -> None:
    """A PostgreSQL restart is an expected event: each process says so in a line and carries on, no ERROR with
    a traceback every second from each loop that reads the database."""
    seen = {account: len(bot.lines) for account, bot in fleet.bots.items()}
    outage(fleet.cluster)
    try:
        for account in ACCOUNTS:
            fleet.say(OWN[account], OWN_MEMBERS[account][17], "签到")
        fleet.wait(
            lambda: all(bot.logged("database unavailable", after=seen[a]) for a, bot in fleet.bots.items()),
            "every process to find the database gone",
        )
    finally:
        recover(fleet.cluster)
    for account in ACCOUNTS:
        _once(fleet, OWN[account], [OWN_MEMBERS[account][17]], "签到成功")
    found = {
        account: sorted({line[29:] for line in bot.lines[seen[account] :] if "ERROR" in line})
        for account, bot in fleet.bots.items()
    }
    fleet.expect(not fleet.tracebacks(seen), f"tracebacks while the database was down, after: {found}")
