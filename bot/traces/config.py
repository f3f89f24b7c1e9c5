"""config.yaml's `traces:` section: how many traces the console keeps (bot/store/housekeeping.py prunes the rest)."""

from __future__ import annotations

from pydantic import Field

from bot.playbook.types import Params
from bot.registry import config_section

KEEP = 200


@config_section("traces")
class TracesSection(Params):
    """`traces: {keep: 200}`: the newest traces kept per playbook (and per staff command, moderation rule, window);
    older ones are deleted by the housekeeping pass. Their message texts go sooner, after `privacy.keep_texts`."""

    keep: int = Field(KEEP, ge=1, le=100_000)
