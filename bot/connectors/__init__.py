"""Connectors: the edge between a chat platform and the engine."""
