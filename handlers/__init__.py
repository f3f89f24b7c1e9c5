"""Abilities: what the bot can do. Each module registers its actions, conditions and fields."""
