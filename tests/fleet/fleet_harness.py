"""A fleet of real processes on a real PostgreSQL, for tests/fleet: three Node gateways (one mocked WeChat account
each), three `qunguan run --account NAME --connector wechaty` processes sharing one config.yaml and one database
(each through its own TCP proxy, to cut one off), and the groups: one shared by shop-a and shop-b (the same room
id in both gateways; each message is posted to both with the same time, as WeChat delivers it to both accounts),
and one group of its own per account.

Nothing sleeps to wait: `Fleet.wait` polls the gateways or the database with a deadline (# allowed-sleep), and a
failure shows every process's log."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from backends import USER, Cluster
from fleet_proxy import Proxy
from wechaty_gateway import Gateway

from bot.fleet.settings import env_name

T = TypeVar("T")

ACCOUNTS = ("shop-a", "shop-b", "shop-c")
LEASE = 2.0  # seconds: fleet.lease (the issue: a second or two in tests)
HEARTBEAT = 1.0  # seconds: fleet.heartbeat (durations are whole seconds)
DEADLINE = 60.0  # seconds for a burst to be answered on a loaded 2-core machine; a pass takes a few
SHARED = "shared@chatroom"  # the group shop-a and shop-b are both in
OWN = {account: f"{account}@chatroom" for account in ACCOUNTS}  # a group each account alone is in
SHARED_MEMBERS = [f"s{n:03d}" for n in range(1, 121)]
OWN_MEMBERS = {account: [f"{account[-1]}{n:03d}" for n in range(1, 101)] for account in ACCOUNTS}

SCHEDULE_AFTER = timedelta(seconds=75)  # the scheduled playbook fires this long after the fleet is set up
SCHEDULED = "定时提醒：今晚八点直播"

PLAYBOOKS = {
    "fleet-checkin.yaml": """id: fleet-checkin
name: 签到
when:
  - message: {text: 签到}
do:
  - checkin: {points: 5}
  - choose:
      - if: [{expr: "checkin.already"}]
        do: [{reply: "{{ member.name }} 今天已经签到过啦"}]
      - else:
          - reply: "{{ member.name }} 签到成功！共 {{ member.points }} 分"
""",
    "fleet-coupons.yaml": """id: fleet-coupons
name: 领券
when:
  - message: {text: 领券}
do:
  - coupon: {batch: fleet-100}
  - choose:
      - if: [{expr: "coupon.none"}]
        do: [{reply: "{{ member.name }} 没领到：{{ coupon.none }}"}]
      - else:
          - reply: "{{ member.name }} 领到了百张券，券码 {{ coupon.code }}"
coupons:
  - {id: fleet-100, title: 百张券, stock: 100, per_member: 1, valid_for: 7d, code_prefix: FL}
""",
    "fleet-schedule.yaml": """id: fleet-schedule
name: 定时提醒
when:
  - schedule: {at: "@AT@"}
do:
  - say: "@SCHEDULED@"
""",
}


def write_playbooks(folder: Path, at: datetime) -> None:
    """The fleet's playbooks; the scheduled one fires at `at` (in the config's timezone)."""
    for name, text in PLAYBOOKS.items():
        text = text.replace("@AT@", at.strftime("%Y-%m-%d %H:%M:%S")).replace("@SCHEDULED@", SCHEDULED)
        (folder / name).write_text(text, encoding="utf-8")


def name_of(member: str) -> str:
    """A member's WeChat name: what replies address them by (`{{ member.name }}`)."""
    return f"会员{member}"


def bot_id(account: str) -> str:
    return f"bot-{account}"


def rooms_of(account: str) -> tuple[str, ...]:
    return (SHARED, OWN[account]) if account in ("shop-a", "shop-b") else (OWN[account],)


@dataclass
class FleetBot:
    """One `qunguan run --account NAME` process, its stderr collected line by line."""

    account: str
    process: subprocess.Popen[str]
    log_file: Path  # the whole log, kept after the test (every start of the account appends to it)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log_file.open("a", encoding="utf-8") as kept:
            for line in self.process.stderr:
                self.lines.append(line.rstrip("\n"))
                kept.write(line)
                kept.flush()
            self.lines.append(f"<EOF: exit {self.process.wait()}>")
            kept.write(self.lines[-1] + "\n")

    def alive(self) -> bool:
        return self.process.poll() is None

    def logged(self, pattern: str, after: int = 0) -> bool:
        regex = re.compile(pattern)
        return any(regex.search(line) for line in self.lines[after:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Sent:
    """A message an account's gateway saw the bot send."""

    account: str
    room: str | None
    text: str
    error: str | None


class Fleet:
    """The whole fleet of one test module: start with `Fleet.start`, close with `close`."""

    def __init__(self, cluster: Cluster, url: str, home: Path, playbooks: Path) -> None:
        self.cluster = cluster
        self.url = url  # the database, straight (not through a proxy)
        self.database = url.rsplit("/", 1)[1]
        self.home = home
        self.playbooks = playbooks
        self.gateways: dict[str, Gateway] = {}
        self.proxies: dict[str, Proxy] = {}
        self.bots: dict[str, FleetBot] = {}
        self._stamps = itertools.count(int(time.time() * 1000))  # distinct message times, ms
        self.schedule_at: datetime | None = None  # when the module's scheduled playbook fires

    # ---------------------------------------------------------------- setting up

    @classmethod
    def start(cls, cluster: Cluster, url: str, home: Path, playbooks: Path) -> Fleet:
        fleet = cls(cluster, url, home, playbooks)
        try:
            with ThreadPoolExecutor(len(ACCOUNTS)) as pool:  # each gateway takes a few seconds to start
                for account, gateway in zip(ACCOUNTS, pool.map(_gateway, ACCOUNTS), strict=True):
                    fleet.gateways[account] = gateway
                    fleet.proxies[account] = Proxy(cluster.port)
                list(pool.map(fleet._world, ACCOUNTS))
            fleet._config()
            # All at once: the database is a copy of the migrated template (tests/backends.py), so none of them
            # creates the schema (a concurrent first start on an empty database is tests/test_migrate_store.py's).
            for account in ACCOUNTS:
                fleet.launch(account)
            for account in ACCOUNTS:
                fleet.wait_ready(account)
        except BaseException:
            fleet.close()
            raise
        return fleet

    def _world(self, account: str) -> None:
        """The account's WeChat: its groups with their members (the other bot of a shared group among them)."""
        gateway = self.gateways[account]
        for room in rooms_of(account):
            members = SHARED_MEMBERS if room == SHARED else OWN_MEMBERS[account]
            others = [bot_id(a) for a in ("shop-a", "shop-b") if a != account] if room == SHARED else []
            for member in [*members, *others]:
                gateway.post("/contact", id=member, name=name_of(member), friend=True)
            gateway.post("/room", id=room, topic=f"群{room.split('@')[0]}", members=[*members, *others])

    def _config(self) -> None:
        rooms = ", ".join(f'{{id: "{room}"}}' for room in (SHARED, *OWN.values()))
        accounts = "\n".join(f"  {account}: {{}}" for account in ACCOUNTS)
        (self.home / "config.yaml").write_text(
            f"""bot: {{name: 群管小助手}}
playbooks: {self.playbooks}
connector: wechaty
wechaty: {{login_timeout: 60s, reconnect_max: 2s}}
dm_fallback: mention
sending: {{pacing: false}}
log_level: INFO
timezone: Asia/Shanghai
rooms: [{rooms}]
accounts:
{accounts}
fleet: {{lease: {LEASE:g}s, heartbeat: {HEARTBEAT:g}s}}
""",
            encoding="utf-8",
        )

    def env(self, account: str) -> dict[str, str]:
        """What a fleet's processes share (as one EnvironmentFile would give them): every account's token and
        endpoint; each process picks its own. The database through this process's proxy."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHATY_", "QUNGUAN_"))}
        for name, gateway in self.gateways.items():
            env[env_name("WECHATY_PUPPET_SERVICE_TOKEN", name)] = gateway.token
            env[env_name("WECHATY_PUPPET_SERVICE_ENDPOINT", name)] = gateway.endpoint
        env["QUNGUAN_DATABASE_URL"] = self.url.replace(f":{self.cluster.port}/", f":{self.proxies[account].port}/")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def launch(self, account: str) -> FleetBot:
        """Start (or start again) the account's process."""
        command = ["run", "--account", account, "--connector", "wechaty", "--config", "config.yaml"]
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *command],
            cwd=self.home,
            env=self.env(account),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.bots[account] = FleetBot(account, process, self.home / f"{account}.log")
        return self.bots[account]

    def all_running(self) -> None:
        """Start again any process a test killed or that died (one failing test leaves the next a whole fleet)."""
        dead = [account for account, bot in self.bots.items() if not bot.alive()]
        for account in dead:
            self.launch(account)
        for account in dead:
            self.wait_ready(account)

    def tracebacks(self, since: dict[str, int]) -> dict[str, int]:
        """How many tracebacks each process logged after line `since[account]` (an operator's log has none)."""
        found = {a: sum("Traceback" in line for line in bot.lines[since.get(a, 0) :]) for a, bot in self.bots.items()}
        return {account: n for account, n in found.items() if n}

    def wait_ready(self, account: str) -> None:
        bot = self.bots[account]
        self.wait(lambda: bot.logged(r"logged in.* to WeChat as") or not bot.alive(), f"{account} to log in")
        if not bot.alive():
            self.fail(f"{account} exited at start")
        self.wait(lambda: self.online(account), f"{account} to say it is online in fleet_accounts")

    def close(self) -> None:
        with ThreadPoolExecutor(len(ACCOUNTS)) as pool:
            list(pool.map(FleetBot.stop, self.bots.values()))
            list(pool.map(Gateway.close, self.gateways.values()))
        for proxy in self.proxies.values():
            proxy.close()

    # ---------------------------------------------------------------- driving

    def say(self, room: str, member: str, text: str) -> int:
        """A member's message in a group, as every account in it receives it (same time, own message ids)."""
        ts = next(self._stamps)
        for account in self.accounts_in(room):
            self.gateways[account].post("/room/say", room=room, **{"from": member}, text=text, ts=ts)
        return ts

    @staticmethod
    def accounts_in(room: str) -> list[str]:
        return [account for account in ACCOUNTS if room in rooms_of(account)]

    def sent(self, room: str, contains: str = "") -> list[Sent]:
        """What every account's gateway saw sent to the group (containing `contains`), accepted by WeChat."""
        return [
            Sent(account, m["room_id"], m["text"], m["error"])
            for account in self.accounts_in(room)
            for m in self.gateways[account].sent()
            if m["room_id"] == room and contains in m["text"] and m["error"] is None
        ]

    def answers(self, room: str, members: Iterable[str], contains: str) -> dict[str, list[str]]:
        """For each member: the accounts that answered them with a text containing `contains`, in the group
        (naming them) or privately (a coupon code goes to the member alone)."""
        out: dict[str, list[str]] = {member: [] for member in members}
        for account in self.accounts_in(room):
            for m in self.gateways[account].sent():
                if m["error"] is not None or contains not in m["text"]:
                    continue
                if m["to_id"] in out:
                    out[m["to_id"]].append(account)
                elif m["room_id"] == room:
                    for member in out:
                        if name_of(member) in m["text"]:
                            out[member].append(account)
        return out

    def kill(self, account: str) -> None:
        """kill -9: no clean stop, no lease released, nothing flushed."""
        bot = self.bots[account]
        bot.process.send_signal(signal.SIGKILL)
        bot.process.wait(30)

    # ---------------------------------------------------------------- the database

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async def fetch() -> list[dict[str, Any]]:
            import asyncpg

            conn = await asyncpg.connect(user=USER, host="127.0.0.1", port=self.cluster.port, database=self.database)
            try:
                return [dict(r) for r in await conn.fetch(sql, *args)]
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def speaker(self, room: str) -> str | None:
        """The account whose lease on the group is live now, if any."""
        found = self.rows("SELECT account, expires_at FROM speaker_leases WHERE room_id = $1", room)
        if not found or utc(found[0]["expires_at"]) <= datetime.now(UTC):
            return None
        return str(found[0]["account"])

    def online(self, account: str) -> bool:
        found = self.rows("SELECT status FROM fleet_accounts WHERE account = $1", account)
        return bool(found) and found[0]["status"] == "online"

    def heartbeat_at(self, account: str) -> datetime | None:
        found = self.rows("SELECT heartbeat_at FROM fleet_accounts WHERE account = $1", account)
        return utc(found[0]["heartbeat_at"]) if found else None

    def unsent(self) -> int:
        """Outbox rows waiting to be sent (a row a killed process was sending stays `sending`: never resent)."""
        return int(self.rows("SELECT count(*) AS n FROM outbox WHERE state = 'pending'")[0]["n"])

    def partition(self, account: str) -> None:
        """Cut the account's process off PostgreSQL: its backends terminated (pg_terminate_backend), new
        connections refused until `heal`."""
        proxy = self.proxies[account]
        ports = proxy.server_ports()
        proxy.cut()
        self.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY($1::int[])"
            " AND pid <> pg_backend_pid()",
            ports,
        )

    def heal(self, account: str) -> None:
        self.proxies[account].heal()

    # ---------------------------------------------------------------- waiting and failing

    def wait(
        self,
        probe: Callable[[], T | None],
        what: str,
        state: Callable[[], str] | None = None,
        timeout: float = DEADLINE,
    ) -> T:
        """Poll `probe` until it returns something truthy; at the deadline fail with `state()` (what there is
        instead) and every process's log."""
        end = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > end:
                self.fail(f"timed out after {timeout:g} s waiting for {what}" + (f": {state()}" if state else ""))
            time.sleep(0.05)  # allowed-sleep: the pause between two polls of real subprocesses

    def expect(self, condition: object, message: str) -> None:
        """Assert, with every process's log in the failure."""
        if not condition:
            self.fail(message)

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n{self.logs()}", pytrace=False)

    def logs(self, tail: int = 60) -> str:
        parts = []
        for account, bot in self.bots.items():
            lines = bot.lines[-tail:]
            parts.append(f"---- {account} (pid {bot.process.pid}) stderr, last {tail} lines (all: {bot.log_file}):")
            parts.extend(lines)
        return "\n".join(parts)


def _gateway(account: str) -> Gateway:
    """The account's mocked WeChat, with a token of its own: a process that picks another account's fails."""
    token = f"insecure_fleet_{account.replace('-', '_')}"
    return Gateway.start(token=token, bot_id=bot_id(account), bot_name=f"群管{account}")


def utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
