"""The connector contract suite runs the wechaty connector against the session's Node gateway."""

import pytest
from wechaty_gateway import gateway

__all__ = ["gateway"]  # the session's gateway fixture (tests/wechaty_gateway.py), shared with tests/integration


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*abilities): a connector contract case for the platforms that can")
