"""Persistence: SQLModel tables, one transaction per unit of work, migrations."""

from bot.store.database import Store, StoreError

__all__ = ["Store", "StoreError"]
