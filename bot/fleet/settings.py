"""config.yaml's `accounts:` and `fleet:`, and the webhooks of `alerts:` (bot/alerts.py). Tokens and webhook
addresses are secrets: only the environment gives them (`env_name` says which variable)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from bot.playbook.types import Duration, Params

ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SINGLE = "default"  # the account of a process that is not in a fleet (no `accounts:` in config.yaml)


def env_name(prefix: str, account: str) -> str:
    """The environment variable of one account's secret: WECHATY_PUPPET_SERVICE_TOKEN_SHOP_A for `shop-a`."""
    return f"{prefix}_{re.sub(r'[^A-Z0-9]', '_', account.upper())}"


class AccountEntry(Params):
    """One WeChat account of the shop, run by `qunguan run --account NAME`. Its token comes only from
    WECHATY_PUPPET_SERVICE_TOKEN_<NAME> (then WECHATY_PUPPET_SERVICE_TOKEN); the endpoint from
    WECHATY_PUPPET_SERVICE_ENDPOINT_<NAME>, else here. WeChat limits accounts, so its sending limits are its own."""

    endpoint: str = ""  # host:port of this account's Wechaty puppet service
    daily_limit: int | None = Field(None, ge=1)  # instead of sending.daily_limit for this account
    per_minute: int | None = Field(None, ge=1)  # instead of sending.per_minute for this account


class FleetSection(Params):
    """How the processes of a fleet share groups: one speaker per group, by lease (bot/fleet/)."""

    # A speaker silent this long is replaced by another account in the group at that one's next heartbeat: with
    # the defaults within 30 s of the last heartbeat of a process that died.
    lease: Duration = timedelta(seconds=25)
    heartbeat: Duration = timedelta(seconds=5)  # how often a process renews its leases and says it is alive
    hold: Duration = timedelta(minutes=5)  # how long the other accounts keep a group's events for a takeover

    @model_validator(mode="after")
    def _in_order(self) -> FleetSection:
        """0 < heartbeat < lease < hold: leases renewed before they run out, events held until a takeover."""
        if self.heartbeat <= timedelta(0):
            raise ValueError("'fleet.heartbeat' must be longer than 0s")
        if self.heartbeat >= self.lease:
            raise ValueError("'fleet.heartbeat' must be shorter than 'fleet.lease', or leases run out between beats")
        if self.hold <= self.lease:
            raise ValueError("'fleet.hold' must be longer than 'fleet.lease', or held events go before a takeover")
        return self


class Webhook(Params):
    """A group robot that hears the fleet's alerts: 企业微信 (wecom), 钉钉 (dingtalk), 飞书 (feishu), or plain
    JSON. Its address holds the robot's key, so it is read from the environment variable named here."""

    format: Literal["wecom", "dingtalk", "feishu", "json"]
    url_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")


def account_names_valid(names: list[str]) -> str | None:
    """The first account name that cannot be used, with why; None when all can."""
    for name in names:
        if name == SINGLE or not ACCOUNT_NAME.match(name):
            return f"account name '{name}' must be 1-32 lowercase letters, digits, '-' or '_' (and not '{SINGLE}')"
    return None
