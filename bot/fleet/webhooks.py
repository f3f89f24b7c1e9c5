"""Alerts outside WeChat: an HTTP POST to each group robot in config.yaml's `alerts.webhooks` (企业微信, 钉钉,
飞书, or plain JSON), since an alert sent over WeChat cannot say that WeChat is down.

A robot's address holds its key, so it comes only from the environment variable the config names, and it is
never logged: a failure is logged with the variable's name instead. A robot that is down costs a few retries
(through the Clock) and a warning; the bot goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from bot import logs
from bot.clock import Clock
from bot.fleet.settings import Webhook

log = logging.getLogger("qunguan.fleet.webhooks")

TIMEOUT = 5.0  # seconds for one POST: a robot slower than this is as good as down
ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the second attempt, doubled before each next one
KEY_LENGTH = 16  # a last path part this long is a robot's key (飞书: /open-apis/bot/v2/hook/<uuid>)


@dataclass(frozen=True)
class Alert:
    """One alert about one account: `status` is logged_out | refused | silent | recovered; `text` as staff read it."""

    account: str
    status: str
    reason: str
    at: datetime
    text: str


def payload(format: str, alert: Alert) -> dict[str, Any]:
    """The JSON body each kind of group robot expects for a plain text message."""
    if format in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": alert.text}}
    if format == "feishu":
        return {"msg_type": "text", "content": {"text": alert.text}}
    return {
        "account": alert.account,
        "status": alert.status,
        "reason": alert.reason,
        "at": alert.at.isoformat(),
        "text": alert.text,
    }


@dataclass(frozen=True)
class Target:
    format: str
    url_env: str  # what the logs name instead of the address
    url: str


class Webhooks:
    """The robots whose address is set; each missing variable is one warning when the process starts."""

    def __init__(self, hooks: list[Webhook], clock: Clock, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.clock = clock
        self.targets: list[Target] = []
        for hook in hooks:
            url = env.get(hook.url_env, "").strip()
            if url:
                self.targets.append(Target(hook.format, hook.url_env, url))
                _mask(url)
            else:
                log.warning(
                    "alerts.webhooks: environment variable %s is not set; the %s robot gets no alerts",
                    hook.url_env,
                    hook.format,
                )

    async def send(self, alert: Alert) -> int:
        """POST the alert to every robot; returns how many took it. Never raises."""
        if not self.targets:
            return 0
        taken = 0
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            for target in self.targets:
                taken += await self._post(client, target, alert)
        return taken

    async def _post(self, client: httpx.AsyncClient, target: Target, alert: Alert) -> bool:
        body = payload(target.format, alert)
        why = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                await self.clock.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                response = await client.post(target.url, json=body)
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {_without(str(exc), target)}"
                continue
            if response.status_code >= 400:
                why = f"HTTP {response.status_code}"
                continue
            refused = _refusal(response)
            if refused:  # the robot answered and said no (a wrong key, a keyword rule): trying again will not help
                why = refused
                break
            return True
        log.warning(
            "alert about account %s not delivered to the %s robot at $%s: %s",
            alert.account,
            target.format,
            target.url_env,
            why,
        )
        return False


def _refusal(response: httpx.Response) -> str:
    """企业微信 and 钉钉 answer {"errcode": 0}, 飞书 {"code": 0}: anything else is the robot refusing the message."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    code = answer.get("errcode", answer.get("code", 0))
    if code in (0, None):
        return ""
    return f"refused ({code}: {str(answer.get('errmsg') or answer.get('msg') or '')[:200]})"


def _mask(url: str) -> None:
    """The address as any log line may carry it (httpx logs each request's): whole, normalised, and the key in
    it alone (企业微信 and 钉钉 keep it in the query, 飞书 as the last part of the path)."""
    logs.add_secret(url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return
    logs.add_secret(str(parsed))
    logs.add_secret(parsed.query.decode("ascii"))
    last = parsed.path.rstrip("/").rpartition("/")[2]
    if len(last) >= KEY_LENGTH:
        logs.add_secret(last)


def _without(text: str, target: Target) -> str:
    """An error message with the address (and so the key) replaced by its variable's name."""
    return text.replace(target.url, f"${target.url_env}")
