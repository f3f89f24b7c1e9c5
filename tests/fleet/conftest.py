"""The fleet's tests run real processes against a real PostgreSQL (tests/fleet/fleet_harness.py): a module starts
its fleet once and its tests share it, each with members and texts of its own.

Without PostgreSQL's server binaries, node, the gateway's packages or the wechaty package these tests are skipped
on a developer's machine and fail under CI=true."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from backends import Cluster, missing
from fleet_harness import Fleet

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
  - schedule: {at: "AT"}
do:
  - say: "SCHEDULED"
""",
}


@pytest.fixture(scope="session", autouse=True)
def _wechaty_installed() -> None:
    if importlib.util.find_spec("wechaty") is None:
        missing("the wechaty package is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def fleet(postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Three gateways, three processes and one database for the module; `fleet.schedule_at` is when the
    scheduled playbook fires (Asia/Shanghai, the config's timezone)."""
    home = tmp_path_factory.mktemp("fleet")
    playbooks = home / "playbooks"
    playbooks.mkdir()
    at = (datetime.now(ZoneInfo("Asia/Shanghai")) + SCHEDULE_AFTER).replace(microsecond=0)
    for name, text in PLAYBOOKS.items():
        text = text.replace("AT", at.strftime("%Y-%m-%d %H:%M:%S")).replace("SCHEDULED", SCHEDULED)
        (playbooks / name).write_text(text, encoding="utf-8")
    url = postgres_cluster.create()
    running = Fleet.start(postgres_cluster, url, home, playbooks)
    running.schedule_at = at
    try:
        yield running
    finally:
        running.close()
        postgres_cluster.drop(url)
