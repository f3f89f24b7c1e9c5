"""The Chinese catalog, one module per area: MESSAGES maps English patterns to Chinese (syntax in
bot/i18n/patterns.py), TERMS the words placeholders are filled with. A key belongs to one module only
(tests/test_i18n.py checks)."""

from bot.i18n.zh_cn import files, libraries, operator, playbooks, transfer, values

AREAS = (files, playbooks, values, libraries, operator, transfer)
CATALOG: dict[str, str] = {english: chinese for area in AREAS for english, chinese in area.MESSAGES.items()}
TERMS: dict[str, str] = {english: chinese for area in AREAS for english, chinese in getattr(area, "TERMS", {}).items()}
