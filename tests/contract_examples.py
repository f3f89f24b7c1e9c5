"""The YAML examples of the language contract, for the tests that hold us to them.

The contract lives in ../shared/PLAYBOOKS.md beside the repository (moderation's in ../shared/MODERATION.md);
`tests/contract/` holds copies so that a clone alone runs these tests (test_contract.py checks they are current).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.playbook.model import TOP_KEYS
from bot.registry import Registry

CONTRACT = Path(__file__).resolve().parent / "contract" / "PLAYBOOKS.md"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "PLAYBOOKS.md"
MODERATION = CONTRACT.with_name("MODERATION.md")
SHARED_MODERATION = SHARED.with_name("MODERATION.md")


def blocks(document: Path = CONTRACT) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", document.read_text("utf-8"), re.S)


def playbooks(document: Path = CONTRACT) -> list[str]:
    """The YAML blocks of a markdown document that are whole playbooks (they have an `id`)."""
    return [b for b in blocks(document) if re.search(r"^id:", b, re.M)]


def scenarios() -> list[str]:
    return [b for b in blocks() if re.search(r"^steps:", b, re.M)]


def uses_only_registered(data: Any, registry: Registry) -> bool:
    """Whether a parsed playbook needs only abilities this version has (later issues add the others)."""
    tables = {"when": registry.triggers, "if": registry.conditions, "do": registry.actions}

    def items(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [] if value is None else [value]

    def known(key: str, value: Any) -> bool:
        for item in items(value):
            if not isinstance(item, dict):
                return False
            if key == "do" and "choose" in item:
                for branch in item["choose"]:
                    if not all(known(k, v) for k, v in branch.items() if k in ("if", "do")):
                        return False
                    if "else" in branch and not known("do", branch["else"]):
                        return False
            else:
                named = set(item) & set(tables[key])
                if not named or not known("do", item.get("for_each", {}).get("do")):
                    return False
                if not all(options_known(tables[key][name], item[name]) for name in named):
                    return False
        return True

    def options_known(spec: Any, params: Any) -> bool:
        """A later issue may add an option to an ability this version has (`message: {has: [...]}`)."""
        if not isinstance(params, dict):
            return True
        fields = spec.schema.model_fields
        return set(params) <= {*fields, *(f.alias for f in fields.values() if f.alias), spec.body}

    return set(data) <= {*TOP_KEYS, *registry.resources} and all(known(k, data.get(k)) for k in tables)
