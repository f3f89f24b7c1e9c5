"""Which account a process runs, and that account's view of config.yaml: its puppet endpoint and its own
sending limits laid over the shop's (WeChat limits accounts, not shops)."""

from __future__ import annotations

from bot.config import Config
from bot.fleet.settings import SINGLE


class AccountError(Exception):
    """The account asked for cannot run: told to the operator as it is (Chinese / English)."""


def run_as(config: Config, name: str | None) -> Config:
    """The config of the process running account `name`. Outside a fleet (no `accounts:`) only no name, or
    'default', is possible; in a fleet with one account the name may be left out."""
    if not config.accounts:
        if name not in (None, SINGLE):
            raise AccountError(
                f"config.yaml 里没有 accounts，不能用 --account {name}"
                f" / no 'accounts:' in config.yaml for --account {name}"
            )
        return config.with_account(SINGLE)
    if name is None:
        if len(config.accounts) > 1:
            names = ", ".join(sorted(config.accounts))
            raise AccountError(f"请用 --account 指定要运行的微信号（{names}）/ choose one with --account: {names}")
        name = next(iter(config.accounts))
    entry = config.accounts.get(name)
    if entry is None:
        names = ", ".join(sorted(config.accounts))
        raise AccountError(f"config.yaml 的 accounts 里没有 {name}（有：{names}）/ no account '{name}' in config.yaml")
    sending = config.sending.model_copy(
        update={
            key: value
            for key, value in (("daily_limit", entry.daily_limit), ("per_minute", entry.per_minute))
            if value is not None
        }
    )
    wechaty = config.wechaty.model_copy(update={"endpoint": entry.endpoint}) if entry.endpoint else config.wechaty
    chosen = config.model_copy(update={"sending": sending, "wechaty": wechaty})
    return chosen.with_account(name, shop=config.shop)
