"""config.yaml's `privacy:` section: how long what members typed is kept (bot/store/housekeeping.py blanks it
after that; `qunguan forget` erases one member at once, bot/forget.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.playbook.types import Duration, Params
from bot.registry import config_section


@config_section("privacy")
class PrivacySection(Params):
    """`privacy: {keep_texts: 30d}`: message texts older than this are blanked; their rows (counts, audit) stay."""

    keep_texts: Duration = timedelta(days=30)
