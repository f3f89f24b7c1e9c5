"""Persistence: SQLModel tables, one transaction per unit of work, migrations."""

from bot.store.database import DatabaseGone, Store, StoreError, unit_open

__all__ = ["DatabaseGone", "Store", "StoreError", "unit_open"]
