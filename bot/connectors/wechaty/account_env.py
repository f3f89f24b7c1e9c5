"""Where one account's Wechaty puppet service is and what lets it in: in a fleet each account has its own token
and usually its own endpoint (WECHATY_PUPPET_SERVICE_TOKEN_SHOP_A, ..._ENDPOINT_SHOP_A), and its own cache,
since two accounts on one machine must not share wechaty's files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.connectors.wechaty.link import ENDPOINT_ENV, TOKEN_ENV, ConnectorError
from bot.fleet.settings import env_name


@dataclass(frozen=True, slots=True)
class Puppet:
    endpoint: str
    token: str
    cache_dir: Path


def puppet_of(config: Config, env: Mapping[str, str], database: str | None) -> Puppet:
    """The token from the account's own variable, else the shop's; the endpoint from the account's variable, its
    `accounts:` entry, the shop's variable, then `wechaty.endpoint` (outside a fleet: the variable, then config)."""
    fleet = bool(config.accounts)
    token_names = [env_name(TOKEN_ENV, config.account), TOKEN_ENV] if fleet else [TOKEN_ENV]
    token = _first(env, token_names)
    if not token:
        names = " 或 ".join(token_names)
        raise ConnectorError(
            f"没有设置环境变量 {names}：请把{_whose(config)} Wechaty puppet 服务的 token 放进去再启动"
            f" / {' or '.join(token_names)} is not set: export{_whose(config, en=True)} Wechaty puppet service"
            " token in it"
        )
    entry = config.accounts.get(config.account)
    own = env_name(ENDPOINT_ENV, config.account)
    endpoint = (
        _first(env, [own])
        or (entry.endpoint.strip() if entry is not None else "")
        or _first(env, [ENDPOINT_ENV])
        or config.wechaty.endpoint.strip()
    )
    if not endpoint:
        where = f"accounts.{config.account}.endpoint 或环境变量 {own}" if fleet else "wechaty.endpoint"
        where_en = f"accounts.{config.account}.endpoint in config.yaml or {own}" if fleet else "wechaty.endpoint"
        raise ConnectorError(
            f"没有 Wechaty 服务地址：在 config.yaml 的 {where} 或环境变量 {ENDPOINT_ENV} 里写 host:port"
            f" / no Wechaty endpoint: set {where_en} or {ENDPOINT_ENV} (host:port)"
        )
    path = database or config.database_path
    data_dir = config.path("data") if path == ":memory:" or "://" in path else Path(path).parent
    cache = data_dir / (f".wechaty-{config.account}" if fleet else ".wechaty")
    return Puppet(endpoint, token, cache)


def _first(env: Mapping[str, str], names: list[str]) -> str:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return ""


def _whose(config: Config, *, en: bool = False) -> str:
    if not config.accounts:
        return ""
    return f" account {config.account}'s" if en else f"微信号 {config.account} 的"
